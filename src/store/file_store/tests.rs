//! The file store against real files: order, paging, clearing, crashes
//! part-way, and many threads at once.
use super::std_dir::StdDir;
use super::*;
use crate::store::contract::{self, texts};
use std::sync::Arc;

fn store() -> (tempfile::TempDir, FileStore<StdDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(
        StdDir(dir.path().to_owned()),
        Timestamp::now,
        crate::random::os,
    );
    (dir, store)
}

#[test]
fn an_empty_board() {
    contract::an_empty_board(&store().1);
}

#[test]
fn messages_come_back_in_order_with_their_time() {
    contract::messages_come_back_in_order_with_their_time(&store().1);
}

#[test]
fn pages_walk_back_through_the_board() {
    contract::pages_walk_back_through_the_board(&store().1);
}

#[test]
fn clear_hides_everything_and_ids_are_never_reused() {
    let (dir, store) = store();
    contract::clear_hides_everything_and_ids_are_never_reused(&store);
    // Garbage collected: only the new message and one marker remain.
    let files = |sub: &str| std::fs::read_dir(dir.path().join(sub)).unwrap().count();
    assert_eq!(files("board/messages"), 1);
    assert_eq!(files("board/cleared"), 1);
    assert_eq!(files("board/tmp"), 0);
}

#[test]
fn a_deleted_message_leaves_a_gap_and_its_id_is_never_reused() {
    let (dir, store) = store();
    contract::a_deleted_message_leaves_a_gap_and_its_id_is_never_reused(&store);
    // The clear collected the deleted messages' tombstones too.
    let files = std::fs::read_dir(dir.path().join("board/messages")).unwrap();
    assert_eq!(files.count(), 1);
}

#[test]
fn pages_fill_past_deleted_messages() {
    contract::pages_fill_past_deleted_messages(&store().1);
}

#[test]
fn posts_racing_deletes_lose_nothing_else() {
    contract::posts_racing_deletes_lose_nothing_else(Arc::new(store().1));
}

/// Issue 32: a message file deleted by hand (the only moderation there
/// was) hid every later message, and the next post took its id.
#[test]
fn files_deleted_by_hand_are_gaps_not_the_end_of_the_board() {
    let (dir, store) = store();
    for i in 1..=20 {
        store.append(&format!("m{i}"), Timestamp::now()).unwrap();
    }
    for id in [2, 4, 5, 6, 12] {
        std::fs::remove_file(dir.path().join(format!("board/messages/{id:020}.json"))).unwrap();
    }
    let page = store.page(None, 50).unwrap();
    assert_eq!(page.messages.len(), 15);
    assert_eq!(page.messages.last().unwrap().text, "m20");
    assert_eq!(store.append("m21", Timestamp::now()).unwrap().id, 21);
    assert_eq!(store.get(20).unwrap().unwrap().text, "m20");
}

#[test]
fn half_written_messages_never_show() {
    let (dir, store) = store();
    store.append("whole", Timestamp::now()).unwrap();
    // A writer killed after writing its temporary file, before the link.
    let now = Timestamp::now().as_second();
    std::fs::write(
        dir.path().join(format!("board/tmp/{now}-dead.json")),
        b"{\"te",
    )
    .unwrap();
    // A writer killed after the link, before removing its temporary file.
    let tmp = dir.path().join(format!("board/tmp/{now}-linked.json"));
    std::fs::write(
        &tmp,
        br#"{"text":"linked","posted_at":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    std::fs::hard_link(
        &tmp,
        dir.path().join("board/messages/00000000000000000002.json"),
    )
    .unwrap();
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["whole", "linked"]);
    assert_eq!(store.append("next", Timestamp::now()).unwrap().id, 3);
}

#[test]
fn abandoned_temporary_files_are_collected_by_clear() {
    let (dir, store) = store();
    store.append("x", Timestamp::now()).unwrap();
    let old = Timestamp::now().as_second() - 2 * ABANDONED_AFTER_SECS;
    let fresh = Timestamp::now().as_second();
    std::fs::write(dir.path().join(format!("board/tmp/{old}-old.json")), b"x").unwrap();
    std::fs::write(
        dir.path().join(format!("board/tmp/{fresh}-busy.json")),
        b"x",
    )
    .unwrap();
    store.clear().unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path().join("board/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left,
        [format!("{fresh}-busy.json")],
        "a writer still busy keeps its file"
    );
}

#[test]
fn concurrent_posts_are_neither_lost_nor_duplicated() {
    let (_dir, store) = store();
    contract::concurrent_posts_are_neither_lost_nor_duplicated(Arc::new(store));
}

