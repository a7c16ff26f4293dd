//! The guest's `wasi:keyvalue` calls (store, atomics, batch), each one Redis
//! command on the configured bucket's keys, checked for size first.

use super::generated::wasi::keyvalue::{atomics, batch, store};
use super::{Bucket, KeyValue, KvError, MAX_BATCH_KEYS, Redis, check_value, glob_escape};
use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

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
