//! The key-value host: which bucket opens, the limits, and every call on a
//! real Redis.

use super::draft::{atomics, batch, store};
use super::*;
use atomics::Host as _;
use batch::Host as _;
use store::{Host as _, HostBucket as _};
use wasmtime::component::{Resource, ResourceTable};

fn redis_at(port: u16) -> Arc<KeyValue> {
    let url = format!("redis://127.0.0.1:{port}/0");
    KeyValue::redis(
        &url,
        "site-a",
        Duration::from_millis(300),
        Default::default(),
    )
    .unwrap()
}

pub(super) fn ok<T>(result: Result<T, KvError>) -> T {
    match result {
        Ok(value) => value,
        Err(failed) => panic!("{}", error(Err::<(), _>(failed))),
    }
}

pub(super) fn error(result: Result<impl Sized, KvError>) -> String {
    match result {
        Err(KvError::NoSuchStore) => "no-such-store".to_owned(),
        Err(KvError::Other(detail)) => detail,
        Ok(_) => "ok".to_owned(),
    }
}

#[tokio::test]
async fn only_the_configured_bucket_opens_and_sizes_are_limited() {
    // Nobody listens there: every limit below is checked before Redis.
    let kv = redis_at(redis_server::free_port());
    let mut table = ResourceTable::new();
    let mut view = KvView {
        kv: &kv,
        table: &mut table,
    };
    for other in ["", "site-b", "site-a:", "SITE-A"] {
        assert_eq!(error(view.open(other.to_owned()).await), "no-such-store");
    }
    let bucket = view.open("site-a".to_owned()).await.ok().unwrap();
    let again = || Resource::<Bucket>::new_borrow(bucket.rep());
    let long_key = "k".repeat(MAX_KEY_BYTES + 1);
    assert!(error(view.get(again(), long_key.clone()).await).contains("at most 512 bytes"));
    let big = vec![0; MAX_VALUE_BYTES + 1];
    assert!(error(view.set(again(), "k".into(), big).await).contains("at most 1048576 bytes"));
    let many: Vec<String> = (0..=MAX_BATCH_KEYS).map(|i| i.to_string()).collect();
    assert!(error(view.get_many(again(), many).await).contains("at most 1000 keys"));
    assert!(error(view.increment(again(), "n".into(), u64::MAX).await).contains("too large"));
    // Files store: no bucket at all.
    let none = KeyValue::none();
    let mut table = ResourceTable::new();
    let mut view = KvView {
        kv: &none,
        table: &mut table,
    };
    assert_eq!(
        error(view.open("sitebox".to_owned()).await),
        "no-such-store"
    );
}

/// A real Redis in a temporary directory; `None` (with a notice) without
/// `redis-server`, a failure under `CI=true`.
fn real_redis() -> Option<(redis_server::RedisServer, tempfile::TempDir)> {
    if !redis_server::available() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    Some((redis_server::RedisServer::start(dir.path()), dir))
}

/// Every key of a bucket, page by page, through `list-keys` of either
/// version (their cursors differ in type, not in use).
macro_rules! all_keys {
    ($view:expr, $bucket:expr) => {{
        let mut listed = std::collections::BTreeSet::new();
        let mut cursor = None;
        loop {
            let page = ok($view.list_keys($bucket, cursor).await);
            listed.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break listed,
            }
        }
    }};
}
pub(super) use all_keys;

/// A request's key-value host on a real Redis (bucket `site-a`): the
/// server, kept running, and a resource table to lend views of.
pub(super) struct OnRedis {
    pub server: redis_server::RedisServer,
    _dir: tempfile::TempDir,
    kv: Arc<KeyValue>,
    table: ResourceTable,
}

impl OnRedis {
    /// `None` (with a notice) without `redis-server`.
    pub(super) fn start() -> Option<OnRedis> {
        let (server, _dir) = real_redis()?;
        Some(OnRedis {
            kv: redis_at(server.port),
            server,
            _dir,
            table: ResourceTable::new(),
        })
    }

    pub(super) fn view(&mut self) -> KvView<'_> {
        KvView {
            kv: &self.kv,
            table: &mut self.table,
        }
    }
}

