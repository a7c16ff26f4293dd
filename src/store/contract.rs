//! What every `Store` must do, written once: test functions that each
//! store's tests call with a fresh, empty store (order and time, paging,
//! clearing, many writers at once).

use super::{Page, Store};
use jiff::Timestamp;
use std::collections::BTreeSet;
use std::sync::Arc;

pub fn texts(page: &Page) -> Vec<&str> {
    page.messages.iter().map(|m| m.text.as_str()).collect()
}

pub fn an_empty_board(store: &impl Store) {
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    assert_eq!(store.get(1).unwrap(), None);
    store.clear().unwrap();
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
}

pub fn messages_come_back_in_order_with_their_time(store: &impl Store) {
    let t = Timestamp::from_second(1_700_000_000).unwrap();
    for (i, text) in ["one", "two", "three"].into_iter().enumerate() {
        let message = store.append(text, t).unwrap();
        assert_eq!(message.id, i as u64 + 1);
    }
    let page = store.page(None, 50).unwrap();
    assert_eq!(texts(&page), ["one", "two", "three"]);
    assert_eq!(page.messages[0].posted_at, t);
    assert!(!page.has_older);
    assert_eq!(store.get(2).unwrap().unwrap().text, "two");
    assert_eq!(store.get(4).unwrap(), None);
}

pub fn pages_walk_back_through_the_board(store: &impl Store) {
    for i in 1..=120 {
        store.append(&format!("m{i}"), Timestamp::now()).unwrap();
    }
    let newest = store.page(None, 50).unwrap();
    assert_eq!(newest.messages.first().unwrap().id, 71);
    assert_eq!(newest.messages.last().unwrap().id, 120);
    assert!(newest.has_older);
    let older = store.page(Some(71), 50).unwrap();
    assert_eq!((older.messages[0].id, older.messages[49].id), (21, 70));
    let oldest = store.page(Some(21), 50).unwrap();
    assert_eq!((oldest.messages.len(), oldest.has_older), (20, false));
    assert_eq!(store.page(Some(1), 50).unwrap(), Page::default());
    assert_eq!(store.page(Some(10_000), 5).unwrap().messages[4].id, 120);
}

/// Three messages, a clear, one more: only the last shows, with id 4.
pub fn clear_hides_everything_and_ids_are_never_reused(store: &impl Store) {
    for text in ["a", "b", "c"] {
        store.append(text, Timestamp::now()).unwrap();
    }
    store.clear().unwrap();
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    assert_eq!(store.get(3).unwrap(), None);
    let next = store.append("d", Timestamp::now()).unwrap();
    assert_eq!(next.id, 4);
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["d"]);
}

/// 64 threads post 1,000 messages in all: exactly 1,000 are stored, ids
/// 1..=1000, each text once.
pub fn concurrent_posts_are_neither_lost_nor_duplicated<S: Store + Send + Sync + 'static>(
    store: Arc<S>,
) {
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let count = 1000 / 64 + usize::from(t < 1000 % 64);
                (0..count)
                    .map(|i| {
                        store
                            .append(&format!("t{t}-{i}"), Timestamp::now())
                            .unwrap()
                            .id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: BTreeSet<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(ids, (1..=1000).collect());
    let mut stored = BTreeSet::new();
    let mut before = None;
    loop {
        let page = store.page(before, 200).unwrap();
        for message in &page.messages {
            assert!(
                stored.insert(message.text.clone()),
                "{} twice",
                message.text
            );
        }
        if !page.has_older {
            break;
        }
        before = Some(page.messages[0].id);
    }
    assert_eq!(stored.len(), 1000);
}
