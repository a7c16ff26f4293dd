//! Posts with an idempotency key on files: one message per key, also when a
//! post fails after its message was linked, when requests with one key
//! race, and when the writer dies part-way.
//!
//! `board/submissions/<name>.json` is the key's record (`name`: the key's
//! hash, `idempotency::Submission`). It is first a *claim*: a hard link of
//! the message file the claimant is about to publish (written under `tmp/`,
//! with the key's name, fingerprint, the claimant's temporary name and the
//! newest id when it claimed), created by `link`, which fails if the name
//! exists: one claimant per key. The claim is synced, then the message is
//! linked from the claimant's temporary file as any post is, and the record
//! replaced (`rename`) by the *posted* record: fingerprint, id, time.
//!
//! A request that finds a posted record answers it (after syncing the
//! messages directory: the first request may have failed before it did). One
//! that finds a claim looks for the claim's message above the id it noted
//! (message files carry the key's name): found, it completes the record and
//! answers that message. Not found, the claimant is still busy (409) unless
//! the claim is older than `CLAIM_LEASE_SECS`: then it takes over. Taking
//! over is exclusive (a link at `<name>.<claimant's tmp>.json`; a taker
//! that finds one there that is itself stale takes over from it in turn) and
//! fences the silent claimant by removing its temporary file, the only file
//! it publishes from; only then does it look for the message once more, so
//! a message linked before the fence is found and one after it cannot be.
//! No timing is needed for that: the lease only decides how long a repeat
//! answers 409 before it takes over.
//!
//! The admin's delete leaves a tombstone that carries no key, so before it
//! replaces a keyed message whose record is still a claim, it completes the
//! record (durably): a repeat then answers the deleted message and never
//! posts it again.

use super::{BOARD, Dir};
use super::{DirError, FileStore, MESSAGES, Source, TMP, temporary_name};
use crate::store::idempotency::{Once, Submission};
use crate::store::{Message, Posted, StoreError};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

const SUBMISSIONS: &str = "board/submissions";
/// A claim whose message has not shown up after this long belongs to a
/// writer that died or hangs (a post takes milliseconds).
const CLAIM_LEASE_SECS: i64 = 10;
/// How often a post looks at a record that changes under it.
const ATTEMPTS: usize = 4;

