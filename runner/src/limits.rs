//! What a request may take: a place among the running instances (or in the
//! queue before them), a request body of bounded size, and a guest that keeps
//! making progress.

use crate::observed::{FrameObserver, Observed};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Slots for running instances, and a bounded queue for requests waiting for
/// one: a burst waits its turn instead of failing, and only a burst beyond the
/// queue is turned away.
pub struct Admission {
    slots: Arc<Semaphore>,
    queued: AtomicU32,
    max_queue: u32,
}

/// Why a request got no slot.
#[derive(Debug)]
pub enum Refused {
    /// The queue was full.
    QueueFull,
    /// It waited in the queue as long as a request may.
    Waited,
}

impl Admission {
    pub fn new(max_concurrent: u32, max_queue: u32) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(max_concurrent as usize)),
            queued: AtomicU32::new(0),
            max_queue,
        }
    }

    /// A slot, at once or after waiting at most `patience` in the queue.
    pub async fn admit(&self, patience: Duration) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::QueueFull);
        }
        let waited = tokio::time::timeout(patience, self.slots.clone().acquire_owned()).await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(slot)) => Ok(slot),
            // The semaphore is never closed; a timeout is the only way here.
            _ => Err(Refused::Waited),
        }
    }
}

/// When a request last moved: its guest answered, read a piece of the
/// request body or wrote a piece of the response's.
#[derive(Clone)]
pub struct Progress(Arc<ProgressClock>);

struct ProgressClock {
    start: Instant,
    /// Milliseconds from `start` to the last progress.
    last: AtomicU64,
}

impl Progress {
    pub fn new() -> Progress {
        Progress(Arc::new(ProgressClock {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }))
    }

    pub fn mark(&self) {
        let now = self.0.start.elapsed().as_millis() as u64;
        self.0.last.store(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.0.start + Duration::from_millis(self.0.last.load(Ordering::Relaxed))
    }

    /// Runs `work` as long as it never goes `idle` without progress; `None`
    /// if it did (and `work` is dropped, which for a guest ends its instance).
    pub async fn watch<F: Future>(&self, idle: Duration, work: F) -> Option<F::Output> {
        let mut work = pin!(work);
        loop {
            let deadline = self.last() + idle;
            tokio::select! {
                biased;
                output = &mut work => return Some(output),
                () = tokio::time::sleep_until(deadline) => {
                    if self.last() + idle <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

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

/// A response body that marks progress with every piece it yields.
pub type ProgressBody<B> = Observed<B, Progress>;

impl FrameObserver for Progress {
    fn observe<E>(&mut self, frame: &Option<Result<Frame<Bytes>, E>>) {
        if let Some(Ok(_)) = frame {
            self.mark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    #[tokio::test(start_paused = true)]
    async fn the_queue_holds_a_burst_and_refuses_beyond_it() {
        let admission = Arc::new(Admission::new(1, 1));
        let first = admission.admit(Duration::from_secs(5)).await.unwrap();
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(Duration::from_secs(5)).await }
        });
        tokio::task::yield_now().await;
        let third = admission.admit(Duration::from_secs(5)).await;
        assert!(matches!(third, Err(Refused::QueueFull)));
        drop(first);
        assert!(waiting.await.unwrap().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_too_long_is_refused() {
        let admission = Admission::new(1, 10);
        let _held = admission.admit(Duration::ZERO).await.unwrap();
        let late = admission.admit(Duration::from_secs(1)).await;
        assert!(matches!(late, Err(Refused::Waited)));
        assert_eq!(admission.queued.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn work_is_dropped_only_after_going_idle() {
        let progress = Progress::new();
        let idle = Duration::from_secs(1);
        let busy = {
            let progress = progress.clone();
            async move {
                for _ in 0..5 {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    progress.mark();
                }
                "done"
            }
        };
        assert_eq!(progress.watch(idle, busy).await, Some("done"));
        let stuck = tokio::time::sleep(Duration::from_secs(3600));
        assert_eq!(progress.watch(idle, stuck).await, None);
    }

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
