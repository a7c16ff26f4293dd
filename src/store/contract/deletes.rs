//! What every `Store` must do when the admin deletes one message (issue
//! 32): the gap it leaves is read past, its id is never handed out again,
//! and deletes racing posts lose nothing else.

use super::{everything, texts};
use crate::store::{Page, Store, StoreError};
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Three messages, #2 deleted: pages and `get` go without it, a second
/// delete finds nothing, and the next post gets id 4.
pub fn a_deleted_message_leaves_a_gap_and_its_id_is_never_reused(store: &impl Store) {
    let now = Timestamp::now();
    for text in ["a", "b", "c"] {
        store.append(text, now).unwrap();
    }
    assert!(store.delete(2, now).unwrap(), "#2 is there to delete");
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["a", "c"]);
    assert_eq!(store.get(2).unwrap(), None);
    assert_eq!(store.get(3).unwrap().unwrap().text, "c");
    for absent in [2, 0, 4, 99] {
        assert!(
            !store.delete(absent, now).unwrap(),
            "#{absent} is not there"
        );
    }
    assert_eq!(store.append("d", now).unwrap().id, 4);
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["a", "c", "d"]);
    // The newest two, with an older one below the gap; then that one alone.
    let newest = store.page(None, 2).unwrap();
    assert_eq!((texts(&newest), newest.has_older), (vec!["c", "d"], true));
    let older = store.page(Some(3), 2).unwrap();
    assert_eq!((texts(&older), older.has_older), (vec!["a"], false));
    // The newest deleted: the next id still goes up.
    assert!(store.delete(4, now).unwrap());
    assert_eq!(store.append("e", now).unwrap().id, 5);
    for id in [1, 3, 5] {
        assert!(store.delete(id, now).unwrap());
    }
    assert_eq!(store.page(None, 50).unwrap(), Page::default());
    assert_eq!(store.append("f", now).unwrap().id, 6);
    store.clear().unwrap();
    assert!(!store.delete(6, now).unwrap(), "cleared is gone");
    assert_eq!(store.append("g", now).unwrap().id, 7);
    assert_eq!(texts(&store.page(None, 50).unwrap()), ["g"]);
}

/// A page of `limit` reads past deleted messages: it is full when older
/// messages exist, and says whether any do.
pub fn pages_fill_past_deleted_messages(store: &impl Store) {
    let now = Timestamp::now();
    for i in 1..=10 {
        store.append(&format!("m{i}"), now).unwrap();
    }
    for id in [9, 8, 7, 6, 1] {
        assert!(store.delete(id, now).unwrap());
    }
    let newest = store.page(None, 3).unwrap();
    assert_eq!(texts(&newest), ["m4", "m5", "m10"]);
    assert!(newest.has_older);
    let older = store.page(Some(4), 3).unwrap();
    assert_eq!((texts(&older), older.has_older), (vec!["m2", "m3"], false));
    assert_eq!(store.page(Some(2), 3).unwrap(), Page::default());
    assert_eq!(everything(store).len(), 5);
}

/// Eight writers post, each every other message spam, while one thread
/// deletes every spam it sees: every other post stays, with its id and
/// text, no id is handed out twice, and at the end no spam is left.
pub fn posts_racing_deletes_lose_nothing_else<S: Store + Send + Sync + 'static>(store: Arc<S>) {
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..40)
                    .map(|i| {
                        let kind = if i % 2 == 0 { "keep" } else { "spam" };
                        let text = format!("{kind}-{t}-{i}");
                        let message = store.append(&text, Timestamp::now()).unwrap();
                        (message.id, text)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let delete_spam = |store: &S| {
        let mut deleted = 0;
        let page = match store.page(None, 1000) {
            Ok(page) => page,
            Err(StoreError::Unavailable(_)) => return 0,
            Err(error) => panic!("{error}"),
        };
        let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");
        for message in page.messages.iter().filter(|m| m.text.starts_with("spam")) {
            // Another pass may have taken it: then it is gone, as wanted.
            store.delete(message.id, Timestamp::now()).unwrap();
            deleted += 1;
        }
        deleted
    };
    let deleter = {
        let (store, writing) = (store.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut passes = 0;
            while writing.load(Ordering::SeqCst) {
                delete_spam(&store);
                passes += 1;
            }
            passes
        })
    };
    let posts: BTreeMap<u64, String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    writing.store(false, Ordering::SeqCst);
    assert!(deleter.join().unwrap() > 0);
    delete_spam(&store);
    assert_eq!(posts.len(), 8 * 40, "an id handed out twice");
    let visible: BTreeMap<u64, String> = everything(&*store)
        .into_iter()
        .map(|m| (m.id, m.text))
        .collect();
    let kept: BTreeMap<u64, String> = posts
        .into_iter()
        .filter(|(_, text)| text.starts_with("keep"))
        .collect();
    assert_eq!(visible, kept);
    let newest = *kept.keys().max().unwrap();
    let next = store.append("after", Timestamp::now()).unwrap();
    assert!(next.id > newest, "{} reuses an id", next.id);
    let ids: BTreeSet<u64> = everything(&*store).iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), kept.len() + 1);
}
