//! The guest's key-value calls, each one Redis command on the configured
//! bucket's keys, checked for size first: the one implementation behind
//! both versions of `wasi:keyvalue` the runner offers (`draft`, `draft2`),
//! which only convert their types. Also the per-request view they work on.

use super::{
    Bucket, KeyValue, KvError, MAX_BATCH_KEYS, Redis, check_value, draft, draft2, glob_escape,
};
use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

/// Keys scanned per `list-keys` page (Redis' `COUNT` hint).
const SCAN_COUNT: u64 = 100;

/// Sets the key to the new value only when it still holds the expected one
/// (`ARGV[1]`: 1 if there was a value, then that value in `ARGV[2]`), as one
/// atomic step in Redis; answers 1 when it set it.
const SWAP_SCRIPT: &str = "local now = redis.call('GET', KEYS[1]) \
    if (ARGV[1] == '0' and now == false) or (ARGV[1] == '1' and now == ARGV[2]) then \
    redis.call('SET', KEYS[1], ARGV[3]) return 1 end return 0";

/// One request's view: the shared backend and the request's resources.
pub struct KvView<'a> {
    pub kv: &'a KeyValue,
    pub table: &'a mut ResourceTable,
}

impl KvView<'_> {
    /// The bucket `identifier`, if it is the configured one.
    pub(super) fn open_bucket(&mut self, identifier: &str) -> Result<Resource<Bucket>, KvError> {
        match &self.kv.redis {
            Some(redis) if redis.bucket == identifier => Ok(self.table.push(Bucket)?),
            _ => Err(KvError::NoSuchStore),
        }
    }

    pub(super) fn redis(&self, bucket: &Resource<Bucket>) -> Result<&Redis, KvError> {
        self.table.get(bucket)?;
        self.kv.redis.as_ref().ok_or(KvError::NoSuchStore)
    }
}

pub(super) struct HasKeyValue;

impl HasData for HasKeyValue {
    type Data<'a> = KvView<'a>;
}

/// Both versions of `wasi:keyvalue` (store, atomics, batch) on the one
/// backend: `0.2.0-draft` (wasmtime, wasmCloud, sitebox.wasm) and
/// `0.2.0-draft2` (Spin, sitebox-spin.wasm).
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> Result<()> {
    draft::add_to_linker(linker, view)?;
    draft2::add_to_linker(linker, view)?;
    Ok(())
}

/// A page of `list-keys`: the bucket's keys and the cursor of the next page.
pub(super) struct Page {
    pub keys: Vec<String>,
    pub next: Option<u64>,
}

impl Redis {
    pub(super) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.query(redis::cmd("GET").arg(self.key(key)?)).await
    }

    pub(super) async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        check_value(value)?;
        self.query(redis::cmd("SET").arg(self.key(key)?).arg(value))
            .await
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.query::<u64>(redis::cmd("DEL").arg(self.key(key)?))
            .await
            .map(drop)
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.query(redis::cmd("EXISTS").arg(self.key(key)?)).await
    }

    /// A page of the bucket's keys from `cursor` (0: the first).
    pub(super) async fn list_keys(&self, cursor: u64) -> Result<Page, KvError> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let (next, keys): (u64, Vec<String>) = self
            .query(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT),
            )
            .await?;
        let keys = keys
            .into_iter()
            .filter_map(|key| key.strip_prefix(&self.prefix).map(str::to_owned))
            .collect();
        Ok(Page {
            keys,
            next: (next != 0).then_some(next),
        })
    }

    /// Adds `delta` to the number at `key` (0 when absent); Redis counts in
    /// i64.
    pub(super) async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.query(redis::cmd("INCRBY").arg(self.key(key)?).arg(delta))
            .await
    }

    /// The values of `keys`, in their order.
    pub(super) async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> =
            self.query(redis::cmd("MGET").arg(self.keys(keys)?)).await?;
        if values.len() != keys.len() {
            return Err(KvError::Other(
                "redis: MGET answered the wrong count".to_owned(),
            ));
        }
        Ok(values)
    }

    pub(super) async fn set_many(&self, key_values: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        if key_values.is_empty() {
            return Ok(());
        }
        if key_values.len() > MAX_BATCH_KEYS {
            return Err(KvError::Other(format!(
                "a batch may name at most {MAX_BATCH_KEYS} keys"
            )));
        }
        let mut command = redis::cmd("MSET");
        for (key, value) in key_values {
            check_value(value)?;
            command.arg(self.key(key)?).arg(value);
        }
        self.query(&mut command).await
    }

    pub(super) async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.query::<u64>(redis::cmd("DEL").arg(self.keys(keys)?))
            .await
            .map(drop)
    }

    /// Sets `key` to `value` if it still holds `expected` (`None`: absent);
    /// whether it did.
    pub(super) async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, KvError> {
        check_value(value)?;
        let mut command = redis::cmd("EVAL");
        command.arg(SWAP_SCRIPT).arg(1).arg(self.key(key)?);
        match expected {
            Some(expected) => command.arg("1").arg(expected),
            None => command.arg("0").arg(""),
        };
        command.arg(value);
        self.query::<u64>(&mut command).await.map(|set| set == 1)
    }
}
