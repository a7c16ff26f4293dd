//! The board's key-value bucket on `wasi:keyvalue`, opened on first use.

use super::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::store::kv_store::{Bucket, KvError};
use std::cell::OnceCell;

pub struct WasiBucket {
    name: String,
    opened: OnceCell<Result<store::Bucket, KvError>>,
}

impl WasiBucket {
    pub fn new(name: &str) -> WasiBucket {
        WasiBucket {
            name: name.to_owned(),
            opened: OnceCell::new(),
        }
    }

    fn bucket(&self) -> Result<&store::Bucket, KvError> {
        let opened = self.opened.get_or_init(|| {
            store::open(&self.name).map_err(|error| match error {
                store::Error::NoSuchStore => {
                    KvError(format!("the host has no bucket named {:?}", self.name))
                }
                other => kv_error(other),
            })
        });
        opened.as_ref().map_err(Clone::clone)
    }
}

impl Bucket for WasiBucket {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.bucket()?.get(key).map_err(kv_error)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.bucket()?.set(key, value).map_err(kv_error)
    }

    fn increment(&self, key: &str, delta: u64) -> Result<u64, KvError> {
        atomics::increment(self.bucket()?, key, delta).map_err(kv_error)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let values = batch::get_many(self.bucket()?, keys).map_err(kv_error)?;
        Ok(values
            .into_iter()
            .map(|entry| entry.map(|(_, value)| value))
            .collect())
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        batch::delete_many(self.bucket()?, keys).map_err(kv_error)
    }
}

fn kv_error(error: store::Error) -> KvError {
    KvError(match error {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(detail) => detail,
    })
}
