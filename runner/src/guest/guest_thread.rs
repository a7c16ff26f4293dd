//! Where a guest runs: a thread of tokio's blocking pool of its own, which
//! drives the guest's future there (`Handle::block_on`) until it is done,
//! while the runtime's worker threads go on driving I/O and timers.
//!
//! Why: a guest's filesystem calls run on the thread that runs the guest
//! (`allow_blocking_current_thread`, no hop to another thread per call: the
//! board's page does about a hundred). On a worker thread, one call that
//! hangs (a FIFO a custom guest opens, a dead network filesystem) would
//! stall every connection that worker serves; on a thread of its own it
//! stalls its own request only. The pool has a thread for each instance
//! that may run (`--max-concurrent`, see `cli::run`).

use std::future::Future;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A guest running on its own thread.
pub struct GuestThread<T> {
    task: JoinHandle<Option<T>>,
    stop: Arc<Notify>,
}

/// Runs `guest` on a blocking-pool thread of the current runtime.
pub fn spawn<T: Send + 'static>(guest: impl Future<Output = T> + Send + 'static) -> GuestThread<T> {
    let runtime = tokio::runtime::Handle::current();
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let task = tokio::task::spawn_blocking(move || {
        runtime.block_on(async move {
            tokio::select! {
                biased;
                () = stopped.notified() => None,
                done = guest => Some(done),
            }
        })
    });
    GuestThread { task, stop }
}

impl<T> GuestThread<T> {
    /// Stops the guest at its next wait (a call into the host that is not
    /// ready): its future is dropped there, the instance with it.
    pub fn abort(&self) {
        self.stop.notify_one();
    }

    /// What the guest ended with.
    pub async fn join(self) -> anyhow::Result<T> {
        match self.task.await? {
            Some(done) => Ok(done),
            None => Err(anyhow::anyhow!("the guest was stopped")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Guests blocking their threads (more of them than there are worker
    /// threads) leave the workers free for everything else.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_blocked_guest_stalls_no_worker() {
        let blocked: Vec<_> = (0..3)
            .map(|_| spawn(async { std::thread::sleep(Duration::from_secs(2)) }))
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let on_a_worker = tokio::spawn(async { 42 });
        assert_eq!(on_a_worker.await.unwrap(), 42);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        for guest in blocked {
            guest.join().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_stopped_guest_ends_at_its_next_wait() {
        let guest = spawn(std::future::pending::<()>());
        guest.abort();
        let joined = tokio::time::timeout(Duration::from_secs(5), guest.join()).await;
        assert!(joined.expect("it ended").is_err());
        let timers_work = spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            7
        });
        assert_eq!(timers_work.join().await.unwrap(), 7);
    }
}
