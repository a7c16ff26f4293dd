//! The board kept in the data directory, correct with many instances writing
//! at once (every request is a fresh instance, in our runner and under
//! `wasmtime serve`) and with the process killed at any moment.
//!
//! Layout below the data root:
//!
//! ```text
//! board/messages/<id:020>.json   one file per message (or its tombstone)
//! board/cleared/<id:020>         markers: every id up to the largest is cleared
//! board/tmp/<secs>-<random>.json messages being written
//! board/submissions/<key>.json   posts with an idempotency key (`submissions`)
//! ```
//!
//! - Every directory the store creates is made durable in its parent (the
//!   parent is synced) before it is used, so the first post after a crash
//!   is not lost with a directory entry that never reached the disk.
//!
//! - A message is written and synced under `tmp/`, then hard-linked to its
//!   final name. The link both publishes it whole (readers never see a partial
//!   file) and claims its id: it fails if the name exists, so two writers never
//!   get the same id. The directory is synced before the post is answered.
//! - The visible messages are the ids above the largest marker, and their
//!   names are contiguous: a writer only tries id + 1 after finding id
//!   taken. So the newest id is found by galloping from the marker with
//!   existence checks — O(log n), no directory listing — and a page reads
//!   its own files (and one more, to tell whether older ones exist).
//! - The admin's delete replaces the message with a *tombstone* (`rename`
//!   of a synced temporary file: atomic, durable once the directory is
//!   synced), so its name stays taken and its id is never handed out
//!   again; pages read past tombstones. A file deleted by hand is a gap
//!   that the search for the newest looks past (up to `GAP_LOOKAHEAD`
//!   missing ids in a row), and pages read past it too.
//! - A clear creates the marker for the newest id (the largest marker wins, so
//!   concurrent clears never go back), then deletes what it hides. Readers
//!   switch from the old board to the empty one at the marker's creation; the
//!   deletions are garbage collection, and a crash part-way only leaves hidden
//!   files for the next clear to remove.

use crate::random::{self, Random};
use crate::store::idempotency::{Once, Submission};
use crate::store::{self, Message, Page, Store, StoreError};
use jiff::Timestamp;

mod reading;
mod submissions;

/// The file operations the store needs, relative to the data root: the
/// component implements them with `wasi:filesystem`, tests with `std::fs`.
pub trait Dir {
    /// `Err(Exists)` if it is already there.
    fn create_dir(&self, path: &str) -> Result<(), DirError>;
    /// Creates `path` (`Err(Exists)` if it exists), writes `contents` and
    /// syncs them to disk.
    fn write_new(&self, path: &str, contents: &[u8]) -> Result<(), DirError>;
    /// Hard-links `existing` as `new`; `Err(Exists)` if `new` exists.
    fn link(&self, existing: &str, new: &str) -> Result<(), DirError>;
    /// Renames `from` to `to`, replacing `to` if it exists, atomically.
    fn rename(&self, from: &str, to: &str) -> Result<(), DirError>;
    fn exists(&self, path: &str) -> Result<bool, DirError>;
    fn read(&self, path: &str) -> Result<Vec<u8>, DirError>;
    /// The names in directory `path`.
    fn list(&self, path: &str) -> Result<Vec<String>, DirError>;
    fn remove(&self, path: &str) -> Result<(), DirError>;
    /// Syncs directory `path` (`.` is the data root), making the entries
    /// created in it durable.
    fn sync_dir(&self, path: &str) -> Result<(), DirError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirError {
    NotFound,
    Exists,
    Other(String),
}

impl From<DirError> for StoreError {
    fn from(error: DirError) -> Self {
        match error {
            // The store creates what it reads, so a missing or doubled entry
            // where it expects none means someone else changed the directory.
            DirError::NotFound => StoreError::Corrupt("an entry went missing".to_owned()),
            DirError::Exists => StoreError::Corrupt("an entry exists already".to_owned()),
            DirError::Other(detail) => StoreError::Unavailable(detail),
        }
    }
}

/// The data root, as `sync_dir` names it.
const ROOT: &str = ".";
const BOARD: &str = "board";
const MESSAGES: &str = "board/messages";
const CLEARED: &str = "board/cleared";
const TMP: &str = "board/tmp";

/// Temporary files older than this belong to writers that died.
const ABANDONED_AFTER_SECS: i64 = 3600;

pub struct FileStore<D> {
    dir: D,
    /// The time, for the age of temporary files (garbage collection).
    clock: fn() -> Timestamp,
    /// For the names of temporary files.
    random: Random,
}

impl<D: Dir> FileStore<D> {
    pub fn new(dir: D, clock: fn() -> Timestamp, random: Random) -> Self {
        FileStore { dir, clock, random }
    }

