//! The board in a `wasi:keyvalue` bucket, for hosts that give a component
//! key-value storage instead of a writable directory (edge platforms, a fleet
//! of runners sharing one Redis). Correct with many instances on many
//! machines writing at once, given what every such host offers: each call on
//! one key is atomic, and `increment` is atomic (or fails, and is tried
//! again: `portable`).
//!
//! Keys, as the store names them (in the bucket the `:` is a `.`, unless
//! the bucket holds a board from before: `portable`):
//!
//! ```text
//! board:next-id            counter: the last id handed out
//! board:cleared-up-to      counter: every id up to it is cleared
//! board:collected-up-to    decimal: cleared messages up to it are deleted
//! board:message:<id>       one message (JSON: text and time), or its tombstone
//! board:submission:<name>…  posts with an idempotency key (`submissions`)
//! ```
//!
//! - A post takes its id from `increment(next-id, 1)`, writes its one key,
//!   and then reads the clear marker again: a clear that raised the marker
//!   past the id in between hides the message, so the post deletes it and
//!   takes a new id above the marker. An acknowledged post is therefore
//!   never hidden by a clear that completed before the post began. (A post
//!   racing a clear may be seen just before it and again, under a new id,
//!   after it: it is never lost.)
//! - A page reads the newest id, then the marker, fetches its window of ids
//!   with one `get-many`, and reads the marker again: if a clear moved it,
//!   the page is read anew, so a page never mixes messages from before and
//!   after a clear. Ids a post took but never wrote (it failed, or is still
//!   writing) and deleted messages are gaps: a window that comes back short
//!   is followed by a wider one below it, so a page still holds `limit`
//!   messages when older ones exist. No key listing is ever needed.
//! - The admin's delete overwrites the message with a tombstone (one `set`),
//!   never removes its key: a repeat of a keyed post writes its message
//!   only where the key is missing, so a deleted message stays deleted.
//! - A clear raises the marker to the newest id with `increment` (the only
//!   atomic update there is: no compare-and-swap in this version of
//!   `wasi:keyvalue`), so markers never go back. Two clears at once may
//!   raise it past the newest id; the clear then moves `next-id` up to the
//!   marker, so no id it hides is ever handed out again (the skipped ids are
//!   gaps below the marker, never seen). Then it deletes what it hid, in
//!   batches; a failure there only leaves garbage for the next clear.
//!
//! Counters are decimal text on every host we know (wasmtime's, Redis's,
//! workerd's `kv.js`), so they are read with `get`; one that is not is read
//! with `increment(key, 0)`, which every host answers with a number.

use crate::random::Random;
use crate::store::idempotency::{Once, Submission};
use crate::store::{self, Message, Page, Store, StoreError};
use jiff::Timestamp;

mod portable;
mod submissions;

use portable::Portable;

/// The key-value operations the store needs, on the bucket it was given:
/// the component implements them with `wasi:keyvalue`, tests in memory.
pub trait Bucket {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Adds `delta` to the counter at `key` (0 if missing) and returns the
    /// new value, atomically.
    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError>;
    /// The value of each key, in order (`None` where missing).
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError>;
    fn delete_many(&self, keys: &[String]) -> Result<(), KvError>;
}

/// A key-value call failed (the host's error, or the bucket cannot be
/// opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError(pub String);

impl From<KvError> for StoreError {
    fn from(error: KvError) -> Self {
        StoreError::Unavailable(format!("key-value: {}", error.0))
    }
}

const NEXT_ID: &str = "board:next-id";
const CLEARED: &str = "board:cleared-up-to";
const COLLECTED: &str = "board:collected-up-to";

fn message_key(id: u64) -> String {
    format!("board:message:{id}")
}

/// A post is overtaken by a clear at most this often before giving up.
const POST_ATTEMPTS: usize = 32;
/// Keys per `delete-many` while a clear deletes what it hid.
const DELETE_BATCH: u64 = 256;
/// Keys per `get-many` at most while a page reads past gaps.
const MAX_WINDOW: u64 = 1024;

pub struct KvStore<B> {
    bucket: Portable<B>,
    /// The time, for the windows of a keyed post's claim.
    clock: fn() -> Timestamp,
}

impl<B: Bucket> KvStore<B> {
    pub fn new(bucket: B, clock: fn() -> Timestamp, random: Random) -> Self {
        KvStore {
            bucket: Portable::new(bucket, clock, random),
            clock,
        }
    }

    #[cfg(test)]
    pub fn bucket(&self) -> &B {
        self.bucket.inner()
    }

    /// A counter's value: read with `get` (on Redis, `increment(key, 0)` is a
    /// write, which `appendfsync always` syncs to disk: a page read took
    /// twice as long), falling back to `increment(key, 0)` for a host whose
    /// counters are not decimal text.
    fn counter(&self, key: &str) -> Result<u64, KvError> {
        match self.bucket.get(key)? {
            None => Ok(0),
            Some(value) => match decimal(&value) {
                Some(number) => Ok(number),
                None => self.bucket.increment(key, 0),
            },
        }
    }

