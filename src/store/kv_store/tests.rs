//! The key-value store against an in-memory bucket: the same invariants as
//! the file store's tests (order, paging, clearing, dead writers, many
//! threads), posts racing clears, and a failing host.
use super::memory::MemoryBucket;
use super::*;
use crate::store::contract::{self, texts};
use crate::store::idempotency::Once;
use std::sync::Arc;

thread_local! {
    /// The time the store sees on this thread, in seconds: fixed, so that
    /// racing keyed posts share a claim window; tests move it.
    static NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(1_800_000_000) };
}

fn test_clock() -> Timestamp {
    Timestamp::from_second(NOW.with(std::cell::Cell::get)).unwrap()
}

fn store() -> KvStore<MemoryBucket> {
    KvStore::new(MemoryBucket::default(), test_clock, crate::random::os)
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
        [
            "board.cleared-up-to",
            "board.collected-up-to",
            "board.message.4",
            "board.next-id"
        ]
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
    store.bucket().increment("board.next-id", 1).unwrap();
    store.append("after", Timestamp::now()).unwrap();
    let page = store.page(None, 50).unwrap();
    let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!((texts(&page), ids), (vec!["before", "after"], vec![1, 3]));
    assert_eq!(store.get(2).unwrap(), None);
    // A page reads past the gap (issue 32: it counted toward the window).
    let newest = store.page(None, 2).unwrap();
    assert_eq!(
        (texts(&newest), newest.has_older),
        (vec!["before", "after"], false)
    );
    let last = store.page(None, 1).unwrap();
    assert_eq!((texts(&last), last.has_older), (vec!["after"], true));
    assert_eq!(texts(&store.page(Some(3), 2).unwrap()), ["before"]);
}

#[test]
fn counters_that_are_not_decimal_text_are_read_by_increment() {
    let store = store();
    store.append("one", Timestamp::now()).unwrap();
    // A value `get` cannot read as a number goes to `increment(key, 0)`,
    // the host's own reading of its counters (this bucket's fails on it too).
    store.bucket().set("board.next-id", b" 1").unwrap();
    store.bucket().take_calls();
    assert!(matches!(store.counter(NEXT_ID), Err(KvError(_))));
    // A failed increment whose key can still be read is tried again
    // (`portable`), here until the store gives up.
    let calls = store.bucket().take_calls();
    assert_eq!(calls[..2], ["get", "increment"]);
    assert_eq!(calls.len(), 2 * portable::INCREMENT_ATTEMPTS as usize);
}