    fn message_path(id: u64) -> String {
        format!("{MESSAGES}/{id:020}.json")
    }

    fn ensure_layout(&self) -> Result<(), DirError> {
        self.create_dirs(ROOT, &[BOARD])?;
        self.create_dirs(BOARD, &[MESSAGES, CLEARED, TMP])
    }

    /// Creates the directories of `paths` that are missing, then syncs their
    /// `parent` if it made any: a new directory is only there after a crash
    /// once its entry in the parent is on disk.
    fn create_dirs(&self, parent: &str, paths: &[&str]) -> Result<(), DirError> {
        let mut created = false;
        for path in paths {
            match self.dir.create_dir(path) {
                Ok(()) => created = true,
                Err(DirError::Exists) => {}
                Err(error) => return Err(error),
            }
        }
        if created {
            self.dir.sync_dir(parent)?;
        }
        Ok(())
    }

    /// Publishes a message (`text`, `posted_at`) from `source`: links it at
    /// the first free id above the clear marker and makes the link durable.
    /// A clear that ran meanwhile frees the ids below its marker as it
    /// collects them, and a writer galloping from the older floor can land
    /// on one: acknowledged, never shown. So the marker is read again after
    /// the link, as the post's last step, and the message linked again above
    /// it if it landed below.
    fn post_from(
        &self,
        source: Source,
        text: &str,
        posted_at: Timestamp,
    ) -> Result<Message, Failed> {
        let mut linked = false;
        let mut floor = self.cleared_up_to().map_err(Failed::at(linked))?;
        loop {
            let id = match source {
                Source::Contents(contents) => self.link_new(contents, posted_at, floor),
                Source::Claimant(tmp) => self.link_above(tmp, floor).map_err(StoreError::from),
            };
            let id = id.map_err(Failed::at(linked))?;
            linked = true;
            self.dir.sync_dir(MESSAGES).map_err(Failed::at(linked))?;
            let now = self.cleared_up_to().map_err(Failed::at(linked))?;
            if id > now {
                return Ok(Message {
                    id,
                    text: text.to_owned(),
                    posted_at,
                });
            }
            // Hidden, so no reader looks at it; the next clear would
            // collect it anyway.
            let _ = self.dir.remove(&Self::message_path(id));
            floor = now;
        }
    }

    /// Writes `contents` under a new temporary name and links it at the
    /// first free id above `floor`; the temporary name goes, as the message
    /// lives on under its final name.
    fn link_new(
        &self,
        contents: &[u8],
        posted_at: Timestamp,
        floor: u64,
    ) -> Result<u64, StoreError> {
        let tmp = temporary_name(posted_at, self.random)?;
        self.dir.write_new(&tmp, contents)?;
        let linked = self.link_above(&tmp, floor);
        self.discard(&tmp);
        Ok(linked?)
    }

    /// Removes a temporary file whose content lives on under another name,
    /// or is not needed; a failure only leaves garbage for a clear.
    fn discard(&self, tmp: &str) {
        if let Err(error) = self.dir.remove(tmp) {
            eprintln!("sitebox: board: cannot remove {tmp}: {error:?}");
        }
    }

    /// Links `tmp` at the first free id after the newest above `floor`: the
    /// link fails if another writer got there first, then look again.
    fn link_above(&self, tmp: &str, floor: u64) -> Result<u64, DirError> {
        let mut id = self.newest_id(floor)? + 1;
        loop {
            match self.dir.link(tmp, &Self::message_path(id)) {
                Ok(()) => return Ok(id),
                Err(DirError::Exists) => id = self.newest_id(id)? + 1,
                Err(error) => return Err(error),
            }
        }
    }

