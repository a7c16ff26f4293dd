//! How the file store is read: the clear marker, the newest id (galloping
//! over names, looking past gaps), one message, and a page read past
//! tombstones and gaps.

use super::{CLEARED, Dir, DirError, FileStore};
use crate::store::{self, Message, Page, StoreError};

/// Missing ids in a row that the search for the newest message looks past:
/// files deleted by hand (the admin's deletes leave tombstones, no gaps).
const GAP_LOOKAHEAD: u64 = 8;

impl<D: Dir> FileStore<D> {
    /// The largest cleared id: every id up to it is hidden.
    pub(super) fn cleared_up_to(&self) -> Result<u64, DirError> {
        match self.dir.list(CLEARED) {
            Ok(names) => Ok(names
                .iter()
                .filter_map(|n| n.parse().ok())
                .max()
                .unwrap_or(0)),
            Err(DirError::NotFound) => Ok(0),
            Err(error) => Err(error),
        }
    }

    /// The newest id above `floor`: the end of the contiguous run of names
    /// from there, unless one of the next `GAP_LOOKAHEAD` ids exists (a gap
    /// left by a file deleted by hand); then on from that one.
    pub(super) fn newest_id(&self, floor: u64) -> Result<u64, DirError> {
        let mut from = floor;
        loop {
            let end = self.end_of_run(from)?;
            let mut later = None;
            for id in end + 2..=end + 1 + GAP_LOOKAHEAD {
                if self.dir.exists(&Self::message_path(id))? {
                    later = Some(id);
                    break;
                }
            }
            match later {
                Some(id) => from = id,
                None => return Ok(end),
            }
        }
    }

    /// The last id of the run of existing names that starts after `from`
    /// (`from` if none): gallop up, then bisect.
    pub(super) fn end_of_run(&self, from: u64) -> Result<u64, DirError> {
        let exists = |id: u64| self.dir.exists(&Self::message_path(id));
        let mut present = from;
        let mut step = 1;
        while exists(present + step)? {
            present += step;
            step *= 2;
        }
        let mut absent = present + step;
        while absent - present > 1 {
            let middle = present + (absent - present) / 2;
            if exists(middle)? {
                present = middle;
            } else {
                absent = middle;
            }
        }
        Ok(present)
    }

    pub(super) fn read_message(&self, id: u64) -> Result<Option<Message>, StoreError> {
        match self.dir.read(&Self::message_path(id)) {
            Ok(bytes) => store::decode_message(id, &bytes),
            Err(DirError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// One attempt at a consistent page; `None` if a clear moved the marker
    /// while it was read (it may have removed files under our feet: they
    /// would look like gaps), then the caller starts again.
    pub(super) fn try_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Option<Page>, StoreError> {
        let floor = self.cleared_up_to()?;
        let newest = self.newest_id(floor)?;
        let top = before.map_or(newest, |before| newest.min(before.saturating_sub(1)));
        // Newest first, past tombstones and gaps; one more than `limit`
        // tells whether older messages exist.
        let mut messages = Vec::new();
        let mut has_older = false;
        for id in (floor + 1..=top).rev() {
            if let Some(message) = self.read_message(id)? {
                if messages.len() == limit {
                    has_older = true;
                    break;
                }
                messages.push(message);
            }
        }
        if self.cleared_up_to()? != floor {
            return Ok(None);
        }
        messages.reverse();
        Ok(Some(Page {
            messages,
            has_older,
        }))
    }
}
