//! The key-value store against an in-memory bucket: the same invariants as
//! the file store's tests (order, paging, clearing, dead writers, many
//! threads), posts racing clears, and a failing host.
use super::memory::MemoryBucket;
use super::*;
use crate::store::contract::{self, texts};
use std::sync::Arc;

fn store() -> KvStore<MemoryBucket> {
    KvStore::new(MemoryBucket::default())
}

#[test]
fn an_empty_board() {
    contract::an_empty_board(&store());
}

#[test]
fn messages_come_back_in_order_with_their_time() {
    contract::messages_come_back_in_order_with_their_time(&store());
}

#[test]
fn pages_walk_back_through_the_board() {
    contract::pages_walk_back_through_the_board(&store());
}

#[test]
fn clear_hides_everything_and_ids_are_never_reused() {
    let store = store();
    contract::clear_hides_everything_and_ids_are_never_reused(&store);
    // What the clear hid is deleted: only the new message and the counters
    // remain.
    assert_eq!(
        store.bucket().keys(),
        [CLEARED, COLLECTED, "board:message:4", NEXT_ID]
    );
}

#[test]
fn a_page_takes_one_get_many_whatever_its_size() {
    let store = store();
    for i in 0..300 {
        store.append(&format!("m{i}"), Timestamp::now()).unwrap();
    }
    store.bucket().take_calls();
    let page = store.page(None, 200).unwrap();
    assert_eq!(page.messages.len(), 200);
    assert_eq!((page.messages[0].id, page.has_older), (101, true));
    assert_eq!(
        store.bucket().take_calls(),
        ["get", "get", "get-many", "get"]
    );
    store.append("one more", Timestamp::now()).unwrap();
    assert_eq!(store.bucket().take_calls(), ["increment", "set", "get"]);
}

#[test]
fn a_post_that_died_after_taking_its_id_leaves_a_gap() {
    let store = store();
    store.append("before", Timestamp::now()).unwrap();
    // A writer took id 2 and died before writing it.
    store.bucket().increment(NEXT_ID, 1).unwrap();
    store.append("after", Timestamp::now()).unwrap();
    let page = store.page(None, 50).unwrap();
    let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!((texts(&page), ids), (vec!["before", "after"], vec![1, 3]));
    assert_eq!(store.get(2).unwrap(), None);
    // The gap counts toward a page's window, and paging goes on below it.
    let newest = store.page(None, 2).unwrap();
    assert_eq!((texts(&newest), newest.has_older), (vec!["after"], true));
    assert_eq!(texts(&store.page(Some(3), 2).unwrap()), ["before"]);
}

#[test]
fn counters_that_are_not_decimal_text_are_read_by_increment() {
    let store = store();
    store.append("one", Timestamp::now()).unwrap();
    // A value `get` cannot read as a number goes to `increment(key, 0)`,
    // the host's own reading of its counters (this bucket's fails on it too).
    store.bucket().set(NEXT_ID, b" 1").unwrap();
    store.bucket().take_calls();
    assert!(matches!(store.counter(NEXT_ID), Err(KvError(_))));
    assert_eq!(store.bucket().take_calls(), ["get", "increment"]);
}

#[test]
fn an_unreadable_message_is_an_internal_error() {
    let store = store();
    store.append("fine", Timestamp::now()).unwrap();
    store.bucket().set("board:message:1", b"{\"te").unwrap();
    assert!(matches!(store.page(None, 50), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.get(1), Err(StoreError::Corrupt(_))));
}

#[test]
fn a_failing_host_makes_the_store_unavailable_and_loses_nothing() {
    let store = store();
    store.append("kept", Timestamp::now()).unwrap();
    store.bucket().set_failing(true);
    let unavailable = |result: Result<(), StoreError>| {
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        )
    };
    unavailable(store.append("lost", Timestamp::now()).map(drop));
    unavailable(store.page(None, 50).map(drop));
    unavailable(store.get(1).map(drop));
    unavailable(store.clear());
    store.bucket().set_failing(false);
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["kept"]);
}

#[test]
fn concurrent_posts_are_neither_lost_nor_duplicated() {
    contract::concurrent_posts_are_neither_lost_nor_duplicated(Arc::new(store()));
}

/// Writers, clearers and readers at once (`contract`).
#[test]
fn posts_racing_clears_are_never_lost() {
    // One round catches a store without the re-check about every other time.
    for _ in 0..10 {
        contract::posts_racing_clears_are_never_lost(
            Arc::new(store()),
            |store| store.counter(CLEARED).unwrap(),
            || MemoryBucket::last_call_on_this_thread().unwrap(),
            150,
        );
    }
}

/// Clears at once may push the marker past the newest id; no id it covers
/// is handed out afterwards, so a post after they all returned shows.
#[test]
fn racing_clears_never_hide_a_later_post() {
    let store = Arc::new(store());
    for round in 0..40 {
        for i in 0..5 {
            store.append(&format!("m{i}"), Timestamp::now()).unwrap();
        }
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let clearers: Vec<_> = (0..4)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.clear().unwrap();
                })
            })
            .collect();
        for clearer in clearers {
            clearer.join().unwrap();
        }
        let after = store
            .append(&format!("after {round}"), Timestamp::now())
            .unwrap();
        assert_eq!(store.page(None, 50).unwrap().messages, [after]);
    }
}
