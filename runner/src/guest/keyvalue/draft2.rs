//! `wasi:keyvalue@0.2.0-draft2` (what Spin offers, and sitebox-spin.wasm
//! imports): its types turned into the calls' and back. Its counts are
//! `s64`, as Redis', its cursors strings (Redis' `SCAN` cursor written out),
//! `get-many` names every key, and it adds compare-and-swap.

use super::calls::{HasKeyValue, KvView};
use super::same_calls::front_door;
use super::{Bucket, KvError};
use wasmtime::component::Resource;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/spin-keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::guest::keyvalue::Bucket,
            "wasi:keyvalue/atomics.cas": crate::guest::keyvalue::draft2::Cas,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::guest::keyvalue::KvError,
        },
    });
}

pub(super) use generated::wasi::keyvalue::{atomics, batch, store};

/// A compare-and-swap under way: the key and the value it held when read.
pub struct Cas {
    key: String,
    read: Option<Vec<u8>>,
}

front_door!();

/// Redis' `SCAN` cursor, written out.
type Cursor = String;

fn cursor_from_guest(cursor: Option<String>) -> Result<u64, KvError> {
    cursor.map_or(Ok(0), |text| {
        text.parse()
            .map_err(|_| KvError::Other(format!("{text:?} is not a cursor of this bucket")))
    })
}

fn cursor_to_guest(next: u64) -> String {
    next.to_string()
}

type Entry = (String, Option<Vec<u8>>);

fn entry(entry: Entry) -> Entry {
    entry
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, KvError> {
        self.redis(&bucket)?.increment(&key, delta).await
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let Cas { key, read } = self.table.delete(cas)?;
        let Some(redis) = self.kv.redis.as_ref() else {
            return Ok(Err(atomics::CasError::StoreError(
                store::Error::NoSuchStore,
            )));
        };
        let outcome = match redis.swap(&key, read.as_deref(), &value).await {
            Ok(true) => return Ok(Ok(())),
            // Changed since it was read: a new handle on what it holds now.
            Ok(false) => redis.get(&key).await,
            Err(error) => Err(error),
        };
        Ok(Err(match outcome {
            Ok(read) => atomics::CasError::CasFailed(self.table.push(Cas { key, read })?),
            Err(error) => atomics::CasError::StoreError(store::Host::convert_error(self, error)?),
        }))
    }
}

impl atomics::HostCas for KvView<'_> {
    async fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Resource<Cas>, KvError> {
        let read = self.redis(&bucket)?.get(&key).await?;
        Ok(self.table.push(Cas { key, read })?)
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.table.get(&cas)?.read.clone())
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}
