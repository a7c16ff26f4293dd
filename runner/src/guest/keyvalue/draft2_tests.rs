//! The draft2 front door (Spin's `wasi:keyvalue`) on a real Redis: its own
//! types over the same calls (string cursors, signed counts, `get-many`'s
//! shape) and the compare-and-swap only it has.

use super::draft2::{Cas, atomics, batch, store};
use super::tests::{OnRedis, all_keys, error, ok};
use super::*;
use atomics::{CasError, Host as _, HostCas as _};
use batch::Host as _;
use store::{Host as _, HostBucket as _};
use wasmtime::component::Resource;

#[tokio::test]
async fn draft2_calls_on_a_real_redis() {
    let Some(mut host) = OnRedis::start() else {
        return;
    };
    let mut view = host.view();
    assert_eq!(error(view.open("site-b".to_owned()).await), "no-such-store");
    let bucket = view.open("site-a".to_owned()).await.ok().unwrap();
    let b = || Resource::<Bucket>::new_borrow(bucket.rep());
    // Signed counts: draft2 may go below zero, as Redis does.
    assert_eq!(ok(view.increment(b(), "n".into(), -3).await), -3);
    assert_eq!(ok(view.increment(b(), "n".into(), 5).await), 2);
    let pairs: Vec<(String, Vec<u8>)> =
        (0..250).map(|i| (format!("k{i}"), vec![i as u8])).collect();
    ok(view.set_many(b(), pairs).await);
    let got = ok(view.get_many(b(), vec!["k1".into(), "nope".into()]).await);
    assert_eq!(
        got,
        [("k1".into(), Some(vec![1])), ("nope".into(), None)],
        "draft2 names every key, with or without a value"
    );
    assert_eq!(all_keys!(view, b()).len(), 251, "k0..k249 and n");
    assert!(
        error(view.list_keys(b(), Some("x".into())).await).contains("not a cursor"),
        "a cursor Redis never gave is refused"
    );
    store::HostBucket::drop(&mut view, bucket).await.unwrap();
    // The same keys as draft's calls: `site-a:n` in Redis.
    assert_eq!(host.server.command(&["GET", "site-a:n"]), "2");
}

/// A `cas` handle's value, through `current`.
async fn current(view: &mut KvView<'_>, cas: &Resource<Cas>) -> Option<Vec<u8>> {
    ok(view.current(Resource::new_borrow(cas.rep())).await)
}

#[tokio::test]
async fn compare_and_swap_sets_only_what_was_read() {
    let Some(mut host) = OnRedis::start() else {
        return;
    };
    let mut view = host.view();
    let bucket = view.open("site-a".to_owned()).await.ok().unwrap();
    let b = || Resource::<Bucket>::new_borrow(bucket.rep());
    // Absent, and still absent: the swap sets it.
    let cas = ok(atomics::HostCas::new(&mut view, b(), "k".into()).await);
    assert_eq!(current(&mut view, &cas).await, None);
    assert!(matches!(
        view.swap(cas, b"one".to_vec()).await.unwrap(),
        Ok(())
    ));
    assert_eq!(ok(view.get(b(), "k".into()).await), Some(b"one".to_vec()));
    // Changed between the read and the swap: refused, with a new handle on
    // what is there now, with which the swap goes through.
    let stale = ok(atomics::HostCas::new(&mut view, b(), "k".into()).await);
    assert_eq!(current(&mut view, &stale).await, Some(b"one".to_vec()));
    ok(view.set(b(), "k".into(), b"two".to_vec()).await);
    let fresh = match view.swap(stale, b"three".to_vec()).await.unwrap() {
        Err(CasError::CasFailed(fresh)) => fresh,
        Err(CasError::StoreError(error)) => panic!("{error:?}"),
        Ok(()) => panic!("a stale swap went through"),
    };
    assert_eq!(ok(view.get(b(), "k".into()).await), Some(b"two".to_vec()));
    assert_eq!(current(&mut view, &fresh).await, Some(b"two".to_vec()));
    assert!(matches!(
        view.swap(fresh, b"three".to_vec()).await.unwrap(),
        Ok(())
    ));
    assert_eq!(ok(view.get(b(), "k".into()).await), Some(b"three".to_vec()));
    // Deleted since the read: refused too.
    let gone = ok(atomics::HostCas::new(&mut view, b(), "k".into()).await);
    ok(view.delete(b(), "k".into()).await);
    assert!(matches!(
        view.swap(gone, b"four".to_vec()).await.unwrap(),
        Err(CasError::CasFailed(_))
    ));
    assert_eq!(ok(view.get(b(), "k".into()).await), None);
}