#[test]
fn an_unreadable_message_is_an_internal_error() {
    let store = store();
    store.append("fine", Timestamp::now()).unwrap();
    store.bucket().set("board.message.1", b"{\"te").unwrap();
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
fn a_deleted_message_leaves_a_gap_and_its_id_is_never_reused() {
    contract::a_deleted_message_leaves_a_gap_and_its_id_is_never_reused(&store());
}

#[test]
fn pages_fill_past_deleted_messages() {
    contract::pages_fill_past_deleted_messages(&store());
}

#[test]
fn posts_racing_deletes_lose_nothing_else() {
    contract::posts_racing_deletes_lose_nothing_else(Arc::new(store()));
}

/// A repeat of a keyed post writes its message again if it may be
/// missing: never over the admin's delete.
#[test]
fn a_repeat_of_a_deleted_keyed_post_does_not_bring_it_back() {
    let store = store();
    let spam = contract::keyed("spam", "spam");
    let posted = contract::answered(store.append_once(&spam, "spam", Timestamp::now()).unwrap());
    assert!(store.delete(posted.id, Timestamp::now()).unwrap());
    let repeat = store.append_once(&spam, "spam", Timestamp::now()).unwrap();
    assert_eq!(contract::answered(repeat).id, posted.id);
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    assert_eq!(store.get(posted.id).unwrap(), None);
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

#[test]
fn a_repeated_submission_is_stored_once() {
    let store = store();
    contract::a_repeated_submission_is_stored_once(&store);
    // A keyed post: look, claim, check, take an id, bind, write, check.
    store.bucket().take_calls();
    let text = "counted";
    store
        .append_once(&contract::keyed("calls", text), text, Timestamp::now())
        .unwrap();
    assert_eq!(
        store.bucket().take_calls(),
        [
            "get-many",
            "increment",
            "get-many",
            "increment",
            "set",
            "set",
            "get"
        ]
    );
}

#[test]
fn racing_submissions_with_one_key_store_one_message() {
    contract::racing_submissions_with_one_key_store_one_message(Arc::new(store()));
}

/// Issue 30: a `SET` that Redis applied but answered after the runner's
/// timeout makes the post a 503; the client retries and, without a key,
/// the message is stored twice. With the key, the retry answers the first
/// message (and the message is there once).
#[test]
fn a_retry_after_a_write_that_landed_answers_the_first_message() {
    let store = store();
    let hello = contract::keyed("retry", "hello");
    store.bucket().lose_next_answer("board.message.");
    let failed = store.append_once(&hello, "hello", Timestamp::now());
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    let retried = store
        .append_once(&hello, "hello", Timestamp::now())
        .unwrap();
    let Once::Replayed(message) = retried else {
        panic!("the retry answers the first post: {retried:?}")
    };
    assert_eq!(message.id, 1);
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["hello"]);
    // Without a key, the same lost answer and retry store it twice.
    store.bucket().lose_next_answer("board.message.");
    assert!(store.append("plain", Timestamp::now()).is_err());
    store.append("plain", Timestamp::now()).unwrap();
    assert_eq!(
        texts(&store.page(None, 50).unwrap()),
        ["hello", "plain", "plain"]
    );
}

/// The key was bound, then the message write failed before it landed: the
/// retry writes the message and answers it.
#[test]
fn a_retry_writes_the_message_a_failed_post_bound_but_never_wrote() {
    let store = store();
    let hello = contract::keyed("bound", "hello");
    // What a post leaves when it dies between binding and writing.
    let bound = crate::store::Posted {
        fingerprint: hello.fingerprint.clone(),
        id: store.bucket().increment("board.next-id", 1).unwrap(),
        posted_at: Timestamp::from_second(1_700_000_000).unwrap(),
    };
    let record = format!("board.submission.{}", hello.name);
    store.bucket().set(&record, &bound.encode()).unwrap();
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    let retried = store
        .append_once(&hello, "hello", Timestamp::now())
        .unwrap();
    assert_eq!(contract::answered(retried).posted_at, bound.posted_at);
    let page = store.page(None, 50).unwrap();
    assert_eq!((texts(&page), page.messages[0].id), (vec!["hello"], 1));
}

/// A claim whose answer was lost leaves a claimant that never binds: the
/// key answers 409 in its window and the next, then a retry claims it.
#[test]
fn a_claim_whose_answer_was_lost_holds_the_key_for_two_windows_at_most() {
    let store = store();
    let hello = contract::keyed("lost claim", "hello");
    let start = 1_800_000_000 / submissions::WINDOW_SECS * submissions::WINDOW_SECS;
    let at = |second: i64| NOW.with(|now| now.set(second));
    at(start + 1);
    store.bucket().lose_next_answer("board.submission.");
    // The claim's increment is tried again (an error that came at once,
    // `portable`) and counts the lost one: the claimant holds off too.
    assert_eq!(
        store.append_once(&hello, "hello", Timestamp::now()),
        Ok(Once::InProgress)
    );
    for second in [start + 2, start + submissions::WINDOW_SECS + 9] {
        at(second);
        let answer = store
            .append_once(&hello, "hello", Timestamp::now())
            .unwrap();
        assert_eq!(answer, Once::InProgress, "at {second}");
    }
    at(start + 2 * submissions::WINDOW_SECS);
    let answer = store
        .append_once(&hello, "hello", Timestamp::now())
        .unwrap();
    assert!(matches!(answer, Once::Stored(_)), "{answer:?}");
    at(start + 5 * submissions::WINDOW_SECS);
    let again = store
        .append_once(&hello, "hello", Timestamp::now())
        .unwrap();
    assert!(matches!(again, Once::Replayed(_)), "{again:?}");
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["hello"]);
}

/// Of two claims in neighbouring windows, at most one binds: here the
/// earlier window's claimant is still at work when a repeat comes in the
/// next window.
#[test]
fn a_claim_in_the_window_before_holds_off_a_repeat() {
    let store = store();
    let hello = contract::keyed("neighbours", "hello");
    let start = 1_800_000_000 / submissions::WINDOW_SECS * submissions::WINDOW_SECS;
    let window = start / submissions::WINDOW_SECS;
    let claim = format!("board.submission.{}.claim.{window}", hello.name);
    store.bucket().increment(&claim, 1).unwrap();
    NOW.with(|now| now.set(start + submissions::WINDOW_SECS));
    let answer = store
        .append_once(&hello, "hello", Timestamp::now())
        .unwrap();
    assert_eq!(answer, Once::InProgress);
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
}
