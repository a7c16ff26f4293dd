//! The file store against real files: order, paging, clearing, crashes
//! part-way, and many threads at once.
use super::std_dir::StdDir;
use super::*;
use crate::store::contract::{self, texts};
use std::sync::Arc;

fn store() -> (tempfile::TempDir, FileStore<StdDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(StdDir(dir.path().to_owned()));
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
            for _ in 0..200 {
                let page = store.page(None, 1000).unwrap();
                let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
                assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "a gap: {ids:?}");
                assert!(page.messages.iter().all(|m| m.text.starts_with('w')));
            }
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
