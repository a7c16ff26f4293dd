//! A bucket in memory, for host tests of the key-value store: each call is
//! atomic (one lock), as on every real host; it can be told to fail (also
//! after applying a write, as when the host's answer is lost), and it notes
//! when the calling thread last touched it. `like_nats` makes it behave as
//! wasmCloud's NATS JetStream backend: keys only in NATS's alphabet,
//! counters as 8 big-endian bytes, and an increment that reads, then writes
//! only if no one wrote in between (else it fails), or simply writes if the
//! key was missing.

use super::{Bucket, KvError};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Default)]
pub struct MemoryBucket {
    entries: Mutex<HashMap<String, Vec<u8>>>,
    failing: AtomicBool,
    /// The next `set` or `increment` of a key starting with this is applied,
    /// then answered with an error.
    lost_answer: Mutex<Option<&'static str>>,
    calls: Mutex<Vec<&'static str>>,
    nats: bool,
}

thread_local! {
    static LAST_CALL: Cell<Option<Instant>> = const { Cell::new(None) };
}

impl MemoryBucket {
    pub fn like_nats() -> Self {
        MemoryBucket {
            nats: true,
            ..MemoryBucket::default()
        }
    }

    /// NATS's `is_valid_key` (async-nats `jetstream/kv`).
    fn check_key(&self, key: &str) -> Result<(), KvError> {
        let valid = !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b));
        if self.nats && !valid {
            return Err(KvError(format!("invalid key: {key} (test)")));
        }
        Ok(())
    }

    /// From now on every call fails (`true`) or works again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// The next `set` or `increment` of a key starting with `prefix` takes
    /// effect but fails, as a write the host applied and answered too late.
    pub fn lose_next_answer(&self, prefix: &'static str) {
        *self.lost_answer.lock().unwrap() = Some(prefix);
    }

    /// An error if `key`'s answer is to be lost (and that only once).
    fn answer(&self, key: &str) -> Result<(), KvError> {
        let mut lost = self.lost_answer.lock().unwrap();
        if lost.is_some_and(|prefix| key.starts_with(prefix)) {
            *lost = None;
            return Err(KvError("no answer in time (test)".to_owned()));
        }
        Ok(())
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.entries.lock().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The calls made so far, by name, and forgets them.
    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }

    /// When this thread's latest call took effect.
    pub fn last_call_on_this_thread() -> Option<Instant> {
        LAST_CALL.with(Cell::get)
    }

    fn with<T>(
        &self,
        name: &'static str,
        call: impl FnOnce(&mut HashMap<String, Vec<u8>>) -> T,
    ) -> Result<T, KvError> {
        // Let other threads in between calls, as a network round trip would.
        std::thread::yield_now();
        self.calls.lock().unwrap().push(name);
        if self.failing.load(Ordering::SeqCst) {
            return Err(KvError("the bucket is failing (test)".to_owned()));
        }
        let mut entries = self.entries.lock().unwrap();
        let result = call(&mut entries);
        LAST_CALL.with(|last| last.set(Some(Instant::now())));
        Ok(result)
    }
}

impl Bucket for MemoryBucket {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.check_key(key)?;
        self.with("get", |entries| entries.get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.check_key(key)?;
        self.with("set", |entries| {
            entries.insert(key.to_owned(), value.to_owned());
        })?;
        self.answer(key)
    }

    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        self.check_key(key)?;
        if self.nats {
            return self.increment_like_nats(key, delta);
        }
        let new = self.with("increment", |entries| {
            let value = entries
                .entry(key.to_owned())
                .or_insert_with(|| b"0".to_vec());
            let current: u64 = std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| KvError(format!("{key} is not a counter")))?;
            let new = current
                .checked_add(delta)
                .ok_or_else(|| KvError(format!("{key} overflows")))?;
            *value = new.to_string().into_bytes();
            Ok(new)
        })??;
        self.answer(key).map(|()| new)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        keys.iter().try_for_each(|key| self.check_key(key))?;
        self.with("get-many", |entries| {
            keys.iter().map(|key| entries.get(key).cloned()).collect()
        })
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        keys.iter().try_for_each(|key| self.check_key(key))?;
        self.with("delete-many", |entries| {
            for key in keys {
                entries.remove(key);
            }
        })
    }
}

impl MemoryBucket {
    /// wasmCloud's NATS `increment`: read, add, then write at the revision
    /// read (fails if another write came in between) or, for a missing key,
    /// a plain write.
    fn increment_like_nats(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        let read = self.with("increment", |entries| entries.get(key).cloned())?;
        let current = match &read {
            None => 0,
            Some(bytes) => u64::from_be_bytes(
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| KvError(format!("{key} is not a counter")))?,
            ),
        };
        let new = current
            .checked_add(delta)
            .ok_or_else(|| KvError(format!("{key} overflows")))?;
        // The round trip between the read and the write.
        std::thread::yield_now();
        let mut entries = self.entries.lock().unwrap();
        if read.is_some() && entries.get(key) != read.as_ref() {
            return Err(KvError("wrong last sequence (test)".to_owned()));
        }
        entries.insert(key.to_owned(), new.to_be_bytes().to_vec());
        Ok(new)
    }
}
