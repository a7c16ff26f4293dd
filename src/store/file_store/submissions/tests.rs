//! Keyed posts on real files: the contract, a post that fails after its
//! message was linked, writers that die part-way, racing repeats.
use super::super::std_dir::StdDir;
use super::*;
use crate::store::contract::{self, answered, keyed};
use crate::store::{Page, Store};
use std::sync::{Arc, Mutex};

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

fn store_in(dir: &std::path::Path) -> FileStore<StdDir> {
    FileStore::new(StdDir(dir.to_owned()), Timestamp::now, crate::random::os)
}

fn files(root: &std::path::Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(sub))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_repeated_submission_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    contract::a_repeated_submission_is_stored_once(&store_in(dir.path()));
    // One record for each key, whatever became of their messages.
    assert_eq!(files(dir.path(), "board/submissions").len(), 2);
}

#[test]
fn racing_submissions_with_one_key_store_one_message() {
    let dir = tempfile::tempdir().unwrap();
    contract::racing_submissions_with_one_key_store_one_message(Arc::new(store_in(dir.path())));
}

/// `StdDir` that fails the first sync of the messages directory after a
/// link into it (the link is made: a post answered 503 whose message is
/// there), and notes the directories created and synced.
#[derive(Default)]
struct Faulty {
    dir: Option<StdDir>,
    fail_sync_after_link: std::sync::atomic::AtomicBool,
    linked_message: std::sync::atomic::AtomicBool,
    calls: Mutex<Vec<String>>,
}

impl Faulty {
    fn new(root: &std::path::Path) -> Faulty {
        Faulty {
            dir: Some(StdDir(root.to_owned())),
            ..Faulty::default()
        }
    }

