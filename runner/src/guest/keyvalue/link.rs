//! The one connection to Redis that every board call shares, kept usable:
//! a connection whose call timed out or failed at the socket (a failover, a
//! half-open socket after a partition, a demoted primary) is dropped and
//! replaced; reconnecting is one attempt at a time, with back-off between
//! failed attempts, during which calls fail at once instead of piling up on
//! a Redis that does not answer. A refused login is an attempt that failed
//! like any other, so fixing Redis's password brings the board back without
//! a restart.

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use redis::aio::MultiplexedConnection;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The first back-off after a failed reconnect; it doubles per failure...
const FIRST_BACK_OFF: Duration = Duration::from_millis(100);
/// ...up to this, so the board is back within about this long of Redis.
pub const MAX_BACK_OFF: Duration = Duration::from_secs(2);

/// How long to wait before the next connection attempt after `failures`
/// consecutive failures (calls or attempts) since a call last worked: the
/// first failure of a working connection is retried at once.
pub fn back_off(failures: u32) -> Duration {
    match failures {
        0 | 1 => Duration::ZERO,
        n => FIRST_BACK_OFF
            .saturating_mul(1 << (n - 2).min(16))
            .min(MAX_BACK_OFF),
    }
}

/// A connection and its number (to tell whether a failed call's connection
/// is still the current one).
type Numbered = (MultiplexedConnection, u64);
type Attempt = Shared<BoxFuture<'static, Result<Numbered, String>>>;

pub struct Link {
    client: redis::Client,
    config: redis::AsyncConnectionConfig,
    /// The bound of one connection attempt (TCP, TLS, login).
    timeout: Duration,
    state: Mutex<State>,
}

struct State {
    phase: Phase,
    /// Connections made so far.
    made: u64,
    /// Failed calls and attempts since a call last worked.
    failures: u32,
    /// Whether the log has said that Redis is unreachable (said once per
    /// outage, not once per attempt).
    said_down: bool,
}

enum Phase {
    Up(Numbered),
    /// The one attempt under way: callers wait for it (it is bounded).
    Connecting(Attempt),
    /// No connection; the next attempt is made by a call after `retry_at`.
    Down {
        retry_at: Instant,
        error: String,
    },
}

impl Link {
    pub fn new(
        client: redis::Client,
        config: redis::AsyncConnectionConfig,
        timeout: Duration,
    ) -> Link {
        Link {
            client,
            config,
            timeout,
            state: Mutex::new(State {
                phase: Phase::Down {
                    retry_at: Instant::now(),
                    error: "not connected yet".to_owned(),
                },
                made: 0,
                failures: 0,
                said_down: false,
            }),
        }
    }

    /// The current connection and its number, connecting if it is time to;
    /// during back-off, why Redis is unavailable, at once.
    pub async fn connection(self: &Arc<Self>) -> Result<Numbered, String> {
        let attempt = {
            let mut state = self.state.lock().unwrap();
            match &state.phase {
                Phase::Up(numbered) => return Ok(numbered.clone()),
                Phase::Connecting(attempt) => attempt.clone(),
                Phase::Down { retry_at, error } if Instant::now() < *retry_at => {
                    return Err(format!("redis: no connection ({error}); retrying soon"));
                }
                Phase::Down { .. } => {
                    let attempt = self.clone().attempt();
                    state.phase = Phase::Connecting(attempt.clone());
                    attempt
                }
            }
        };
        attempt.await
    }

    /// One connection attempt, run on its own task so it completes (and
    /// records its outcome) even if every caller waiting for it is gone.
    fn attempt(self: Arc<Self>) -> Attempt {
        let task = tokio::spawn(async move {
            let connecting = self
                .client
                .get_multiplexed_async_connection_with_config(&self.config);
            let outcome = match tokio::time::timeout(self.timeout, connecting).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("no connection within {:?}", self.timeout)),
            };
            self.attempted(outcome)
        });
        task.map(|joined| joined.unwrap_or_else(|error| Err(format!("redis: {error}"))))
            .boxed()
            .shared()
    }

    fn attempted(
        &self,
        outcome: Result<MultiplexedConnection, String>,
    ) -> Result<Numbered, String> {
        let mut state = self.state.lock().unwrap();
        match outcome {
            Ok(connection) => {
                state.made += 1;
                if state.said_down {
                    state.said_down = false;
                    tracing::info!("board: connected to Redis again");
                }
                let numbered = (connection, state.made);
                state.phase = Phase::Up(numbered.clone());
                Ok(numbered)
            }
            Err(error) => {
                if !state.said_down {
                    state.said_down = true;
                    tracing::warn!(
                        "board: no connection to Redis ({error}); board requests get 503, \
                         reconnecting with back-off (at most {MAX_BACK_OFF:?} apart)"
                    );
                } else {
                    tracing::debug!("board: no connection to Redis ({error})");
                }
                state.down(error.clone());
                Err(format!("redis: {error}"))
            }
        }
    }

    /// A call worked: the next failure is retried at once again.
    pub fn worked(&self) {
        let mut state = self.state.lock().unwrap();
        state.failures = 0;
    }

    /// A call on connection `number` failed: unless `broken` (it timed out,
    /// or its socket or role says the connection is done), the connection
    /// stays; else it is dropped, and the next call after the back-off
    /// makes a new one.
    pub fn failed(&self, number: u64, broken: bool, error: &str) {
        let mut state = self.state.lock().unwrap();
        let current = matches!(&state.phase, Phase::Up((_, made)) if *made == number);
        if !(broken && current) {
            return;
        }
        if state.failures == 0 {
            tracing::warn!("board: replacing the Redis connection after: {error}");
        }
        state.down(error.to_owned());
    }
}

impl State {
    /// One more failure: no connection until the back-off has passed.
    fn down(&mut self, error: String) {
        self.failures = self.failures.saturating_add(1);
        self.phase = Phase::Down {
            retry_at: Instant::now() + back_off(self.failures),
            error,
        };
    }
}

/// Whether a call's error means its connection is done for: its socket
/// failed, or the server it reached cannot serve the board any more (a
/// primary demoted to replica by a failover, a login revoked).
pub fn breaks_connection(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_retries_a_first_failure_at_once_then_doubles_to_a_cap() {
        let delays: Vec<u128> = (0..9).map(|n| back_off(n).as_millis()).collect();
        assert_eq!(delays, [0, 0, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(back_off(u32::MAX), MAX_BACK_OFF);
    }
}