/// A claim, and the message file it becomes: the message with the key.
#[derive(Serialize, Deserialize)]
struct Claimed<T> {
    text: T,
    posted_at: Timestamp,
    submission: ClaimInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ClaimInfo {
    /// The key's name.
    key: String,
    fingerprint: String,
    /// The newest id when it claimed: its message lands above.
    from: u64,
    /// The temporary file it publishes from.
    tmp: String,
}

enum Record {
    Posted(Posted),
    Claimed(ClaimInfo, Timestamp),
}

/// What installing a claim came to.
enum Installed {
    Yes,
    /// Another request claimed first: look at the record again.
    Lost,
    /// Another request is taking the same silent claim over.
    Busy,
    /// The silent claimant had posted after all.
    Found(Message),
}

fn record_path(name: &str) -> String {
    format!("{SUBMISSIONS}/{name}.json")
}

/// Where a taker of the claim publishing from `tmp` links its own claim.
fn taking_path(name: &str, tmp: &str) -> String {
    let nonce = tmp.trim_start_matches(TMP).trim_start_matches('/');
    let nonce = nonce.trim_end_matches(".json");
    format!("{SUBMISSIONS}/{name}.{nonce}.json")
}

fn parse(bytes: &[u8]) -> Result<Record, StoreError> {
    if let Ok(posted) = serde_json::from_slice::<Posted>(bytes) {
        return Ok(Record::Posted(posted));
    }
    let claimed: Claimed<String> = serde_json::from_slice(bytes)
        .map_err(|error| StoreError::Corrupt(format!("a submission is unreadable: {error}")))?;
    Ok(Record::Claimed(claimed.submission, claimed.posted_at))
}

impl<D: Dir> FileStore<D> {
    pub(super) fn append_keyed(
        &self,
        submission: &Submission,
        text: &str,
        now: Timestamp,
    ) -> Result<Once<Message>, StoreError> {
        self.ensure_layout()?;
        for _ in 0..ATTEMPTS {
            let answer = match self.read_record(&record_path(&submission.name))? {
                None => self.claim(submission, text, now, None)?,
                Some(Record::Posted(posted)) => {
                    // The first request may have failed before this sync.
                    self.dir.sync_dir(MESSAGES)?;
                    Some(posted.answer(submission, text))
                }
                Some(Record::Claimed(claim, _)) if claim.fingerprint != submission.fingerprint => {
                    Some(Once::KeyReused)
                }
                Some(Record::Claimed(claim, claimed_at)) => {
                    if let Some(message) = self.find_posted(&claim.key, claim.from)? {
                        self.complete(submission, &message);
                        self.dir.sync_dir(MESSAGES)?;
                        Some(Once::Replayed(message))
                    } else if now.as_second() - claimed_at.as_second() < CLAIM_LEASE_SECS {
                        Some(Once::InProgress)
                    } else {
                        self.claim(submission, text, now, Some(claim))?
                    }
                }
            };
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
        Err(StoreError::Unavailable(
            "a submission's record kept changing".to_owned(),
        ))
    }

    fn read_record(&self, path: &str) -> Result<Option<Record>, StoreError> {
        match self.dir.read(path) {
            Ok(bytes) => parse(&bytes).map(Some),
            Err(DirError::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Claims the submission (taking `silent`'s claim over, if given) and
    /// posts its message; `None` if another request claimed it first.
    fn claim(
        &self,
        submission: &Submission,
        text: &str,
        now: Timestamp,
        silent: Option<ClaimInfo>,
    ) -> Result<Option<Once<Message>>, StoreError> {
        let from = self.newest_id(self.cleared_up_to()?)?;
        let tmp = temporary_name(now, self.random)?;
        let info = ClaimInfo {
            key: submission.name.clone(),
            fingerprint: submission.fingerprint.clone(),
            from,
            tmp: tmp.clone(),
        };
        let contents = Claimed {
            text,
            posted_at: now,
            submission: info,
        };
        let contents = serde_json::to_vec(&contents).expect("strings, numbers and a time");
        self.dir.write_new(&tmp, &contents)?;
        let installed = match silent {
            None => self.install(&tmp, &submission.name),
            Some(silent) => self.take_over(&tmp, submission, silent, now),
        };
        let answer = match installed {
            Ok(Installed::Yes) => None,
            Ok(Installed::Lost) => Some(None),
            Ok(Installed::Busy) => Some(Some(Once::InProgress)),
            Ok(Installed::Found(message)) => Some(Some(Once::Replayed(message))),
            Err(error) => {
                self.discard(&tmp);
                return Err(error);
            }
        };
        if let Some(answer) = answer {
            self.discard(&tmp);
            return Ok(answer);
        }
        let posted = self.post_from(Source::Claimant(&tmp), text, now);
        self.discard(&tmp);
        match posted {
            Ok(message) => {
                self.complete(submission, &message);
                Ok(Some(Once::Stored(message)))
            }
            Err(failed) => {
                // Nothing was published: a retry may claim again at once.
                // (If something was, the claim stays: a retry finds it.)
                if !failed.linked {
                    self.discard(&record_path(&submission.name));
                }
                Err(failed.error)
            }
        }
    }

    /// Links the claim at `tmp` as the record of `name`, durably.
    fn install(&self, tmp: &str, name: &str) -> Result<Installed, StoreError> {
        let record = record_path(name);
        let mut linked = self.dir.link(tmp, &record);
        if linked == Err(DirError::NotFound) {
            // The first keyed post: the directory is made on demand, so
            // plain posts never look for it.
            self.create_dirs(BOARD, &[SUBMISSIONS])?;
            linked = self.dir.link(tmp, &record);
        }
        match linked {
            Ok(()) => {}
            Err(DirError::Exists) => return Ok(Installed::Lost),
            Err(error) => return Err(error.into()),
        }
        if let Err(error) = self.dir.sync_dir(SUBMISSIONS) {
            self.discard(&record);
            return Err(error.into());
        }
        Ok(Installed::Yes)
    }

    /// Takes over the claim `silent`, whose writer went quiet: see the
    /// module's doc.
    fn take_over(
        &self,
        tmp: &str,
        submission: &Submission,
        silent: ClaimInfo,
        now: Timestamp,
    ) -> Result<Installed, StoreError> {
        let name = &submission.name;
        // The claims to fence: the record's, and those of takers that died
        // before they could replace it.
        let mut chain = vec![silent];
        let mine = loop {
            let taking = taking_path(name, &chain.last().expect("not empty").tmp);
            match self.dir.link(tmp, &taking) {
                Ok(()) => break taking,
                Err(DirError::Exists) => {}
                Err(error) => return Err(error.into()),
            }
            match self.read_record(&taking)? {
                // Its taker replaced the record since: look again.
                None => return Ok(Installed::Lost),
                Some(Record::Claimed(claim, at)) => {
                    if now.as_second() - at.as_second() < CLAIM_LEASE_SECS || chain.len() > ATTEMPTS
                    {
                        return Ok(Installed::Busy);
                    }
                    chain.push(claim);
                }
                Some(Record::Posted(_)) => {
                    return Err(StoreError::Corrupt(format!("{taking} is no claim")));
                }
            }
        };
        let record = record_path(name);
        let release = |result| {
            self.discard(&mine);
            result
        };
        // Still the claim we take over? (A taker that finished renamed its
        // link away, so the name was free again.)
        match self.read_record(&record)? {
            Some(Record::Claimed(claim, _)) if claim == chain[0] => {}
            _ => return release(Ok(Installed::Lost)),
        }
        for claim in &chain {
            if let Err(error) = self.dir.remove(&claim.tmp) {
                return release(Err(error.into()));
            }
        }
        let from = chain.iter().map(|claim| claim.from).min().unwrap_or(0);
        if let Some(message) = self.find_posted(name, from)? {
            self.complete(submission, &message);
            self.discard_chain(name, &chain);
            return release(Ok(Installed::Found(message)));
        }
        self.dir.rename(&mine, &record)?;
        self.dir.sync_dir(SUBMISSIONS)?;
        self.discard_chain(name, &chain);
        Ok(Installed::Yes)
    }

    /// The dead takers' links (the first claim's is the record).
    fn discard_chain(&self, name: &str, chain: &[ClaimInfo]) {
        for claim in &chain[..chain.len() - 1] {
            self.discard(&taking_path(name, &claim.tmp));
        }
    }

    /// The message posted with the key named `key`, if one was: a visible
    /// message above id `from` that carries the key.
    fn find_posted(&self, key: &str, from: u64) -> Result<Option<Message>, StoreError> {
        let floor = self.cleared_up_to()?;
        let newest = self.newest_id(floor)?;
        for id in from.max(floor) + 1..=newest {
            let bytes = match self.dir.read(&Self::message_path(id)) {
                Ok(bytes) => bytes,
                // Collected by a clear that ran meanwhile.
                Err(DirError::NotFound) => continue,
                Err(error) => return Err(error.into()),
            };
            if let Ok(message) = serde_json::from_slice::<Claimed<String>>(&bytes)
                && message.submission.key == key
            {
                return Ok(Some(Message {
                    id,
                    text: message.text,
                    posted_at: message.posted_at,
                }));
            }
        }
        Ok(None)
    }

    /// Replaces the key's record by the posted one. A failure leaves the
    /// claim, which a repeat resolves by finding the message.
    fn complete(&self, submission: &Submission, message: &Message) {
        if let Err(error) = self.write_posted(submission, message) {
            eprintln!("sitebox: board: cannot record a posted submission: {error}");
        }
    }

    /// Replaces the key's record by the posted record of `message`.
    fn write_posted(&self, submission: &Submission, message: &Message) -> Result<(), StoreError> {
        let posted = Posted {
            fingerprint: submission.fingerprint.clone(),
            id: message.id,
            posted_at: message.posted_at,
        };
        let tmp = temporary_name((self.clock)(), self.random)?;
        let written = self
            .dir
            .write_new(&tmp, &posted.encode())
            .and_then(|()| self.dir.rename(&tmp, &record_path(&submission.name)));
        if written.is_err() {
            self.discard(&tmp);
        }
        Ok(written?)
    }

    /// Before the admin deletes message `id` (its file's `bytes`): if the
    /// key it was posted with still has a claim for a record (its writer
    /// died after linking it), the record is completed first, durably, so
    /// a repeat answers the deleted message instead of posting it again.
    pub(super) fn settle_claim_of(&self, id: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let Ok(claimed) = serde_json::from_slice::<Claimed<String>>(bytes) else {
            // A plain post's message.
            return Ok(());
        };
        let info = claimed.submission;
        if !matches!(
            self.read_record(&record_path(&info.key))?,
            Some(Record::Claimed(..))
        ) {
            return Ok(());
        }
        let submission = Submission {
            name: info.key,
            fingerprint: info.fingerprint,
        };
        let message = Message {
            id,
            text: claimed.text,
            posted_at: claimed.posted_at,
        };
        self.write_posted(&submission, &message)?;
        Ok(self.dir.sync_dir(SUBMISSIONS)?)
    }
}

#[cfg(test)]
mod tests;
