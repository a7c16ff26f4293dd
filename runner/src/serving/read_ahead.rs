//! Read-ahead: a request body's first `READ_AHEAD` bytes (all of a small
//! one, like a board post) read before an instance is taken, so a client
//! that trickles its body holds a connection, never an instance. A larger
//! body streams on into the guest after them.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The most read ahead (also never more than `--max-body`).
pub const READ_AHEAD: u64 = 64 << 10;

/// Why a body could not be read ahead.
#[derive(Debug)]
pub enum Unread<E> {
    /// More than the limit on bodies.
    TooLarge,
    /// No byte came for the patience given.
    TimedOut,
    /// The client's body broke off (a reset stream, a bad chunk).
    Broken(E),
}

pin_project! {
    /// What was read ahead, then the rest of the body.
    pub struct ReadAhead<B> {
        read: VecDeque<Frame<Bytes>>,
        #[pin]
        rest: Option<B>,
    }
}

/// Reads `body` until it ends or `READ_AHEAD` (or `max_body`) bytes have
/// come, waiting at most `patience` for each piece. A body declared larger
/// is not read ahead.
pub async fn read_ahead<B>(
    mut body: B,
    max_body: u64,
    patience: Duration,
) -> Result<ReadAhead<B>, Unread<B::Error>>
where
    B: Body<Data = Bytes> + Unpin,
{
    let limit = READ_AHEAD.min(max_body);
    let mut read = VecDeque::new();
    if body.size_hint().lower() > limit {
        return Ok(ReadAhead {
            read,
            rest: Some(body),
        });
    }
    let mut length = 0;
    while length <= limit && !body.is_end_stream() {
        let frame = match tokio::time::timeout(patience, body.frame()).await {
            Err(_) => return Err(Unread::TimedOut),
            Ok(None) => {
                return Ok(ReadAhead { read, rest: None });
            }
            Ok(Some(Err(error))) => return Err(Unread::Broken(error)),
            Ok(Some(Ok(frame))) => frame,
        };
        length += frame.data_ref().map_or(0, |data| data.len() as u64);
        if length > max_body {
            return Err(Unread::TooLarge);
        }
        read.push_back(frame);
    }
    Ok(ReadAhead {
        read,
        rest: Some(body),
    })
}

impl<B: Body<Data = Bytes>> Body for ReadAhead<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        if let Some(frame) = this.read.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        match this.rest.as_pin_mut() {
            Some(rest) => rest.poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.read.is_empty() && self.rest.as_ref().is_none_or(B::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let read: u64 = (self.read.iter())
            .filter_map(|frame| frame.data_ref())
            .map(|data| data.len() as u64)
            .sum();
        let rest = self
            .rest
            .as_ref()
            .map(B::size_hint)
            .unwrap_or(SizeHint::with_exact(0));
        let mut hint = SizeHint::new();
        hint.set_lower(read + rest.lower());
        if let Some(upper) = rest.upper() {
            hint.set_upper(read + upper);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};
    use std::convert::Infallible;

    fn chunks(pieces: Vec<Bytes>) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let frames = pieces.into_iter().map(|piece| Ok(Frame::data(piece)));
        StreamBody::new(futures_util::stream::iter(frames))
    }

    async fn collect<B: Body<Data = Bytes>>(body: B) -> Bytes
    where
        B::Error: std::fmt::Debug,
    {
        body.collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn a_small_body_is_read_whole_and_passed_on_as_it_came() {
        let body = chunks(vec![Bytes::from("name=a"), Bytes::from("&text=b")]);
        let ahead = read_ahead(body, 1 << 20, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(ahead.read.len(), 2);
        assert!(ahead.rest.is_none(), "the body's end was read");
        assert_eq!(ahead.size_hint().exact(), Some(13));
        assert_eq!(collect(ahead).await, "name=a&text=b");
    }

    #[tokio::test]
    async fn a_large_body_streams_on_after_what_was_read_ahead() {
        let piece = Bytes::from(vec![b'x'; 40 << 10]);
        let body = chunks(vec![piece.clone(), piece.clone(), piece.clone()]);
        let ahead = read_ahead(body, 1 << 20, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(ahead.read.len(), 2, "read until past READ_AHEAD");
        assert_eq!(collect(ahead).await.len(), 120 << 10);

        let declared = Full::new(Bytes::from(vec![b'x'; 100 << 10]));
        let ahead = read_ahead(declared, 1 << 20, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(ahead.read.is_empty(), "declared larger: not read ahead");
        assert_eq!(collect(ahead).await.len(), 100 << 10);
    }

    #[tokio::test]
    async fn over_max_body_is_too_large() {
        let body = chunks(vec![Bytes::from("12345"), Bytes::from("67890")]);
        let unread = read_ahead(body, 8, Duration::from_secs(1)).await;
        assert!(matches!(unread, Err(Unread::TooLarge)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_coming_times_out() {
        let first =
            futures_util::stream::iter([Ok::<_, Infallible>(Frame::data(Bytes::from("a")))]);
        let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
        let unread = read_ahead(StreamBody::new(stalled), 1 << 20, Duration::from_secs(5)).await;
        assert!(matches!(unread, Err(Unread::TimedOut)));
    }
}
