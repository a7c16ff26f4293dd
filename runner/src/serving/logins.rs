//! Logins: the requests that carry credentials (`Authorization`), each of
//! which may make the guest check a password — for sitebox's admin, argon2
//! with 19 MiB of the instance's memory and about 70 ms of a core. How many
//! run at once (`--max-logins`), and each client's back-off after failed ones
//! (`--login-backoff`). Requests without credentials never wait here.

use crate::guest::host::GuestResponse;
use crate::serving::host_pages;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How long a login may wait for a check to come free: enough for a queue of
/// a few dozen checks, short enough that a flood is answered (503) rather
/// than held.
const PATIENCE: Duration = Duration::from_secs(2);

/// Failed logins in a row that cost a client nothing: a person mistyping or
/// trying the passwords they might have set, or a browser trying the login
/// it remembers.
const FREE_FAILURES: u32 = 10;

/// The first back-off; each failure after it doubles, up to the longest.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// How long a client's failures are remembered after its back-off has passed
/// with no new one: long enough that spacing guesses out does not start the
/// count afresh.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

pub struct Logins {
    /// One permit per password check that may run at once.
    checks: Semaphore,
    backoff: Option<Backoff>,
}

/// Why a request with credentials was answered without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its client failed to log in lately: not before this much time (429).
    BackingOff(Duration),
    /// Every check was taken for as long as a login may wait (503).
    Busy,
}

impl Refused {
    /// The runner's answer in the guest's stead.
    pub fn page(self) -> GuestResponse {
        match self {
            Refused::BackingOff(wait) => host_pages::too_many("failed logins", wait),
            Refused::Busy => {
                tracing::debug!("answering 503: every password check is taken");
                host_pages::try_again_soon(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "Too many logins at once; please try again in a moment.",
                )
            }
        }
    }
}

/// Whether a request carries credentials, and so may run a password check.
pub fn carries_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(AUTHORIZATION)
}

impl Logins {
    /// `max_at_once` checks at once; failed logins back a client off for up
    /// to `longest_backoff` (zero: no back-off).
    pub fn new(max_at_once: u32, longest_backoff: Duration) -> Logins {
        Logins {
            checks: Semaphore::new(max_at_once.max(1) as usize),
            backoff: (!longest_backoff.is_zero()).then(|| Backoff {
                longest: longest_backoff,
                clients: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Runs `handle` (the guest's answer to a request from `client`) at once
    /// when the request has no credentials; otherwise when the client is not
    /// backing off and a check is free, and then learns from the answer
    /// whether the login failed (401).
    ///
    /// The check is taken until the answer's headers: the guest checks the
    /// password before it answers, and a 401's instance ends right after, so
    /// a client that never reads the body cannot keep a check.
    pub async fn guard<B, E>(
        &self,
        client: IpAddr,
        credentialed: bool,
        handle: impl Future<Output = Result<http::Response<B>, E>>,
    ) -> Result<Result<http::Response<B>, E>, Refused> {
        if !credentialed {
            return Ok(handle.await);
        }
        self.refuse_backing_off(client)?;
        let _check = match tokio::time::timeout(PATIENCE, self.checks.acquire()).await {
            Ok(Ok(check)) => check,
            // The semaphore is never closed: only the wait can end it.
            _ => return Err(Refused::Busy),
        };
        // Its earlier logins may have failed while this one waited: a flood
        // queued before the first failure must not run on after it.
        self.refuse_backing_off(client)?;
        let answered = handle.await;
        if let (Some(backoff), Ok(response)) = (&self.backoff, &answered)
            && response.status() == StatusCode::UNAUTHORIZED
        {
            backoff.failed(client, Instant::now());
        }
        Ok(answered)
    }

    fn refuse_backing_off(&self, client: IpAddr) -> Result<(), Refused> {
        match &self.backoff {
            Some(backoff) => backoff.check(client, Instant::now()),
            None => Ok(()),
        }
    }

    /// Forgets the clients whose failures are old, so the table holds only
    /// recent guessers.
    pub fn forget_idle(&self) {
        if let Some(backoff) = &self.backoff {
            backoff.forget_idle(Instant::now());
        }
    }
}

/// Each client's failed logins, by its address (an IPv6 client is its /64,
/// as for the write limit).
struct Backoff {
    longest: Duration,
    clients: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    /// In a row since the client was last forgotten. A success does not
    /// reset it: the runner cannot tell a password checked and right from a
    /// request the guest answered without checking (a page, a board post
    /// carrying the same header), so a guesser could reset its own count.
    count: u32,
    /// Until when its logins are refused (the last failure's time while it
    /// has failures left for free).
    until: Instant,
}

impl Backoff {
    fn check(&self, client: IpAddr, now: Instant) -> Result<(), Refused> {
        let clients = self.clients.lock().expect("not poisoned");
        match clients.get(&crate::serving::write_limit::key(client)) {
            Some(failures) if failures.until > now => {
                Err(Refused::BackingOff(failures.until - now))
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, client: IpAddr, now: Instant) {
        let mut clients = self.clients.lock().expect("not poisoned");
        let failures = clients
            .entry(crate::serving::write_limit::key(client))
            .or_insert(Failures {
                count: 0,
                until: now,
            });
        if failures.until + FORGET_AFTER <= now {
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        let wait = self.wait_after(failures.count);
        // Logins that were already running when the back-off began may fail
        // after it: they never shorten it.
        failures.until = failures.until.max(now + wait);
        if !wait.is_zero() {
            tracing::warn!(
                "{client}: {} failed logins in a row; refusing its logins for {wait:?}",
                failures.count
            );
        }
    }

    /// The back-off after the `count`th failure in a row.
    fn wait_after(&self, count: u32) -> Duration {
        let Some(beyond) = count.checked_sub(FREE_FAILURES + 1) else {
            return Duration::ZERO;
        };
        // 2^beyond, saturating long before `u32` does.
        let factor = 1u32 << beyond.min(20);
        FIRST_BACKOFF.saturating_mul(factor).min(self.longest)
    }

    fn forget_idle(&self, now: Instant) {
        let mut clients = self.clients.lock().expect("not poisoned");
        clients.retain(|_, failures| failures.until + FORGET_AFTER > now);
        clients.shrink_to_fit();
    }
}

#[cfg(test)]
#[path = "logins_tests.rs"]
mod tests;
