//! LimitedBody: a request body that stops at the size limit and marks
//! progress as it is read.

use crate::guest::progress::Progress;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::sync::Notify;

pin_project! {
    /// A request body that marks progress as it is read and fails once it
    /// has yielded more than `limit` bytes, telling `exceeded`.
    pub struct LimitedBody<B> {
        #[pin]
        inner: B,
        remaining: u64,
        progress: Progress,
        exceeded: Arc<Notify>,
    }
}

impl<B> LimitedBody<B> {
    pub fn new(inner: B, limit: u64, progress: Progress, exceeded: Arc<Notify>) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            progress,
            exceeded,
        }
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let frame = match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
            None => return Poll::Ready(None),
        };
        this.progress.mark();
        if let Some(data) = frame.data_ref() {
            let length = data.len() as u64;
            if length > *this.remaining {
                this.exceeded.notify_one();
                let error = wasmtime_wasi_http::Error::HttpRequestBodySize(None);
                return Poll::Ready(Some(Err(error)));
            }
            *this.remaining -= length;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    #[tokio::test]
    async fn a_body_over_the_limit_fails_and_says_so() {
        let chunks = ["12345", "67890"].map(|c| Ok::<_, hyper::Error>(Frame::data(Bytes::from(c))));
        let body = StreamBody::new(futures_util::stream::iter(chunks));
        let exceeded = Arc::new(Notify::new());
        let limited = LimitedBody::new(body, 8, Progress::new(), exceeded.clone());
        assert!(limited.collect().await.is_err());
        exceeded.notified().await;

        let exact = Full::new(Bytes::from_static(b"12345678"));
        let limited = LimitedBody::new(exact, 8, Progress::new(), Arc::new(Notify::new()));
        assert_eq!(limited.collect().await.unwrap().to_bytes().len(), 8);
    }
}
