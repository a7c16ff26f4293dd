//! The board's storage, the area the board stands on: a small trait
//! (append, append once per idempotency key, read a page, get one, delete
//! one, clear) with an in-memory implementation for unit tests.
//! `file_store` implements it on the data directory, `kv_store` on a
//! `wasi:keyvalue` bucket (edge hosts, a fleet of runners on one Redis);
//! `idempotency` is what a post with a key is (the form's token, the API's
//! `Idempotency-Key`) and what posting it once did.
//!
//! May use: `error` and `random`; never the board, HTTP's requests and
//! responses, or the site.

use crate::error::Error;
use idempotency::{Once, Submission};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

pub(crate) mod file_store;
pub(crate) mod idempotency;
pub(crate) mod kv_store;

/// A stored message. Ids grow with posting order and are never reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u64,
    pub text: String,
    pub posted_at: Timestamp,
}

/// A window of the board, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<Message>,
    /// Whether messages older than the first one exist.
    pub has_older: bool,
}

/// Why the board could not be read or written. The detail goes to the log,
/// never to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The storage failed a call or cannot be reached (a key-value host or
    /// its backend down, a disk refusing writes): worth retrying, a 503.
    Unavailable(String),
    /// What is stored cannot be read back: a fault on our side, a 500.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(detail) => write!(f, "unavailable: {detail}"),
            StoreError::Corrupt(detail) => write!(f, "corrupt: {detail}"),
        }
    }
}

/// The board's storage failing is the client's to retry (a 503); stored data
/// it cannot read is ours (a 500). The detail goes to the log only.
impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                Error::Unavailable(format!("board storage: {detail}"))
            }
            StoreError::Corrupt(detail) => Error::Internal(format!("board storage: {detail}")),
        }
    }
}

pub trait Store {
    /// Stores `text`, durably, before returning the message.
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError>;

    /// `append`, once per `submission`: the first call stores the message;
    /// every later one answers that first message (`Replayed`, also after a
    /// clear hid it) and stores nothing — also when the first call failed
    /// after its message landed, and when calls race. A call with another
    /// text is `KeyReused`; one that cannot tell yet whether the first call
    /// will store is `InProgress`.
    fn append_once(
        &self,
        submission: &Submission,
        text: &str,
        posted_at: Timestamp,
    ) -> Result<Once<Message>, StoreError>;

    /// Up to `limit` of the newest messages with an id below `before` (all
    /// ids when `None`), oldest first.
    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError>;

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError>;

    /// Removes message `id` (the admin's moderation), durably: `false` if
    /// there is none (never posted, deleted already, or cleared). Its id is
    /// never handed out again, and pages read past the gap it leaves. `now`
    /// is the deletion's time, kept in its place.
    fn delete(&self, id: u64, now: Timestamp) -> Result<bool, StoreError>;

    /// Removes every message, at once as far as readers can tell.
    fn clear(&self) -> Result<(), StoreError>;
}

/// A page read races with a clear at most this often before giving up.
const READ_ATTEMPTS: usize = 8;

/// A page, read again while `try_page` finds that the board changed under
/// it (`None`), at most `READ_ATTEMPTS` times; then `Unavailable(why)`.
pub(crate) fn page_retrying(
    mut try_page: impl FnMut() -> Result<Option<Page>, StoreError>,
    why: &str,
) -> Result<Page, StoreError> {
    for _ in 0..READ_ATTEMPTS {
        if let Some(page) = try_page()? {
            return Ok(page);
        }
    }
    Err(StoreError::Unavailable(why.to_owned()))
}

/// How a message is stored, in a file or a key-value entry (its id is the
/// file's or the key's name).
#[derive(Serialize, Deserialize)]
struct Record<T> {
    text: T,
    posted_at: Timestamp,
}

pub(crate) fn encode_message(text: &str, posted_at: Timestamp) -> Vec<u8> {
    serde_json::to_vec(&Record { text, posted_at }).expect("a string and a time always serialize")
}

/// What a deleted message's file or entry becomes: it keeps the id taken
/// (a post claims an id by its name) and says when it went.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tombstone {
    deleted_at: Timestamp,
}

pub(crate) fn encode_tombstone(deleted_at: Timestamp) -> Vec<u8> {
    serde_json::to_vec(&Tombstone { deleted_at }).expect("a time always serializes")
}

/// A stored message, or `None` where it was deleted.
pub(crate) fn decode_message(id: u64, bytes: &[u8]) -> Result<Option<Message>, StoreError> {
    let record: Record<String> = match serde_json::from_slice(bytes) {
        Ok(record) => record,
        Err(_) if serde_json::from_slice::<Tombstone>(bytes).is_ok() => return Ok(None),
        Err(error) => {
            return Err(StoreError::Corrupt(format!(
                "message {id} is unreadable: {error}"
            )));
        }
    };
    Ok(Some(Message {
        id,
        text: record.text,
        posted_at: record.posted_at,
    }))
}