#[tokio::test]
async fn every_call_on_a_real_redis() {
    let Some(mut host) = OnRedis::start() else {
        return;
    };
    let port = host.server.port;
    let mut view = host.view();
    let bucket = view.open("site-a".to_owned()).await.ok().unwrap();
    let b = || Resource::<Bucket>::new_borrow(bucket.rep());
    assert_eq!(ok(view.get(b(), "missing".into()).await), None);
    ok(view.set(b(), "a".into(), b"one".to_vec()).await);
    assert_eq!(ok(view.get(b(), "a".into()).await), Some(b"one".to_vec()));
    assert!(ok(view.exists(b(), "a".into()).await));
    ok(view.delete(b(), "a".into()).await);
    assert!(!ok(view.exists(b(), "a".into()).await));
    assert_eq!(ok(view.increment(b(), "n".into(), 0).await), 0);
    assert_eq!(ok(view.increment(b(), "n".into(), 5).await), 5);
    assert_eq!(ok(view.get(b(), "n".into()).await), Some(b"5".to_vec()));
    ok(view.set(b(), "text".into(), b"x".to_vec()).await);
    assert!(error(view.increment(b(), "text".into(), 1).await).starts_with("redis:"));
    let pairs: Vec<(String, Vec<u8>)> =
        (0..250).map(|i| (format!("k{i}"), vec![i as u8])).collect();
    ok(view.set_many(b(), pairs).await);
    let got = ok(view
        .get_many(b(), vec!["k1".into(), "nope".into(), "k249".into()])
        .await);
    assert_eq!(
        got,
        [
            Some(("k1".into(), vec![1])),
            None,
            Some(("k249".into(), vec![249]))
        ]
    );
    // Another bucket's keys are not this one's (a prefix of the name
    // with a glob character in it, too).
    let url = format!("redis://127.0.0.1:{port}/0");
    let other =
        KeyValue::redis(&url, "site-*", Duration::from_secs(1), Default::default()).unwrap();
    let mut other_table = ResourceTable::new();
    let mut other_view = KvView {
        kv: &other,
        table: &mut other_table,
    };
    let foreign = other_view.open("site-*".to_owned()).await.ok().unwrap();
    ok(other_view
        .set(foreign, "foreign".into(), b"x".to_vec())
        .await);
    let listed = all_keys!(view, b());
    assert_eq!(listed.len(), 252, "k0..k249, n and text: {listed:?}");
    assert!(listed.contains("k0") && !listed.contains("foreign"));
    let keys: Vec<String> = (0..250).map(|i| format!("k{i}")).collect();
    ok(view.delete_many(b(), keys).await);
    assert_eq!(ok(view.get(b(), "k7".into()).await), None);
    assert_eq!(ok(view.get_many(b(), Vec::new()).await), []);
    view.drop(bucket).await.unwrap();
}

#[tokio::test]
async fn a_bucket_never_sees_the_keys_of_a_bucket_named_after_it() {
    let Some((server, _dir)) = real_redis() else {
        return;
    };
    let url = server.url(0);
    let open = |bucket: &str| {
        KeyValue::redis(&url, bucket, Duration::from_secs(1), Default::default()).unwrap()
    };
    let (outer, inner) = (open("a"), open("a:b"));
    let (mut outer_table, mut inner_table) = (ResourceTable::new(), ResourceTable::new());
    let mut outer = KvView {
        kv: &outer,
        table: &mut outer_table,
    };
    let mut inner = KvView {
        kv: &inner,
        table: &mut inner_table,
    };
    let a = outer.open("a".to_owned()).await.ok().unwrap();
    let a = || Resource::<Bucket>::new_borrow(a.rep());
    let ab = inner.open("a:b".to_owned()).await.ok().unwrap();
    let ab = || Resource::<Bucket>::new_borrow(ab.rep());
    ok(inner.set(ab(), "x".into(), b"inner".to_vec()).await);
    // Bucket `a`'s key `b:x` would be bucket `a:b`'s key `x`, unescaped.
    assert_eq!(
        ok(outer.list_keys(a(), None).await).keys,
        Vec::<String>::new()
    );
    assert_eq!(ok(outer.get(a(), "b:x".into()).await), None);
    ok(outer.set(a(), "b:x".into(), b"outer".to_vec()).await);
    assert_eq!(
        ok(inner.get(ab(), "x".into()).await),
        Some(b"inner".to_vec())
    );
    assert_eq!(ok(inner.list_keys(ab(), None).await).keys, ["x"]);
    assert_eq!(ok(outer.list_keys(a(), None).await).keys, ["b:x"]);
    // A bucket without `:` or `%` keeps its keys where they were.
    let plain = open("sitebox");
    let mut table = ResourceTable::new();
    let mut view = KvView {
        kv: &plain,
        table: &mut table,
    };
    let bucket = view.open("sitebox".to_owned()).await.ok().unwrap();
    ok(view.set(bucket, "k".into(), b"v".to_vec()).await);
    assert_eq!(server.command(&["GET", "sitebox:k"]), "v");
}

#[test]
fn passwords_never_reach_the_log() {
    assert_eq!(
        redact("redis://:hunter2@db.example:6380/2"),
        "redis://:***@db.example:6380/2"
    );
    assert_eq!(
        redact("rediss://user:hunter2@db.example/0"),
        "rediss://user:***@db.example/0"
    );
    assert_eq!(
        redact("redis://127.0.0.1:6379/0"),
        "redis://127.0.0.1:6379/0"
    );
    assert!(!redact("redis://:p@ss@x").contains("p@ss"));
}

#[test]
fn glob_characters_in_the_bucket_match_literally() {
    assert_eq!(glob_escape("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:");
}
