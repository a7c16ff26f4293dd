//! A body wrapper that shows every frame it passes on to an observer: how the
//! access log counts the bytes sent and the request deadline sees progress.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pub trait FrameObserver {
    /// Sees each poll result that is ready: a frame, an error, or the end.
    fn observe<E>(&mut self, frame: &Option<Result<Frame<Bytes>, E>>);
}

pin_project! {
    pub struct Observed<B, O> {
        #[pin]
        inner: B,
        observer: O,
    }
}

impl<B, O> Observed<B, O> {
    pub fn new(inner: B, observer: O) -> Self {
        Observed { inner, observer }
    }
}

impl<B: Body<Data = Bytes>, O: FrameObserver> Body for Observed<B, O> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        this.observer.observe(&frame);
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