/// `StdDir`, with one thing to run just before the first `link`.
struct BeforeLink {
    dir: StdDir,
    hook: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Dir for BeforeLink {
    fn create_dir(&self, path: &str) -> Result<(), DirError> {
        self.dir.create_dir(path)
    }
    fn write_new(&self, path: &str, contents: &[u8]) -> Result<(), DirError> {
        self.dir.write_new(path, contents)
    }
    fn link(&self, existing: &str, new: &str) -> Result<(), DirError> {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.dir.link(existing, new)
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), DirError> {
        self.dir.rename(from, to)
    }
    fn exists(&self, path: &str) -> Result<bool, DirError> {
        self.dir.exists(path)
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, DirError> {
        self.dir.read(path)
    }
    fn list(&self, path: &str) -> Result<Vec<String>, DirError> {
        self.dir.list(path)
    }
    fn remove(&self, path: &str) -> Result<(), DirError> {
        self.dir.remove(path)
    }
    fn sync_dir(&self, path: &str) -> Result<(), DirError> {
        self.dir.sync_dir(path)
    }
}

/// The race of issue 17, made to happen: a writer has picked id 4, then
/// another writer takes 4 and a clear hides it and deletes its file, all
/// before the first writer's link. That link now succeeds below the marker;
/// the post must still be acknowledged only where it shows.
#[test]
fn a_post_whose_id_a_clear_freed_is_posted_again_above_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let other = FileStore::new(
        StdDir(dir.path().to_owned()),
        Timestamp::now,
        crate::random::os,
    );
    for text in ["a", "b", "c"] {
        other.append(text, Timestamp::now()).unwrap();
    }
    let racing = {
        let path = dir.path().to_owned();
        move || {
            let other = FileStore::new(StdDir(path), Timestamp::now, crate::random::os);
            assert_eq!(other.append("x", Timestamp::now()).unwrap().id, 4);
            other.clear().unwrap();
        }
    };
    let store = FileStore::new(
        BeforeLink {
            dir: StdDir(dir.path().to_owned()),
            hook: std::sync::Mutex::new(Some(Box::new(racing))),
        },
        Timestamp::now,
        crate::random::os,
    );
    let posted = store.append("late", Timestamp::now()).unwrap();
    assert_eq!(posted.id, 5, "posted again above the clear's marker, 4");
    assert_eq!(store.get(posted.id).unwrap().unwrap().text, "late");
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["late"]);
    let files = std::fs::read_dir(dir.path().join("board/messages"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "the hidden copy at 4 is removed");
}

/// Writers, clearers and readers at once (`contract`). Without the marker's
/// re-check after the link, a post could land below a clear's marker and be
/// acknowledged, never shown (issue 17).
#[test]
fn posts_racing_clears_are_never_lost() {
    // Without the re-check, one round caught it about every third time.
    for _ in 0..8 {
        let (_dir, store) = store();
        contract::posts_racing_clears_are_never_lost(
            Arc::new(store),
            |store| store.cleared_up_to().unwrap(),
            || StdDir::last_call_on_this_thread().unwrap(),
            40,
        );
    }
}

/// Posts and clears racing: every page read shows a contiguous run of
/// whole messages, and after the dust settles everything posted after the
/// last clear is there.
#[test]
fn clears_racing_with_posts_leave_a_consistent_board() {
    let (_dir, store) = store();
    let store = Arc::new(store);
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    store
                        .append(&format!("w{t}-{i}"), Timestamp::now())
                        .unwrap();
                }
            })
        })
        .collect();
    let clearer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..10 {
                store.clear().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut consistent_reads = 0;
            for _ in 0..200 {
                // Under constant clears a read may give up (a 503 the client
                // retries, seen on a loaded machine); one it returns is whole.
                let page = match store.page(None, 1000) {
                    Ok(page) => page,
                    Err(StoreError::Unavailable(_)) => continue,
                    Err(other) => panic!("{other:?}"),
                };
                let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
                assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "a gap: {ids:?}");
                assert!(page.messages.iter().all(|m| m.text.starts_with('w')));
                consistent_reads += 1;
            }
            assert!(consistent_reads > 0, "no read got through");
        })
    };
    for thread in writers {
        thread.join().unwrap();
    }
    clearer.join().unwrap();
    reader.join().unwrap();
    let after = store.append("last", Timestamp::now()).unwrap();
    let page = store.page(None, 1000).unwrap();
    assert_eq!(page.messages.last().unwrap(), &after);
    store.clear().unwrap();
    assert_eq!(store.page(None, 1000).unwrap(), Page::default());
}
