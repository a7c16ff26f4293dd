//! Progress: when a request last moved, and the watch that drops a guest
//! that goes too long without moving.

use crate::filters::observed::FrameObserver;
use crate::filters::observed::Observed;
use bytes::Bytes;
use http_body::Frame;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

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

    /// When the request last moved.
    pub fn last(&self) -> Instant {
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
}
