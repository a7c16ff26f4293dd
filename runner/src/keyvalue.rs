//! The host side of `wasi:keyvalue` 0.2.0-draft (store, atomics, batch) on
//! Redis, for the board of a fleet of runners: every runner pointed at one
//! Redis shares one board. The component may open only the configured
//! bucket; its keys live in Redis as `BUCKET:KEY`. Every call has a timeout
//! and runs on the async runtime, so a slow or absent Redis only fails the
//! board's requests (the component answers them 503) and never holds up
//! other work; redis-rs's connection manager reconnects by itself.

use anyhow::{Context as _, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => super::KvError,
        },
    });
}

use generated::wasi::keyvalue::{atomics, batch, store};

/// The longest key the component may use, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value the component may store, in bytes (a board message is
/// at most ~24 KiB of JSON).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most keys one batch call may name.
pub const MAX_BATCH_KEYS: usize = 1000;

/// An open bucket (only the configured one can be opened).
pub struct Bucket;

/// A failed call, as the guest sees it.
pub enum KvError {
    NoSuchStore,
    Other(String),
}

impl From<wasmtime::component::ResourceTableError> for KvError {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        KvError::Other(error.to_string())
    }
}

/// What the runner's key-value host serves: a bucket on Redis, or nothing
/// (the board is on files, and every `open` is `no-such-store`).
pub struct KeyValue {
    redis: Option<Redis>,
}

struct Redis {
    connection: ConnectionManager,
    /// Prefix of every Redis key: the bucket's name and a colon.
    prefix: String,
    bucket: String,
    timeout: Duration,
}

impl KeyValue {
    pub fn none() -> Arc<KeyValue> {
        Arc::new(KeyValue { redis: None })
    }

    /// The bucket `bucket` on the Redis at `url`. Connects lazily: a Redis
    /// that is down at start only makes board requests fail until it is up.
    pub fn redis(url: &str, bucket: &str, timeout: Duration) -> Result<Arc<KeyValue>> {
        let client =
            redis::Client::open(url).with_context(|| format!("bad Redis URL {}", redact(url)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // One reconnect attempt per failure, made by the calls that
            // need it: a Redis that refuses connections fails a board
            // request at once (503) instead of after a series of back-offs
            // that hold the request's instance.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .context("cannot set up the Redis connection")?;
        Ok(Arc::new(KeyValue {
            redis: Some(Redis {
                connection,
                prefix: format!("{bucket}:"),
                bucket: bucket.to_owned(),
                timeout,
            }),
        }))
    }

    /// Whether Redis answers a PING, for the start-up log.
    pub async fn ping(&self) -> Result<(), String> {
        match &self.redis {
            Some(redis) => redis
                .query(&mut redis::cmd("PING"))
                .await
                .map(|_: String| ()),
            None => Ok(()),
        }
        .map_err(|error| match error {
            KvError::NoSuchStore => "no such store".to_owned(),
            KvError::Other(detail) => detail,
        })
    }
}

impl Redis {
    async fn query<T: redis::FromRedisValue>(
        &self,
        command: &mut redis::Cmd,
    ) -> Result<T, KvError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                tracing::debug!("redis: {error}");
                Err(KvError::Other(format!("redis: {error}")))
            }
            Err(_) => {
                tracing::debug!("redis: no answer in {:?}", self.timeout);
                Err(KvError::Other(format!(
                    "redis: no answer in {:?}",
                    self.timeout
                )))
            }
        }
    }

    fn key(&self, key: &str) -> Result<String, KvError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(KvError::Other(format!(
                "a key may have at most {MAX_KEY_BYTES} bytes"
            )));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    fn keys(&self, keys: &[String]) -> Result<Vec<String>, KvError> {
        if keys.len() > MAX_BATCH_KEYS {
            return Err(KvError::Other(format!(
                "a batch may name at most {MAX_BATCH_KEYS} keys"
            )));
        }
        keys.iter().map(|key| self.key(key)).collect()
    }
}

fn check_value(value: &[u8]) -> Result<(), KvError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::Other(format!(
            "a value may have at most {MAX_VALUE_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A Redis URL for logs: the password, if any, replaced.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// One request's view: the shared backend and the request's resources.
pub struct KvView<'a> {
    pub kv: &'a KeyValue,
    pub table: &'a mut ResourceTable,
}

impl KvView<'_> {
    fn redis(&self, bucket: &Resource<Bucket>) -> Result<&Redis, KvError> {
        self.table.get(bucket)?;
        self.kv.redis.as_ref().ok_or(KvError::NoSuchStore)
    }
}

struct HasKeyValue;

impl HasData for HasKeyValue {
    type Data<'a> = KvView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> Result<()> {
    store::add_to_linker::<_, HasKeyValue>(linker, view)?;
    atomics::add_to_linker::<_, HasKeyValue>(linker, view)?;
    batch::add_to_linker::<_, HasKeyValue>(linker, view)?;
    Ok(())
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
        match &self.kv.redis {
            Some(redis) if redis.bucket == identifier => Ok(self.table.push(Bucket)?),
            _ => Err(KvError::NoSuchStore),
        }
    }

    fn convert_error(&mut self, error: KvError) -> wasmtime::Result<store::Error> {
        Ok(match error {
            KvError::NoSuchStore => store::Error::NoSuchStore,
            KvError::Other(detail) => store::Error::Other(detail),
        })
    }
}

