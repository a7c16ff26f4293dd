//! Posts with an idempotency key in a bucket: one message per key, with
//! nothing but `get`, `set`, `increment` and batches (no compare-and-swap in
//! this `wasi:keyvalue`).
//!
//! ```text
//! board:submission:<name>            the key's id: fingerprint, id, time
//! board:submission:<name>:claim:<w>  counter: requests that claimed it in window w
//! ```
//!
//! - The key is *bound* to an id by writing its record before the message:
//!   from then on every request with the key answers that id, and writes
//!   the message itself if it is not there yet (the same bytes at the same
//!   key, so writing it twice is harmless). A post whose message write
//!   failed, or was applied but answered late, is answered by its repeat,
//!   and the message is written once.
//! - Binding takes a claim: `increment` of the counter of the current
//!   window of `WINDOW_SECS`. The first to count 1 may bind, if after its
//!   claim no one has claimed in the window before or after (of two
//!   requests in neighbouring windows, the later one's check or the
//!   earlier one's sees the other's claim) and it binds in time, before the
//!   end of the next window less `IN_FLIGHT_SECS`; the record is read again
//!   after the claim, so a request two windows later sees what an earlier
//!   claimant bound. A request that finds a claim in the window or the one
//!   before answers 409 and claims nothing, so a claimant that died (or
//!   never learned it had claimed: its reply was lost) holds the key for
//!   two windows at most.
//! - This rests on the hosts' clocks agreeing within a second or so and on
//!   no write landing more than `IN_FLIGHT_SECS` after it was sent.

use super::{Bucket, CLEARED, KvStore, decimal, message_key};
use crate::store::idempotency::{Once, Submission};
use crate::store::{self, Message, Posted, StoreError};
use jiff::Timestamp;

/// The length of a claim's window.
pub(super) const WINDOW_SECS: i64 = 10;
/// The longest a write may take to land (far beyond any host's timeout).
const IN_FLIGHT_SECS: i64 = 5;

fn record_key(name: &str) -> String {
    format!("board:submission:{name}")
}

fn claim_key(name: &str, window: i64) -> String {
    format!("board:submission:{name}:claim:{window}")
}

/// Whether a claim counter counts anyone.
fn claimed(value: &Option<Vec<u8>>) -> bool {
    value
        .as_deref()
        .is_some_and(|value| decimal(value) != Some(0))
}

impl<B: Bucket> KvStore<B> {
    pub(super) fn append_keyed(
        &self,
        submission: &Submission,
        text: &str,
        posted_at: Timestamp,
    ) -> Result<Once<Message>, StoreError> {
        let name = &submission.name;
        let record = record_key(name);
        let window = (self.clock)().as_second().div_euclid(WINDOW_SECS);
        // Look before claiming: a repeat answers, and a request that finds
        // a claim goes without claiming (so it never holds up a later one).
        let [posted, before, current] = self.get_three([
            record.clone(),
            claim_key(name, window - 1),
            claim_key(name, window),
        ])?;
        if let Some(posted) = posted {
            return self.replay(&Posted::decode(&posted)?, submission, text);
        }
        if claimed(&before) || claimed(&current) {
            return Ok(Once::InProgress);
        }
        if self.bucket.increment(&claim_key(name, window), 1)? != 1 {
            return Ok(Once::InProgress);
        }
        let [posted, before, after] = self.get_three([
            record.clone(),
            claim_key(name, window - 1),
            claim_key(name, window + 1),
        ])?;
        if let Some(posted) = posted {
            return self.replay(&Posted::decode(&posted)?, submission, text);
        }
        if claimed(&before) || claimed(&after) {
            return Ok(Once::InProgress);
        }
        let deadline = (window + 2) * WINDOW_SECS - IN_FLIGHT_SECS;
        let bind = |id| {
            if (self.clock)().as_second() >= deadline {
                return Err(StoreError::Unavailable(
                    "claiming a submission took too long".to_owned(),
                ));
            }
            let bound = Posted {
                fingerprint: submission.fingerprint.clone(),
                id,
                posted_at,
            };
            Ok(self.bucket.set(&record, &bound.encode())?)
        };
        // (A clear that hides the id makes it bind the key to a new one.)
        self.post(text, posted_at, bind).map(Once::Stored)
    }

    /// The answer for a repeat of a bound key; writes the message if it is
    /// missing (and not hidden by a clear): a tombstone is no gap to fill.
    fn replay(
        &self,
        posted: &Posted,
        submission: &Submission,
        text: &str,
    ) -> Result<Once<Message>, StoreError> {
        let answer = posted.answer(submission, text);
        if let Once::Replayed(message) = &answer
            && self.counter(CLEARED)? < message.id
        {
            let key = message_key(message.id);
            if self.bucket.get(&key)?.is_none() {
                let value = store::encode_message(&message.text, message.posted_at);
                self.bucket.set(&key, &value)?;
            }
        }
        Ok(answer)
    }

    fn get_three(&self, keys: [String; 3]) -> Result<[Option<Vec<u8>>; 3], StoreError> {
        let values = self.bucket.get_many(&keys)?;
        values.try_into().map_err(|values: Vec<_>| {
            StoreError::Unavailable(format!(
                "key-value: get-many answered {} values for 3 keys",
                values.len()
            ))
        })
    }
}
