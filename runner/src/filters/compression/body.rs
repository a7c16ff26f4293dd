//! A response body on its way out: as the component sent it, or streamed
//! through an encoder (async-compression's), in pieces, never whole.

use super::{BoxError, Coding};
use async_compression::Level;
use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZstdEncoder};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncRead;
use tokio_util::io::{ReaderStream, StreamReader};

/// The level to compress with as the response goes out: zstd's and gzip's
/// defaults; brotli's default (11) is for ahead of time, 4 is its usual
/// on-the-fly level (about gzip's size, faster).
fn level(coding: Coding) -> Level {
    match coding {
        Coding::Zstd => Level::Precise(3),
        Coding::Brotli => Level::Precise(4),
        Coding::Gzip => Level::Precise(6),
    }
}

/// zstd's and brotli's window, as a power of two: 512 KiB, more than a page
/// needs. Their defaults (2 MiB, 4 MiB) cost each response in flight as much
/// memory (brotli's: ~12 MiB an encoder, 400 MiB at 32 at once).
const WINDOW_LOG: u32 = 19;

/// The compressed bytes, read in pieces of this size.
const PIECE: usize = 16 << 10;

type Encoder = Pin<Box<dyn AsyncRead + Send>>;

pin_project! {
    /// A response body as the component sent it, or through an encoder.
    #[project = CompressedProjection]
    pub enum Compressed<B> {
        Identity { #[pin] body: B },
        Encoded { #[pin] stream: ReaderStream<Encoder> },
    }
}

impl<B> Compressed<B>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    pub fn identity(body: B) -> Self {
        Compressed::Identity { body }
    }

    /// `length`, when known, lets brotli size its buffers to the body.
    pub(super) fn encoded(body: B, coding: Coding, length: Option<u64>) -> Self {
        use futures_util::TryStreamExt;
        let data = body
            .into_data_stream()
            .map_err(|error| std::io::Error::other(error.into()));
        let reader = StreamReader::new(data);
        let level = level(coding);
        let encoder: Encoder = match coding {
            Coding::Zstd => {
                let window = [async_compression::zstd::CParameter::window_log(WINDOW_LOG)];
                Box::pin(ZstdEncoder::with_quality_and_params(reader, level, &window))
            }
            Coding::Brotli => {
                let params = (async_compression::brotli::EncoderParams::default())
                    .quality(level)
                    .window_size(WINDOW_LOG as i32);
                let params = match length {
                    Some(length) => params.size_hint(length.try_into().unwrap_or(usize::MAX)),
                    None => params,
                };
                Box::pin(BrotliEncoder::with_params(reader, params))
            }
            Coding::Gzip => Box::pin(GzipEncoder::with_quality(reader, level)),
        };
        Compressed::Encoded {
            stream: ReaderStream::with_capacity(encoder, PIECE),
        }
    }
}

impl<B> Body for Compressed<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            CompressedProjection::Identity { body } => body.poll_frame(cx).map_err(Into::into),
            CompressedProjection::Encoded { stream } => {
                use futures_util::Stream;
                (stream.poll_next(cx))
                    .map(|piece| piece.map(|r| r.map(Frame::data).map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Compressed::Identity { body } => body.is_end_stream(),
            Compressed::Encoded { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Compressed::Identity { body } => body.size_hint(),
            Compressed::Encoded { .. } => SizeHint::default(),
        }
    }
}
