//! What every `Store` must do, written once: test functions that each
//! store's tests call with a fresh, empty store (order and time, paging,
//! clearing, many writers at once, posts racing clears, posts with an
//! idempotency key).

use super::{Message, Page, Store, StoreError};

mod deletes;
use crate::store::idempotency::{Once, Scope, Submission};
pub use deletes::*;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

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

/// Every message on the board, walking back page by page.
pub fn everything(store: &impl Store) -> Vec<Message> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store.page(before, 200).unwrap();
        all.splice(0..0, page.messages.iter().cloned());
        match (page.has_older, page.messages.first()) {
            (true, Some(oldest)) => before = Some(oldest.id),
            (true, None) => before = Some(before.unwrap_or(u64::MAX).saturating_sub(200)),
            (false, _) => return all,
        }
    }
}

/// Eight writers posting `posts_each` messages, one thread clearing sixty
/// times, two reading. Every page shows whole messages in id order, never
/// one that a clear which completed before the read began had hidden; a
/// post is only ever hidden by a clear that had not completed when the post
/// made its last call on the storage (`last_call`, on the posting thread);
/// at the end, what the board shows is exactly the posts above the last
/// marker (`marker`: the store's clear marker).
pub fn posts_racing_clears_are_never_lost<S: Store + Send + Sync + 'static>(
    store: Arc<S>,
    marker: fn(&S) -> u64,
    last_call: fn() -> Instant,
    posts_each: usize,
) {
    struct Post {
        id: u64,
        text: String,
        last_call: Instant,
    }
    // (when the clear returned, the marker it left), in order: one clearer
    // thread, so markers are read back without racing another clear.
    let clears = Arc::new(Mutex::new(Vec::<(Instant, u64)>::new()));
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..posts_each)
                    .map(|i| {
                        let text = format!("w{t}-{i}");
                        let posted = store.append(&text, Timestamp::now());
                        let id = posted.unwrap_or_else(|e| panic!("{text}: {e}")).id;
                        Post {
                            id,
                            text,
                            last_call: last_call(),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let clearer = {
        let (store, clears) = (store.clone(), clears.clone());
        std::thread::spawn(move || {
            for _ in 0..60 {
                store.clear().unwrap();
                let marker = marker(&store);
                clears.lock().unwrap().push((Instant::now(), marker));
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, clears) = (store.clone(), clears.clone());
            std::thread::spawn(move || {
                let mut pages = 0;
                for _ in 0..150 {
                    let floor = clears.lock().unwrap().last().map_or(0, |c| c.1);
                    // A store may give up on a board that keeps changing
                    // under it (503 for the client): only what it shows counts.
                    let page = match store.page(None, 1000) {
                        Ok(page) => page,
                        Err(StoreError::Unavailable(_)) => continue,
                        Err(error) => panic!("{error}"),
                    };
                    pages += 1;
                    let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
                    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");
                    assert!(
                        ids.iter().all(|id| *id > floor),
                        "{ids:?} after a clear to {floor}"
                    );
                    assert!(page.messages.iter().all(|m| m.text.starts_with('w')));
                }
                assert!(pages > 0, "no page read in 150 attempts");
            })
        })
        .collect();
    let posts: Vec<Post> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    clearer.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
    let clears = clears.lock().unwrap();
    let final_marker = clears.last().unwrap().1;
    let visible: BTreeMap<u64, String> = everything(&*store)
        .into_iter()
        .map(|m| (m.id, m.text))
        .collect();
    let mut hidden = 0;
    for post in &posts {
        if post.id > final_marker {
            assert_eq!(
                visible.get(&post.id),
                Some(&post.text),
                "lost: {}",
                post.text
            );
            continue;
        }
        hidden += 1;
        assert!(!visible.contains_key(&post.id));
        // The first clear whose marker covers the post hid it: it must not
        // have completed before the post's last call.
        let (completed, _) = clears
            .iter()
            .find(|(_, marker)| *marker >= post.id)
            .unwrap();
        assert!(
            post.last_call < *completed,
            "{} (id {}) was acknowledged after the clear that hid it completed",
            post.text,
            post.id
        );
    }
    assert_eq!(
        visible.len(),
        posts.len() - hidden,
        "nothing but the posts shows"
    );
    let after = store.append("last", Timestamp::now()).unwrap();
    assert_eq!(
        store.page(None, 1000).unwrap().messages.last().unwrap(),
        &after
    );
    store.clear().unwrap();
    assert_eq!(store.page(None, 1000).unwrap(), Page::default());
}

/// An API key's submission of `text`.
pub fn keyed(key: &str, text: &str) -> Submission {
    Submission::new(Scope::Api, key, text)
}

/// The message a keyed post stored or replayed; panics on anything else.
pub fn answered(once: Once<Message>) -> Message {
    match once {
        Once::Stored(message) | Once::Replayed(message) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The first post with a key stores; a repeat answers that message and
/// stores nothing; the key with another text is refused; other keys and
/// plain posts go on as usual; and a clear hides the message but not the
/// answer, so a late retry never brings a cleared message back.
pub fn a_repeated_submission_is_stored_once(store: &impl Store) {
    let first_time = Timestamp::from_second(1_700_000_000).unwrap();
    let later = Timestamp::from_second(1_700_000_005).unwrap();
    let hello = keyed("k1", "hello");
    let Once::Stored(first) = store.append_once(&hello, "hello", first_time).unwrap() else {
        panic!("the first post with a key stores")
    };
    assert_eq!(
        (first.id, first.text.as_str(), first.posted_at),
        (1, "hello", first_time)
    );
    let again = store.append_once(&hello, "hello", later).unwrap();
    assert_eq!(again, Once::Replayed(first.clone()));
    let reused = store
        .append_once(&keyed("k1", "bye"), "bye", later)
        .unwrap();
    assert_eq!(reused, Once::KeyReused);
    assert_eq!(store.append("plain", later).unwrap().id, 2);
    let other = answered(
        store
            .append_once(&keyed("k2", "hello"), "hello", later)
            .unwrap(),
    );
    assert_eq!(other.id, 3);
    assert_eq!(
        texts(&store.page(None, 50).unwrap()),
        ["hello", "plain", "hello"]
    );
    store.clear().unwrap();
    let after_clear = store.append_once(&hello, "hello", later).unwrap();
    assert_eq!(after_clear, Once::Replayed(first));
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    assert_eq!(store.append("next", later).unwrap().id, 4);
}

/// Eight threads post with one key at once, twenty times over: each time
/// exactly one stores, the others answer its message or say it is in
/// progress, and a repeat afterwards answers it. One message per key.
pub fn racing_submissions_with_one_key_store_one_message<S: Store + Send + Sync + 'static>(
    store: Arc<S>,
) {
    for round in 0..20 {
        let text = format!("round {round}");
        let submission = keyed(&format!("race {round}"), &text);
        let barrier = Arc::new(Barrier::new(8));
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let (submission, text) = (submission.clone(), text.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store
                        .append_once(&submission, &text, Timestamp::now())
                        .unwrap()
                })
            })
            .collect();
        let answers: Vec<Once<Message>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let stored: Vec<&Message> = answers
            .iter()
            .filter_map(|once| match once {
                Once::Stored(message) => Some(message),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 1, "{answers:?}");
        for answer in &answers {
            match answer {
                Once::Stored(message) | Once::Replayed(message) => {
                    assert_eq!(message, stored[0])
                }
                Once::InProgress => {}
                Once::KeyReused => panic!("the same text is no reuse"),
            }
        }
        let settled = store
            .append_once(&submission, &text, Timestamp::now())
            .unwrap();
        assert_eq!(settled, Once::Replayed(stored[0].clone()));
    }
    let all = everything(&*store);
    assert_eq!(all.len(), 20, "one message a key: {all:?}");
}