    fn dir(&self) -> &StdDir {
        self.dir.as_ref().unwrap()
    }

    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl Dir for Faulty {
    fn create_dir(&self, path: &str) -> Result<(), DirError> {
        let result = self.dir().create_dir(path);
        if result.is_ok() {
            self.note(format!("create {path}"));
        }
        result
    }
    fn write_new(&self, path: &str, contents: &[u8]) -> Result<(), DirError> {
        self.note("write".to_owned());
        self.dir().write_new(path, contents)
    }
    fn link(&self, existing: &str, new: &str) -> Result<(), DirError> {
        let result = self.dir().link(existing, new);
        if result.is_ok() && new.starts_with(MESSAGES) {
            self.linked_message
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        result
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), DirError> {
        self.dir().rename(from, to)
    }
    fn exists(&self, path: &str) -> Result<bool, DirError> {
        self.dir().exists(path)
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, DirError> {
        self.dir().read(path)
    }
    fn list(&self, path: &str) -> Result<Vec<String>, DirError> {
        self.dir().list(path)
    }
    fn remove(&self, path: &str) -> Result<(), DirError> {
        self.dir().remove(path)
    }
    fn sync_dir(&self, path: &str) -> Result<(), DirError> {
        use std::sync::atomic::Ordering::SeqCst;
        if path == MESSAGES
            && self.linked_message.load(SeqCst)
            && self.fail_sync_after_link.swap(false, SeqCst)
        {
            return Err(DirError::Other("EIO (test)".to_owned()));
        }
        self.note(format!("sync {path}"));
        self.dir().sync_dir(path)
    }
}

/// Issue 30: a post whose directory sync fails after the link answers 503,
/// the client retries, and without a key the message is stored twice. With
/// the key, the retry answers the first message and stores nothing.
#[test]
fn a_retry_after_a_failure_past_the_link_answers_the_first_message() {
    let root = tempfile::tempdir().unwrap();
    let faulty = Faulty::new(root.path());
    faulty
        .fail_sync_after_link
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let store = FileStore::new(faulty, Timestamp::now, crate::random::os);
    let hello = keyed("retry", "hello");
    let failed = store.append_once(&hello, "hello", at(1_800_000_000));
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    let retried = store
        .append_once(&hello, "hello", at(1_800_000_001))
        .unwrap();
    let Once::Replayed(message) = retried else {
        panic!("the retry answers the first post: {retried:?}")
    };
    assert_eq!((message.id, message.posted_at), (1, at(1_800_000_000)));
    assert_eq!(contract::texts(&store.page(None, 50).unwrap()), ["hello"]);
    assert_eq!(
        store
            .append_once(&hello, "hello", at(1_800_000_002))
            .unwrap(),
        Once::Replayed(message),
        "and so does every repeat, from the completed record"
    );
    // Without a key, the same failure and retry store the message twice.
    store
        .dir
        .fail_sync_after_link
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(store.append("plain", at(1_800_000_003)).is_err());
    store.append("plain", at(1_800_000_004)).unwrap();
    let page = store.page(None, 50).unwrap();
    assert_eq!(contract::texts(&page), ["hello", "plain", "plain"]);
}

/// Issue 30, item 7: a new directory is only there after a crash once its
/// parent is synced; the store syncs it before using the directory.
#[test]
fn the_parents_of_new_directories_are_synced() {
    let root = tempfile::tempdir().unwrap();
    let store = FileStore::new(Faulty::new(root.path()), Timestamp::now, crate::random::os);
    store.append("first", Timestamp::now()).unwrap();
    let calls = store.dir.calls.lock().unwrap().clone();
    let expected_start = [
        "create board",
        "sync .",
        "create board/messages",
        "create board/cleared",
        "create board/tmp",
        "sync board",
        "write",
    ];
    let start: Vec<&str> = calls.iter().map(String::as_str).take(7).collect();
    assert_eq!(start, expected_start, "{calls:?}");
    store.dir.calls.lock().unwrap().clear();
    store
        .append_once(&keyed("k", "second"), "second", Timestamp::now())
        .unwrap();
    let calls = store.dir.calls.lock().unwrap().clone();
    let created = calls.iter().position(|c| c == "create board/submissions");
    let created = created.unwrap_or_else(|| panic!("{calls:?}"));
    assert_eq!(calls[created + 1], "sync board", "{calls:?}");
    assert_eq!(calls[created + 2], "sync board/submissions", "the claim");
    // Once they exist, nothing more is created or synced for them.
    store.dir.calls.lock().unwrap().clear();
    store.append("third", Timestamp::now()).unwrap();
    let calls = store.dir.calls.lock().unwrap().clone();
    assert_eq!(calls, ["write", "sync board/messages"]);
}

/// A claim as a writer leaves it when it dies after claiming: its
/// temporary file and the record linked to it.
fn dead_claim(root: &std::path::Path, key: &str, text: &str, claimed_at: i64) -> String {
    let store = store_in(root);
    store.ensure_layout().unwrap();
    store.create_dirs(BOARD, &[SUBMISSIONS]).unwrap();
    let submission = keyed(key, text);
    let tmp = format!("{TMP}/{claimed_at}-dead.json");
    let claim = Claimed {
        text,
        posted_at: at(claimed_at),
        submission: ClaimInfo {
            key: submission.name.clone(),
            fingerprint: submission.fingerprint.clone(),
            from: 0,
            tmp: tmp.clone(),
        },
    };
    std::fs::write(root.join(&tmp), serde_json::to_vec(&claim).unwrap()).unwrap();
    std::fs::hard_link(root.join(&tmp), root.join(record_path(&submission.name))).unwrap();
    tmp
}

/// A claim whose writer died after linking its message as #1, at second
/// 1_800_000_000.
fn dead_claim_posted(root: &std::path::Path, key: &str, text: &str) {
    let tmp = dead_claim(root, key, text, 1_800_000_000);
    let first = root.join("board/messages/00000000000000000001.json");
    std::fs::hard_link(root.join(tmp), first).unwrap();
}

#[test]
fn a_claim_whose_writer_died_is_taken_over_after_the_lease() {
    let root = tempfile::tempdir().unwrap();
    let tmp = dead_claim(root.path(), "k", "hello", 1_800_000_000);
    let store = store_in(root.path());
    let hello = keyed("k", "hello");
    let soon = 1_800_000_000 + CLAIM_LEASE_SECS - 1;
    assert_eq!(
        store.append_once(&hello, "hello", at(soon)).unwrap(),
        Once::InProgress
    );
    let other = store
        .append_once(&keyed("k", "bye"), "bye", at(soon))
        .unwrap();
    assert_eq!(other, Once::KeyReused, "the claim's fingerprint answers");
    let late = 1_800_000_000 + CLAIM_LEASE_SECS;
    let Once::Stored(message) = store.append_once(&hello, "hello", at(late)).unwrap() else {
        panic!("the retry takes the silent claim over")
    };
    assert_eq!((message.id, message.posted_at), (1, at(late)));
    assert!(
        !root.path().join(&tmp).exists(),
        "the dead writer is fenced"
    );
    let again = store.append_once(&hello, "hello", at(late + 1)).unwrap();
    assert_eq!(again, Once::Replayed(message));
    assert_eq!(files(root.path(), "board/submissions").len(), 1);
    assert_eq!(contract::texts(&store.page(None, 50).unwrap()), ["hello"]);
}

#[test]
fn a_claimant_that_died_after_posting_is_answered_not_posted_again() {
    let root = tempfile::tempdir().unwrap();
    dead_claim_posted(root.path(), "k", "hello");
    let store = store_in(root.path());
    let answer = store
        .append_once(&keyed("k", "hello"), "hello", at(1_800_000_001))
        .unwrap();
    assert_eq!(answered(answer.clone()).id, 1);
    assert!(matches!(answer, Once::Replayed(_)));
    assert_eq!(contract::texts(&store.page(None, 50).unwrap()), ["hello"]);
}

/// Issue 32: the admin deletes the message of a claimant that died after
/// posting it: a repeat after the lease answers it, never posts it again.
#[test]
fn a_deleted_message_of_a_dead_claimant_is_not_posted_again() {
    let root = tempfile::tempdir().unwrap();
    dead_claim_posted(root.path(), "k", "spam");
    let store = store_in(root.path());
    assert!(store.delete(1, at(1_800_000_001)).unwrap());
    let late = 1_800_000_000 + 2 * CLAIM_LEASE_SECS;
    let answer = store
        .append_once(&keyed("k", "spam"), "spam", at(late))
        .unwrap();
    assert!(matches!(answer, Once::Replayed(_)), "{answer:?}");
    assert_eq!(answered(answer).id, 1);
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    assert_eq!(store.append("next", at(late)).unwrap().id, 2);
}

/// Eight repeats find the same silent claim at once: one takes it over,
/// one message is stored.
#[test]
fn racing_takers_of_a_silent_claim_store_one_message() {
    for round in 0..10 {
        let root = tempfile::tempdir().unwrap();
        dead_claim(root.path(), "k", "hello", 1_800_000_000);
        let store = Arc::new(store_in(root.path()));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .append_once(&keyed("k", "hello"), "hello", at(1_800_000_100))
                        .unwrap()
                })
            })
            .collect();
        let answers: Vec<_> = takers.into_iter().map(|t| t.join().unwrap()).collect();
        let stored = answers
            .iter()
            .filter(|a| matches!(a, Once::Stored(_)))
            .count();
        assert!(stored <= 1, "round {round}: {answers:?}");
        let settled = store
            .append_once(&keyed("k", "hello"), "hello", at(1_800_000_200))
            .unwrap();
        assert_eq!(answered(settled).id, 1, "round {round}: {answers:?}");
        assert_eq!(contract::texts(&store.page(None, 50).unwrap()), ["hello"]);
    }
}

