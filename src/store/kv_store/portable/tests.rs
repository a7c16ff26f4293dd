//! The key-value store on a bucket like NATS's (wasmCloud's cluster
//! key-value) and on one that holds a board under the old key names.
use crate::store::contract::{self, texts};
use crate::store::kv_store::memory::MemoryBucket;
use crate::store::kv_store::{Bucket, KvStore};
use crate::store::{self, Store};
use jiff::Timestamp;
use std::sync::Arc;

/// Issue 33: NATS JetStream KV, wasmCloud's production key-value, refuses
/// `:` in keys (every board call failed on `board:next-id`), keeps counters
/// as bytes, and fails one of two racing increments.
fn store_like_nats() -> KvStore<MemoryBucket> {
    KvStore::new(MemoryBucket::like_nats(), Timestamp::now, crate::random::os)
}

#[test]
fn the_board_works_on_a_bucket_like_nats() {
    contract::an_empty_board(&store_like_nats());
    contract::messages_come_back_in_order_with_their_time(&store_like_nats());
    contract::pages_walk_back_through_the_board(&store_like_nats());
    contract::clear_hides_everything_and_ids_are_never_reused(&store_like_nats());
    contract::a_deleted_message_leaves_a_gap_and_its_id_is_never_reused(&store_like_nats());
    contract::a_repeated_submission_is_stored_once(&store_like_nats());
    let store = store_like_nats();
    store.append("kept", Timestamp::now()).unwrap();
    assert_eq!(store.bucket().keys(), ["board.message.1", "board.next-id"]);
}

#[test]
fn racing_posts_on_a_bucket_like_nats_take_distinct_ids() {
    let store = Arc::new(store_like_nats());
    // The counter exists first: wasmCloud increments a missing key with a
    // plain write, so two first posts could both take id 1 (its defect).
    store.append("first", Timestamp::now()).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let text = format!("t{t}-{i}");
                        store.append(&text, Timestamp::now()).unwrap().id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, (2..=401).collect::<Vec<_>>());
    assert_eq!(contract::everything(&*store).len(), 401);
}

/// A board sitebox wrote before its keys became portable keeps its names.
#[test]
fn a_board_written_under_the_old_names_keeps_them() {
    let bucket = MemoryBucket::default();
    let then = Timestamp::from_second(1_700_000_000).unwrap();
    bucket.set("board:next-id", b"2").unwrap();
    bucket
        .set("board:message:1", &store::encode_message("old one", then))
        .unwrap();
    bucket
        .set("board:message:2", &store::encode_message("old two", then))
        .unwrap();
    let store = KvStore::new(bucket, Timestamp::now, crate::random::os);
    assert_eq!(
        texts(&store.page(None, 50).unwrap()),
        ["old one", "old two"]
    );
    assert_eq!(store.append("new", Timestamp::now()).unwrap().id, 3);
    assert!(store.delete(1, Timestamp::now()).unwrap());
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["old two", "new"]);
    store.clear().unwrap();
    store.append("after the clear", Timestamp::now()).unwrap();
    assert_eq!(
        store.bucket().keys(),
        [
            "board:cleared-up-to",
            "board:collected-up-to",
            "board:message:4",
            "board:next-id"
        ]
    );
}

/// Finding the bucket's names costs a page nothing: its first read, of
/// `next-id`, is the look (the same calls as on a store that knows them).
#[test]
fn a_fresh_store_reads_a_page_with_no_extra_call() {
    let bucket = MemoryBucket::default();
    let first = KvStore::new(bucket, Timestamp::now, crate::random::os);
    first.append("one", Timestamp::now()).unwrap();
    first.bucket().take_calls();
    first.page(None, 50).unwrap();
    let known = first.bucket().take_calls();
    let fresh = KvStore::new(MemoryBucket::default(), Timestamp::now, crate::random::os);
    fresh.bucket().set("board.next-id", b"1").unwrap();
    fresh
        .bucket()
        .set(
            "board.message.1",
            &store::encode_message("one", Timestamp::now()),
        )
        .unwrap();
    fresh.bucket().take_calls();
    assert_eq!(texts(&fresh.page(None, 50).unwrap()), ["one"]);
    assert_eq!(fresh.bucket().take_calls(), known);
}
