//! Idle connections: a connection with no request in flight for the idle
//! timeout is closed (HTTP/2 with a GOAWAY). hyper has no such timeout for
//! HTTP/2, where a client may otherwise hold a connection open for ever.

use crate::filters::observed::FrameObserver;
use crate::guest::progress::Progress;
use bytes::Bytes;
use http_body::Frame;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What one connection is doing: how many requests it has in flight, and
/// when the last one ended (or the connection opened).
pub struct Activity {
    in_flight: AtomicUsize,
    quiet_since: Progress,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            quiet_since: Progress::new(),
        })
    }

    /// A request has started; it ends when the returned guard is dropped
    /// (with the response body, once that is sent or abandoned).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Completes once the connection has had no request in flight for
    /// `timeout`.
    pub async fn idle(&self, timeout: Duration) {
        loop {
            // Nothing ended for `timeout`...
            self.quiet_since
                .watch(timeout, std::future::pending::<()>())
                .await;
            // ...and nothing is running: idle. Otherwise look again later;
            // the request's end restarts the clock.
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(timeout).await;
        }
    }
}

/// A request in flight on a connection; carried by its response body.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.quiet_since.mark();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FrameObserver for InFlight {
    fn observe<E>(&mut self, _frame: &Option<Result<Frame<Bytes>, E>>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const TIMEOUT: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn idle_after_the_timeout_without_requests() {
        let activity = Activity::new();
        let started = Instant::now();
        activity.idle(TIMEOUT).await;
        assert!(started.elapsed() >= TIMEOUT - Duration::from_millis(20));
    }

    #[tokio::test]
    async fn not_idle_while_a_request_is_in_flight() {
        let activity = Activity::new();
        let request = activity.begin();
        let waited = tokio::time::timeout(TIMEOUT * 3, activity.idle(TIMEOUT)).await;
        assert!(waited.is_err(), "idle with a request in flight");
        drop(request);
        let started = Instant::now();
        activity.idle(TIMEOUT).await;
        // Counted from the end of the request, not the start of the connection.
        assert!(started.elapsed() >= TIMEOUT - Duration::from_millis(20));
    }
}