/// A taker that died too, after linking its claim and before replacing the
/// record, leaves its link: the next taker takes over from it in turn.
#[test]
fn a_taker_that_died_is_taken_over_in_turn() {
    let root = tempfile::tempdir().unwrap();
    let first = dead_claim(root.path(), "k", "hello", 1_800_000_000);
    let submission = keyed("k", "hello");
    // The dead taker's claim, linked where takers of the first one link.
    let second_tmp = format!("{TMP}/1800000050-taker.json");
    let claim = Claimed {
        text: "hello",
        posted_at: at(1_800_000_050),
        submission: ClaimInfo {
            key: submission.name.clone(),
            fingerprint: submission.fingerprint.clone(),
            from: 0,
            tmp: second_tmp.clone(),
        },
    };
    std::fs::write(
        root.path().join(&second_tmp),
        serde_json::to_vec(&claim).unwrap(),
    )
    .unwrap();
    let taking = taking_path(&submission.name, &first);
    std::fs::hard_link(root.path().join(&second_tmp), root.path().join(&taking)).unwrap();
    let store = store_in(root.path());
    let answer = store
        .append_once(&submission, "hello", at(1_800_000_055))
        .unwrap();
    assert_eq!(answer, Once::InProgress, "the taker's claim is fresh");
    let answer = store
        .append_once(&submission, "hello", at(1_800_000_100))
        .unwrap();
    assert!(matches!(answer, Once::Stored(_)), "{answer:?}");
    for tmp in [&first, &second_tmp] {
        assert!(!root.path().join(tmp).exists(), "{tmp} fenced");
    }
    assert_eq!(
        files(root.path(), "board/submissions").len(),
        1,
        "links cleaned"
    );
    assert_eq!(store.page(None, 50).unwrap().messages.len(), 1);
    assert_ne!(store.page(None, 50).unwrap(), Page::default());
}
