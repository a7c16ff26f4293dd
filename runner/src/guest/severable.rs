//! A response body its instance can cut off from its own side. In a shared
//! instance (`shared`) one request that goes too long without progress (a
//! client that stopped reading) cannot be ended by dropping the instance, as
//! the others in it are fine: its body is dropped where the guest writes it
//! (closing the guest's stream, so its task ends), and the connection sees
//! an error at its next read and is cut, never a short body taken as whole.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use tokio::sync::Notify;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The body as the connection reads it.
pub struct Severable(Arc<Shared>);

/// The instance's side: waits for the body's end, or cuts it.
pub struct Severer(Arc<Shared>);

struct Shared {
    /// `None` once cut.
    body: Mutex<Option<HyperOutgoingBody>>,
    /// Read to its end, or dropped by the connection.
    ended: Notify,
    /// Read to its end.
    finished: AtomicBool,
}

pub fn severable(body: HyperOutgoingBody) -> (Severable, Severer) {
    let shared = Arc::new(Shared {
        body: Mutex::new(Some(body)),
        ended: Notify::new(),
        finished: AtomicBool::new(false),
    });
    (Severable(shared.clone()), Severer(shared))
}

impl Severer {
    /// Until the connection has read the body to its end or dropped it.
    pub async fn ended(&self) {
        self.0.ended.notified().await;
    }

    /// Drops the body here, so the guest's stream closes (as dropping the
    /// severer does).
    pub fn cut(self) {}
}

/// The instance's side gone before the body's end (its request given up,
/// or the instance dropped): the connection must see an error, never an end
/// that looks whole.
impl Drop for Severer {
    fn drop(&mut self) {
        if !self.0.finished.load(Ordering::Acquire) {
            drop(self.0.body.lock().expect("not poisoned").take());
        }
    }
}

impl Body for Severable {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut body = self.0.body.lock().expect("not poisoned");
        let Some(inner) = body.as_mut() else {
            return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseTimeout)));
        };
        let frame = ready!(Pin::new(inner).poll_frame(cx));
        if frame.is_none() {
            self.0.finished.store(true, Ordering::Release);
            // `notify_one` keeps the wake-up for a waiter that comes later.
            self.0.ended.notify_one();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        let body = self.0.body.lock().expect("not poisoned");
        body.as_ref().is_some_and(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let body = self.0.body.lock().expect("not poisoned");
        body.as_ref().map(Body::size_hint).unwrap_or_default()
    }
}

impl Drop for Severable {
    fn drop(&mut self) {
        self.0.ended.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, Full, StreamBody};
    use std::time::Duration;

    fn boxed(text: &'static str) -> HyperOutgoingBody {
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_says_so() {
        let (body, severer) = severable(boxed("hello"));
        let read = tokio::spawn(async move { body.collect().await.unwrap().to_bytes() });
        severer.ended().await;
        drop(severer);
        assert_eq!(read.await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn a_severer_dropped_before_the_end_cuts_the_body() {
        let (mut body, severer) = severable(boxed("hello"));
        drop(severer);
        assert!(body.frame().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_dropped_body_ends_too() {
        let (body, severer) = severable(boxed("hello"));
        drop(body);
        tokio::time::timeout(Duration::from_secs(5), severer.ended())
            .await
            .expect("ended");
    }

    #[tokio::test]
    async fn a_cut_body_drops_the_guests_side_and_fails_the_connections() {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let frame: Frame<Bytes> = receiver.recv().await?;
            Some((Ok(frame), receiver))
        });
        let (mut body, severer) = severable(StreamBody::new(frames).boxed_unsync());
        sender.send(Frame::data(Bytes::from("a"))).await.unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "a");
        severer.cut();
        assert!(sender.is_closed(), "the guest's side is dropped");
        assert!(body.frame().await.unwrap().is_err());
    }
}