    /// Deletes what the markers hide, the markers below the largest, and
    /// temporary files abandoned by writers that died. Failures only leave
    /// garbage, so they are logged, not reported.
    fn collect_garbage(&self, cleared: u64) {
        let ids_in = |path: &'static str| {
            self.dir
                .list(path)
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |name| {
                    let id = name
                        .strip_suffix(".json")
                        .unwrap_or(&name)
                        .parse::<u64>()
                        .ok()?;
                    Some((id, format!("{path}/{name}")))
                })
        };
        let hidden = ids_in(MESSAGES).filter(|(id, _)| *id <= cleared);
        let old_markers = ids_in(CLEARED).filter(|(id, _)| *id < cleared);
        let now = (self.clock)().as_second();
        let abandoned = self
            .dir
            .list(TMP)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| {
                let written: i64 = name.split('-').next()?.parse().ok()?;
                (now - written > ABANDONED_AFTER_SECS).then(|| format!("{TMP}/{name}"))
            });
        for path in hidden
            .chain(old_markers)
            .map(|(_, path)| path)
            .chain(abandoned)
        {
            if let Err(error) = self.dir.remove(&path) {
                eprintln!("sitebox: board: cannot remove {path}: {error:?}");
            }
        }
    }
}

impl<D: Dir> Store for FileStore<D> {
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError> {
        self.ensure_layout()?;
        let contents = store::encode_message(text, posted_at);
        self.post_from(Source::Contents(&contents), text, posted_at)
            .map_err(|failed| failed.error)
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
            "the board kept changing while being read",
        )
    }

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError> {
        if id <= self.cleared_up_to()? {
            return Ok(None);
        }
        self.read_message(id)
    }

    fn delete(&self, id: u64, now: Timestamp) -> Result<bool, StoreError> {
        if id <= self.cleared_up_to()? {
            return Ok(false);
        }
        let path = Self::message_path(id);
        let bytes = match self.dir.read(&path) {
            Ok(bytes) => bytes,
            Err(DirError::NotFound) => return Ok(false),
            Err(error) => return Err(error.into()),
        };
        if store::decode_message(id, &bytes)?.is_none() {
            return Ok(false);
        }
        self.settle_claim_of(id, &bytes)?;
        // Its name stays taken, so the id is never handed out again.
        let tmp = temporary_name(now, self.random)?;
        self.dir.write_new(&tmp, &store::encode_tombstone(now))?;
        if let Err(error) = self.dir.rename(&tmp, &path) {
            self.discard(&tmp);
            return Err(error.into());
        }
        self.dir.sync_dir(MESSAGES)?;
        // A clear that hid the id meanwhile may have collected the message
        // before the rename: the tombstone is then its garbage.
        if id <= self.cleared_up_to()? {
            self.discard(&path);
        }
        Ok(true)
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.ensure_layout()?;
        let floor = self.cleared_up_to()?;
        let newest = self.newest_id(floor)?;
        if newest > floor {
            match self.dir.write_new(&format!("{CLEARED}/{newest:020}"), b"") {
                Ok(()) | Err(DirError::Exists) => {}
                Err(error) => return Err(error.into()),
            }
            self.dir.sync_dir(CLEARED)?;
        }
        self.collect_garbage(newest);
        Ok(())
    }
}

/// Why a post failed, and whether its message was linked (it may then be
/// on the board although the post failed).
struct Failed {
    error: StoreError,
    linked: bool,
}

impl Failed {
    /// `error` as a post's failure, after its message was `linked` or not.
    fn at<E: Into<StoreError>>(linked: bool) -> impl FnOnce(E) -> Failed {
        move |error| Failed {
            error: error.into(),
            linked,
        }
    }
}

/// Where a post's message comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A plain post's file contents, written anew for each link and its
    /// temporary file removed at once, so reading the marker again is the
    /// post's last step.
    Contents(&'a [u8]),
    /// A keyed post's temporary file, linked from every time and kept until
    /// the post ends: a taker fences the claimant by removing it.
    Claimant(&'a str),
}

/// A name no other writer will pick: the time (for garbage collection) and
/// 64 random bits.
fn temporary_name(now: Timestamp, random: Random) -> Result<String, StoreError> {
    let random = random::hex::<8>(random)
        .map_err(|reason| StoreError::Unavailable(format!("no randomness: {reason}")))?;
    Ok(format!("{TMP}/{}-{random}.json", now.as_second()))
}

#[cfg(test)]
pub mod std_dir;
#[cfg(test)]
mod tests;
