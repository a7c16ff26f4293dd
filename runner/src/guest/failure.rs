//! Why the host answers a request itself, and how it learns why a guest
//! did not answer.

use crate::guest::admission::Refused;
use crate::guest::alone::Outcome;
use crate::guest::guest_thread::GuestThread;
use crate::guest::progress::Progress;
use crate::guest::shared::Unanswered;
use anyhow::anyhow;
use std::time::Duration;
use tokio::time::Instant;

/// Why the host answers a request itself.
#[derive(Debug)]
pub enum Failure {
    /// The guest trapped, or ended without answering (500).
    Failed(anyhow::Error),
    /// The guest went `request_timeout` without progress before answering (504).
    TimedOut,
    /// The host cannot turn the request into `wasi:http` for the guest: the
    /// client's fault (400).
    Unconvertible(anyhow::Error),
    /// The request body is larger than `max_body` (413).
    BodyTooLarge,
    /// No instance free and the queue full, or waited too long (503).
    Busy(Refused),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Failed(error) => write!(f, "{error:#}"),
            Failure::TimedOut => f.write_str("no progress within the request timeout"),
            Failure::Unconvertible(error) => {
                write!(f, "the request cannot be handed over: {error:#}")
            }
            Failure::BodyTooLarge => f.write_str("the request body is too large"),
            Failure::Busy(Refused::QueueFull) => {
                f.write_str("every instance is busy and the queue is full")
            }
            Failure::Busy(Refused::Waited) => f.write_str("no instance came free in time"),
        }
    }
}

/// Where a request's guest runs: its own instance on a thread of its own,
/// or a shared instance.
pub(crate) enum Running {
    Alone(GuestThread<Outcome>),
    Shared {
        why: tokio::sync::oneshot::Receiver<Unanswered>,
        /// The request's, and its timeout: a shared instance that stalled
        /// is dropped with its requests, which are told nothing.
        progress: Progress,
        timeout: Duration,
    },
}

impl Running {
    /// Stops an instance of its own; a shared one goes on (its guest saw the
    /// body's error, and answers no one).
    pub fn abort(&self) {
        if let Running::Alone(guest) = self {
            guest.abort();
        }
    }

    /// Why the guest ended without answering.
    pub async fn why_unanswered(self) -> Failure {
        match self {
            Running::Alone(guest) => match guest.join().await {
                Ok(Outcome::TimedOut) => Failure::TimedOut,
                Ok(Outcome::Trapped) => Failure::Failed(anyhow!("the guest trapped")),
                Ok(Outcome::Done) => Failure::Failed(anyhow!("guest ended without a response")),
                Err(error) => Failure::Failed(error),
            },
            Running::Shared {
                why,
                progress,
                timeout,
            } => match why.await {
                Ok(Unanswered::TimedOut) => Failure::TimedOut,
                Err(_) if progress.last() + timeout <= Instant::now() => Failure::TimedOut,
                Ok(Unanswered::Failed) | Err(_) => {
                    Failure::Failed(anyhow!("the guest trapped, or its shared instance failed"))
                }
            },
        }
    }
}