/// What a store keeps of a keyed submission once its message has an id:
/// enough to answer a repeat (the text is the repeat's own, as the
/// fingerprint proves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Posted {
    pub fingerprint: String,
    pub id: u64,
    pub posted_at: Timestamp,
}

impl Posted {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("strings, a number and a time always serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Posted, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|error| StoreError::Corrupt(format!("a submission is unreadable: {error}")))
    }

    /// The answer for a repeat of `submission` with `text`.
    pub fn answer(&self, submission: &Submission, text: &str) -> Once<Message> {
        if self.fingerprint != submission.fingerprint {
            return Once::KeyReused;
        }
        Once::Replayed(Message {
            id: self.id,
            text: text.to_owned(),
            posted_at: self.posted_at,
        })
    }
}

#[cfg(test)]
pub mod contract;

/// The board in memory, for unit tests of the board logic.
#[cfg(any(test, fuzzing))]
#[derive(Default)]
pub struct MemoryStore {
    state: std::sync::Mutex<MemoryState>,
}

#[cfg(any(test, fuzzing))]
#[derive(Default)]
struct MemoryState {
    messages: Vec<Message>,
    last_id: u64,
    submissions: std::collections::HashMap<String, Posted>,
}

#[cfg(any(test, fuzzing))]
impl MemoryState {
    fn append(&mut self, text: &str, posted_at: Timestamp) -> Message {
        self.last_id += 1;
        let message = Message {
            id: self.last_id,
            text: text.to_owned(),
            posted_at,
        };
        self.messages.push(message.clone());
        message
    }
}

#[cfg(any(test, fuzzing))]
impl Store for MemoryStore {
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError> {
        Ok(self.state.lock().unwrap().append(text, posted_at))
    }

    fn append_once(
        &self,
        submission: &Submission,
        text: &str,
        posted_at: Timestamp,
    ) -> Result<Once<Message>, StoreError> {
        let mut state = self.state.lock().unwrap();
        if let Some(posted) = state.submissions.get(&submission.name) {
            return Ok(posted.answer(submission, text));
        }
        let message = state.append(text, posted_at);
        let posted = Posted {
            fingerprint: submission.fingerprint.clone(),
            id: message.id,
            posted_at,
        };
        state.submissions.insert(submission.name.clone(), posted);
        Ok(Once::Stored(message))
    }

    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError> {
        let state = self.state.lock().unwrap();
        let eligible: Vec<&Message> = state
            .messages
            .iter()
            .filter(|m| before.is_none_or(|before| m.id < before))
            .collect();
        let start = eligible.len().saturating_sub(limit);
        Ok(Page {
            messages: eligible[start..].iter().map(|m| (*m).clone()).collect(),
            has_older: start > 0,
        })
    }

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError> {
        let state = self.state.lock().unwrap();
        Ok(state.messages.iter().find(|m| m.id == id).cloned())
    }

    fn delete(&self, id: u64, _: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.state.lock().unwrap();
        let before = state.messages.len();
        state.messages.retain(|m| m.id != id);
        Ok(state.messages.len() < before)
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.state.lock().unwrap().messages.clear();
        Ok(())
    }
}

/// A board whose keyed posts always find an earlier request with their key
/// still storing, for tests of the 409.
#[cfg(test)]
#[derive(Default)]
pub struct BusyStore(MemoryStore);

#[cfg(test)]
impl Store for BusyStore {
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError> {
        self.0.append(text, posted_at)
    }

    fn append_once(
        &self,
        _: &Submission,
        _: &str,
        _: Timestamp,
    ) -> Result<Once<Message>, StoreError> {
        Ok(Once::InProgress)
    }

    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError> {
        self.0.page(before, limit)
    }

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError> {
        self.0.get(id)
    }

    fn delete(&self, id: u64, now: Timestamp) -> Result<bool, StoreError> {
        self.0.delete(id, now)
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.0.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::{MemoryStore, contract};

    // The test double behaves as the real stores do.
    #[test]
    fn the_memory_store_keeps_the_contract() {
        contract::an_empty_board(&MemoryStore::default());
        contract::messages_come_back_in_order_with_their_time(&MemoryStore::default());
        contract::pages_walk_back_through_the_board(&MemoryStore::default());
        contract::clear_hides_everything_and_ids_are_never_reused(&MemoryStore::default());
        contract::a_deleted_message_leaves_a_gap_and_its_id_is_never_reused(&MemoryStore::default());
        contract::pages_fill_past_deleted_messages(&MemoryStore::default());
        contract::posts_racing_deletes_lose_nothing_else(std::sync::Arc::new(
            MemoryStore::default(),
        ));
        contract::concurrent_posts_are_neither_lost_nor_duplicated(std::sync::Arc::new(
            MemoryStore::default(),
        ));
        contract::a_repeated_submission_is_stored_once(&MemoryStore::default());
        contract::racing_submissions_with_one_key_store_one_message(std::sync::Arc::new(
            MemoryStore::default(),
        ));
    }
}