impl store::HostBucket for KvView<'_> {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, KvError> {
        let redis = self.redis(&bucket)?;
        redis.query(redis::cmd("GET").arg(redis.key(&key)?)).await
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        let redis = self.redis(&bucket)?;
        check_value(&value)?;
        redis
            .query(redis::cmd("SET").arg(redis.key(&key)?).arg(value))
            .await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<(), KvError> {
        let redis = self.redis(&bucket)?;
        redis
            .query::<u64>(redis::cmd("DEL").arg(redis.key(&key)?))
            .await
            .map(drop)
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool, KvError> {
        let redis = self.redis(&bucket)?;
        redis
            .query(redis::cmd("EXISTS").arg(redis.key(&key)?))
            .await
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        let redis = self.redis(&bucket)?;
        let pattern = format!("{}*", glob_escape(&redis.prefix));
        let (next, keys): (u64, Vec<String>) = redis
            .query(
                redis::cmd("SCAN")
                    .arg(cursor.unwrap_or(0))
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(100),
            )
            .await?;
        let keys = keys
            .into_iter()
            .filter_map(|key| key.strip_prefix(&redis.prefix).map(str::to_owned))
            .collect();
        Ok(store::KeyResponse {
            keys,
            cursor: (next != 0).then_some(next),
        })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        let redis = self.redis(&bucket)?;
        // Redis counts in i64.
        let delta = i64::try_from(delta)
            .map_err(|_| KvError::Other("the increment is too large".to_owned()))?;
        let value: i64 = redis
            .query(redis::cmd("INCRBY").arg(redis.key(&key)?).arg(delta))
            .await?;
        u64::try_from(value).map_err(|_| KvError::Other(format!("{key} is negative")))
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        let redis = self.redis(&bucket)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = redis
            .query(redis::cmd("MGET").arg(redis.keys(&keys)?))
            .await?;
        if values.len() != keys.len() {
            return Err(KvError::Other(
                "redis: MGET answered the wrong count".to_owned(),
            ));
        }
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| value.map(|value| (key, value)))
            .collect())
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        let redis = self.redis(&bucket)?;
        if key_values.is_empty() {
            return Ok(());
        }
        if key_values.len() > MAX_BATCH_KEYS {
            return Err(KvError::Other(format!(
                "a batch may name at most {MAX_BATCH_KEYS} keys"
            )));
        }
        let mut command = redis::cmd("MSET");
        for (key, value) in &key_values {
            check_value(value)?;
            command.arg(redis.key(key)?).arg(value);
        }
        redis.query(&mut command).await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        let redis = self.redis(&bucket)?;
        if keys.is_empty() {
            return Ok(());
        }
        redis
            .query::<u64>(redis::cmd("DEL").arg(redis.keys(&keys)?))
            .await
            .map(drop)
    }
}

/// `text` matched literally in a Redis glob pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
#[path = "../../tests/support/redis.rs"]
mod redis_server;

#[cfg(test)]
mod tests {
    use super::*;
    use atomics::Host as _;
    use batch::Host as _;
    use store::{Host as _, HostBucket as _};

    fn redis_at(port: u16) -> Arc<KeyValue> {
        let url = format!("redis://127.0.0.1:{port}/0");
        KeyValue::redis(&url, "site-a", Duration::from_millis(300)).unwrap()
    }

    fn ok<T>(result: Result<T, KvError>) -> T {
        match result {
            Ok(value) => value,
            Err(failed) => panic!("{}", error(Err::<(), _>(failed))),
        }
    }

    fn error(result: Result<impl Sized, KvError>) -> String {
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

    #[tokio::test]
    async fn every_call_on_a_real_redis() {
        if !redis_server::installed() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true, but no redis-server"
            );
            return eprintln!("NOTICE: skipped; install: {}", redis_server::INSTALL);
        }
        let dir = tempfile::tempdir().unwrap();
        let server = redis_server::RedisServer::start(dir.path());
        let kv = redis_at(server.port);
        let mut table = ResourceTable::new();
        let mut view = KvView {
            kv: &kv,
            table: &mut table,
        };
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
        let url = format!("redis://127.0.0.1:{}/0", server.port);
        let other = KeyValue::redis(&url, "site-*", Duration::from_secs(1)).unwrap();
        let mut other_table = ResourceTable::new();
        let mut other_view = KvView {
            kv: &other,
            table: &mut other_table,
        };
        let foreign = other_view.open("site-*".to_owned()).await.ok().unwrap();
        ok(other_view
            .set(foreign, "foreign".into(), b"x".to_vec())
            .await);
        let mut listed = std::collections::BTreeSet::new();
        let mut cursor = None;
        loop {
            let page = ok(view.list_keys(b(), cursor).await);
            listed.extend(page.keys);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(listed.len(), 252, "k0..k249, n and text: {listed:?}");
        assert!(listed.contains("k0") && !listed.contains("foreign"));
        let keys: Vec<String> = (0..250).map(|i| format!("k{i}")).collect();
        ok(view.delete_many(b(), keys).await);
        assert_eq!(ok(view.get(b(), "k7".into()).await), None);
        assert_eq!(ok(view.get_many(b(), Vec::new()).await), []);
        view.drop(bucket).await.unwrap();
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
}
