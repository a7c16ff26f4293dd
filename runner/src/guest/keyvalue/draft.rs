//! `wasi:keyvalue@0.2.0-draft` (what sitebox.wasm imports, as wasmtime and
//! wasmCloud offer it): its types turned into the calls' and back. Its
//! counts are `u64` (Redis' are i64), its cursors `u64`, and `get-many`
//! leaves out the keys without a value.

use super::calls::{HasKeyValue, KvView};
use super::same_calls::front_door;
use super::{Bucket, KvError};
use wasmtime::component::Resource;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::guest::keyvalue::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::guest::keyvalue::KvError,
        },
    });
}

pub(super) use generated::wasi::keyvalue::{atomics, batch, store};

front_door!();

/// Redis' `SCAN` cursor as it is.
type Cursor = u64;

fn cursor_from_guest(cursor: Option<u64>) -> Result<u64, KvError> {
    Ok(cursor.unwrap_or(0))
}

fn cursor_to_guest(next: u64) -> u64 {
    next
}

type Entry = Option<(String, Vec<u8>)>;

fn entry((key, value): (String, Option<Vec<u8>>)) -> Entry {
    value.map(|value| (key, value))
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        let redis = self.redis(&bucket)?;
        let delta = i64::try_from(delta)
            .map_err(|_| KvError::Other("the increment is too large".to_owned()))?;
        let value = redis.increment(&key, delta).await?;
        u64::try_from(value).map_err(|_| KvError::Other(format!("{key} is negative")))
    }
}
