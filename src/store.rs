//! The board's storage as the board logic sees it: a small trait (append,
//! read a page, get one, clear) with an in-memory implementation for unit
//! tests. `file_store` implements it on the data directory; a key-value
//! backend for edge hosts would implement the same four methods.

use jiff::Timestamp;
use std::fmt;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub trait Store {
    /// Stores `text`, durably, before returning the message.
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError>;

    /// Up to `limit` of the newest messages with an id below `before` (all
    /// ids when `None`), oldest first.
    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError>;

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError>;

    /// Removes every message, at once as far as readers can tell.
    fn clear(&self) -> Result<(), StoreError>;
}

/// The board in memory, for unit tests of the board logic.
#[cfg(test)]
#[derive(Default)]
pub struct MemoryStore {
    state: std::sync::Mutex<(Vec<Message>, u64)>,
}

#[cfg(test)]
impl Store for MemoryStore {
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError> {
        let mut state = self.state.lock().unwrap();
        let (messages, last_id) = &mut *state;
        *last_id += 1;
        let message = Message {
            id: *last_id,
            text: text.to_owned(),
            posted_at,
        };
        messages.push(message.clone());
        Ok(message)
    }

    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError> {
        let state = self.state.lock().unwrap();
        let eligible: Vec<&Message> = state
            .0
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
        Ok(state.0.iter().find(|m| m.id == id).cloned())
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.state.lock().unwrap().0.clear();
        Ok(())
    }
}
