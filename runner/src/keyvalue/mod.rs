//! The host side of `wasi:keyvalue` 0.2.0-draft (store, atomics, batch) on
//! Redis, for the board of a fleet of runners: every runner pointed at one
//! Redis shares one board. The component may open only the configured
//! bucket; its keys live in Redis as `BUCKET:KEY`. Every call has a timeout
//! and runs on the async runtime, so a slow or absent Redis only fails the
//! board's requests (the component answers them 503) and never holds up
//! other work; redis-rs's connection manager reconnects by itself.

use anyhow::{Context as _, Result};
use prometheus_client::metrics::counter::Counter;
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
    /// Calls that failed or timed out (the metrics' board store errors).
    errors: Counter,
}

impl KeyValue {
    pub fn none() -> Arc<KeyValue> {
        Arc::new(KeyValue { redis: None })
    }

    /// The bucket `bucket` on the Redis at `url`, counting failed calls in
    /// `errors`. Connects lazily: a Redis that is down at start only makes
    /// board requests fail until it is up.
    pub fn redis(
        url: &str,
        bucket: &str,
        timeout: Duration,
        errors: Counter,
    ) -> Result<Arc<KeyValue>> {
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
                errors,
            }),
        }))
    }

    /// Whether Redis answers a PING, for the start-up log and readiness.
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
                self.errors.inc();
                tracing::debug!("redis: {error}");
                Err(KvError::Other(format!("redis: {error}")))
            }
            Err(_) => {
                self.errors.inc();
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
#[path = "../../../tests/support/redis.rs"]
mod redis_server;

#[cfg(test)]
mod tests;
