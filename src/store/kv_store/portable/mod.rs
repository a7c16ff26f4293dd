//! The bucket as the board sees it on any host: key names every host
//! accepts, and an increment a host refused while racing another tried
//! again.
//!
//! - **Names.** The store names its keys `board:next-id`, `board:message:7`,
//!   …; in the bucket the `:` becomes `.` (`board.next-id`). NATS JetStream
//!   KV, wasmCloud's production key-value, accepts only `[-/_=.a-zA-Z0-9]`
//!   (and `/` would be a directory in wasmCloud's filesystem backend).
//!   A bucket that already holds a board under the `:` names (sitebox wrote
//!   those before) keeps them: the first call looks for `board.next-id`,
//!   then for `board:next-id`, and uses the names it finds (when that call
//!   is a read of `next-id`, the look is the read); every board
//!   that holds a message has its `next-id`. A host that refuses the old
//!   name cannot hold a board under it, so an error there means "none" (on
//!   a host that takes both names, an error between the two `get`s means
//!   it just went down: the request's next calls fail too, unless it came
//!   back at once).
//! - **Increments.** wasmCloud's NATS backend increments by reading and then
//!   writing at the revision read: of two racing increments one fails. So
//!   a failed increment is tried again, after a pause of random length that
//!   grows with each attempt (else racing posts keep failing each other),
//!   for up to `RETRY_WITHIN` and `INCREMENT_ATTEMPTS` tries, unless a
//!   `get` of the key fails too: a host that is down is not pressed. (An
//!   increment the host applied but answered with an error is then applied
//!   twice; the store takes every counter as "at least": a gap in the ids, a
//!   claim that counts someone else.)

use super::{Bucket, KvError};
use crate::random::Random;
use jiff::{SignedDuration, Timestamp};
use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Duration;

pub(super) const INCREMENT_ATTEMPTS: u32 = 64;
const RETRY_WITHIN: SignedDuration = SignedDuration::from_secs(1);
/// The longest pause before the first retry; it doubles up to `MAX_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_micros(200);
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// The separator in the store's own key names.
const LOGICAL: &str = ":";
/// The separator in the bucket, unless it holds a board from before.
const PORTABLE: &str = ".";
/// The key every board that holds a message has, in the store's own name.
const PROBE: &str = "board:next-id";

pub struct Portable<B> {
    bucket: B,
    clock: fn() -> Timestamp,
    random: Random,
    /// The separator this bucket's keys use, found by the first call.
    separator: OnceLock<&'static str>,
}

impl<B: Bucket> Portable<B> {
    pub fn new(bucket: B, clock: fn() -> Timestamp, random: Random) -> Self {
        Portable {
            bucket,
            clock,
            random,
            separator: OnceLock::new(),
        }
    }

    #[cfg(test)]
    pub fn inner(&self) -> &B {
        &self.bucket
    }

    fn separator(&self) -> Result<&'static str, KvError> {
        match self.separator.get() {
            Some(separator) => Ok(separator),
            None => self.probe().map(|(separator, _)| separator),
        }
    }

    /// Finds the names this bucket uses, and `next-id`'s value under them:
    /// the store's first read of `next-id` is the probe itself, so a page
    /// costs no extra call.
    fn probe(&self) -> Result<(&'static str, Option<Vec<u8>>), KvError> {
        let portable = self.bucket.get(&PROBE.replace(LOGICAL, PORTABLE))?;
        let (found, value) = if portable.is_some() {
            (PORTABLE, portable)
        } else {
            match self.bucket.get(PROBE) {
                Ok(Some(value)) => (LOGICAL, Some(value)),
                Ok(None) | Err(_) => (PORTABLE, None),
            }
        };
        Ok((*self.separator.get_or_init(|| found), value))
    }

    /// `key` as the bucket names it.
    fn name<'k>(&self, key: &'k str) -> Result<Cow<'k, str>, KvError> {
        Ok(match self.separator()? {
            LOGICAL => Cow::Borrowed(key),
            separator => Cow::Owned(key.replace(LOGICAL, separator)),
        })
    }

    /// A random pause of up to `FIRST_PAUSE`, doubled for each attempt
    /// since the first, at most `MAX_PAUSE`.
    fn pause(&self, attempt: u32) -> Duration {
        let longest = FIRST_PAUSE
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(MAX_PAUSE);
        let mut bytes = [0; 4];
        let fraction = match (self.random)(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            Err(_) => 0.5,
        };
        longest.mul_f64(fraction)
    }

    fn names(&self, keys: &[String]) -> Result<Vec<String>, KvError> {
        keys.iter()
            .map(|key| self.name(key).map(Cow::into_owned))
            .collect()
    }
}

impl<B: Bucket> Bucket for Portable<B> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        if key == PROBE && self.separator.get().is_none() {
            return self.probe().map(|(_, value)| value);
        }
        self.bucket.get(&self.name(key)?)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.bucket.set(&self.name(key)?, value)
    }

    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        let name = self.name(key)?;
        let started = (self.clock)();
        let mut attempt = 1;
        loop {
            let error = match self.bucket.increment(&name, delta) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let again = attempt < INCREMENT_ATTEMPTS
                && (self.clock)().duration_since(started) < RETRY_WITHIN
                && self.bucket.get(&name).is_ok();
            if !again {
                return Err(error);
            }
            std::thread::sleep(self.pause(attempt));
            attempt += 1;
        }
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.bucket.get_many(&self.names(keys)?)
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        self.bucket.delete_many(&self.names(keys)?)
    }
}

#[cfg(test)]
mod tests;
