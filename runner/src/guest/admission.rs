//! Admission: a place among the running instances, or in the bounded queue
//! before them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use crate::ops::metrics::Refused;

/// Slots for running instances, and a bounded queue for requests waiting for
/// one: a burst waits its turn instead of failing, and only a burst beyond the
/// queue is turned away.
pub struct Admission {
    slots: Arc<Semaphore>,
    queued: AtomicU32,
    max_queue: u32,
    max_concurrent: usize,
}

impl Admission {
    pub fn new(max_concurrent: u32, max_queue: u32) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(max_concurrent as usize)),
            queued: AtomicU32::new(0),
            max_queue,
            max_concurrent: max_concurrent as usize,
        }
    }

    /// Slots taken now.
    pub fn busy(&self) -> u32 {
        (self.max_concurrent - self.slots.available_permits()) as u32
    }

    /// Requests waiting for a slot now.
    pub fn queued(&self) -> u32 {
        self.queued.load(Ordering::Relaxed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_queue_holds_a_burst_and_refuses_beyond_it() {
        let admission = Arc::new(Admission::new(1, 1));
        let first = admission.admit(Duration::from_secs(5)).await.unwrap();
        assert_eq!((admission.busy(), admission.queued()), (1, 0));
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(Duration::from_secs(5)).await }
        });
        tokio::task::yield_now().await;
        assert_eq!(admission.queued(), 1);
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
}