    /// One attempt at a consistent page; `None` if a clear moved the marker
    /// while it was read.
    fn try_page(&self, before: Option<u64>, limit: usize) -> Result<Option<Page>, StoreError> {
        // The newest id before the marker: an id taken after the marker was
        // read is above it, so the window never reaches past a clear.
        let newest = self.counter(NEXT_ID)?;
        let floor = self.counter(CLEARED)?;
        let mut top = before.map_or(newest, |before| newest.min(before.saturating_sub(1)));
        // Newest first; one more than `limit` tells whether older messages
        // exist. Gaps (deleted messages, posts that died) make a window
        // come back short: the next, twice as wide, reads on below it.
        let mut messages = Vec::new();
        let mut has_older = false;
        let mut width = limit as u64 + 1;
        while top > floor && !has_older {
            let first = top.saturating_sub(width).max(floor) + 1;
            for (id, value) in (first..=top)
                .rev()
                .zip(self.window(first, top)?.into_iter().rev())
            {
                let Some(message) = value.map(|value| store::decode_message(id, &value)) else {
                    continue;
                };
                if let Some(message) = message? {
                    if messages.len() == limit {
                        has_older = true;
                        break;
                    }
                    messages.push(message);
                }
            }
            top = first - 1;
            width = (width * 2).min(MAX_WINDOW);
        }
        if self.counter(CLEARED)? != floor {
            return Ok(None);
        }
        messages.reverse();
        Ok(Some(Page {
            messages,
            has_older,
        }))
    }

    /// The values of the messages `first..=last`, with one `get-many`.
    fn window(&self, first: u64, last: u64) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let keys: Vec<String> = (first..=last).map(message_key).collect();
        let values = self.bucket.get_many(&keys)?;
        if values.len() != keys.len() {
            return Err(StoreError::Unavailable(format!(
                "key-value: get-many answered {} values for {} keys",
                values.len(),
                keys.len()
            )));
        }
        Ok(values)
    }

    /// Takes an id and writes the message under it, then reads the clear
    /// marker again: if a clear hid the id meanwhile, the message is deleted
    /// and posted again under a new id above it. `bind(id)` runs before each
    /// write (a keyed post binds its key to the id there).
    fn post(
        &self,
        text: &str,
        posted_at: Timestamp,
        mut bind: impl FnMut(u64) -> Result<(), StoreError>,
    ) -> Result<Message, StoreError> {
        let value = store::encode_message(text, posted_at);
        for _ in 0..POST_ATTEMPTS {
            let id = self.bucket.increment(NEXT_ID, 1)?;
            bind(id)?;
            let key = message_key(id);
            self.bucket.set(&key, &value)?;
            if self.counter(CLEARED)? < id {
                return Ok(Message {
                    id,
                    text: text.to_owned(),
                    posted_at,
                });
            }
            // A clear hid the id we took: post again above its marker.
            self.bucket.delete_many(&[key])?;
        }
        Err(StoreError::Unavailable(
            "the board was cleared again and again while posting".to_owned(),
        ))
    }

    /// Deletes the messages up to `marker` that no earlier clear deleted.
    /// Failures only leave garbage, so they are logged, not reported.
    fn collect_garbage(&self, floor: u64, marker: u64) {
        let collected = match self.bucket.get(COLLECTED) {
            Ok(Some(value)) => decimal(&value).unwrap_or(floor),
            Ok(None) => 0,
            Err(error) => return eprintln!("sitebox: board: cannot collect garbage: {error:?}"),
        };
        let mut start = collected + 1;
        while start <= marker {
            let end = marker.min(start + DELETE_BATCH - 1);
            let keys: Vec<String> = (start..=end).map(message_key).collect();
            if let Err(error) = self.bucket.delete_many(&keys) {
                return eprintln!("sitebox: board: cannot delete cleared messages: {error:?}");
            }
            start = end + 1;
        }
        // Racing clears may write a smaller number last: that only repeats
        // some deletions next time.
        if let Err(error) = self.bucket.set(COLLECTED, marker.to_string().as_bytes()) {
            eprintln!("sitebox: board: cannot record the collected messages: {error:?}");
        }
    }
}

impl<B: Bucket> Store for KvStore<B> {
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError> {
        self.post(text, posted_at, |_| Ok(()))
    }

    fn append_once(
        &self,
        submission: &Submission,
        text: &str,
        posted_at: Timestamp,
    ) -> Result<Once<Message>, StoreError> {
        self.append_keyed(submission, text, posted_at)
    }

    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError> {
        store::page_retrying(
            || self.try_page(before, limit),
            "the board kept being cleared while being read",
        )
    }

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError> {
        if id <= self.counter(CLEARED)? {
            return Ok(None);
        }
        match self.bucket.get(&message_key(id))? {
            Some(value) => store::decode_message(id, &value),
            None => Ok(None),
        }
    }

    fn delete(&self, id: u64, now: Timestamp) -> Result<bool, StoreError> {
        if self.get(id)?.is_none() {
            return Ok(false);
        }
        // A tombstone, not a deletion: a repeat of a keyed post writes its
        // message again only where the key is missing.
        let key = message_key(id);
        self.bucket.set(&key, &store::encode_tombstone(now))?;
        // A clear that hid the id meanwhile may have collected the message
        // before this write: the tombstone is then its garbage.
        if id <= self.counter(CLEARED)? {
            self.bucket.delete_many(&[key])?;
        }
        Ok(true)
    }

    fn clear(&self) -> Result<(), StoreError> {
        let newest = self.counter(NEXT_ID)?;
        let floor = self.counter(CLEARED)?;
        if newest <= floor {
            return Ok(());
        }
        let marker = self.bucket.increment(CLEARED, newest - floor)?;
        // Never hand out an id the marker covers (racing clears can push it
        // past `newest`).
        let next = self.counter(NEXT_ID)?;
        if next < marker {
            self.bucket.increment(NEXT_ID, marker - next)?;
        }
        self.collect_garbage(floor, marker);
        Ok(())
    }
}

/// A number written as decimal text.
fn decimal(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

#[cfg(test)]
pub mod memory;
#[cfg(test)]
mod tests;
