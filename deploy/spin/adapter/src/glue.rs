//! The adapter's WASI side: the draft interfaces exported, each call made on
//! Spin's draft2 imports.

use crate::cursors::Cursors;
use crate::{counts, entries};
use std::cell::RefCell;

wit_bindgen::generate!({
    inline: "
        package sitebox:spin-adapter;

        world adapter {
            import wasi:keyvalue/store@0.2.0-draft2;
            import wasi:keyvalue/atomics@0.2.0-draft2;
            import wasi:keyvalue/batch@0.2.0-draft2;
            export wasi:keyvalue/store@0.2.0-draft;
            export wasi:keyvalue/atomics@0.2.0-draft;
            export wasi:keyvalue/batch@0.2.0-draft;
        }
    ",
    path: ["../../../wit/deps/keyvalue", "../../../wit/spin-keyvalue"],
    generate_all,
});

use exports::wasi::keyvalue0_2_0_draft::{atomics, batch, store};
use wasi::keyvalue0_2_0_draft2 as spin;

struct Adapter;

export!(Adapter);

/// An open bucket: Spin's, and the cursors its `list-keys` handed out.
struct Bucket {
    spin: spin::store::Bucket,
    cursors: RefCell<Cursors>,
}

/// The drafts' errors have the same three cases.
fn error(error: spin::store::Error) -> store::Error {
    match error {
        spin::store::Error::NoSuchStore => store::Error::NoSuchStore,
        spin::store::Error::AccessDenied => store::Error::AccessDenied,
        spin::store::Error::Other(detail) => store::Error::Other(detail),
    }
}

fn spin_bucket<'a>(bucket: &'a store::BucketBorrow<'_>) -> &'a spin::store::Bucket {
    &bucket.get::<Bucket>().spin
}

impl store::Guest for Adapter {
    type Bucket = Bucket;

    fn open(identifier: String) -> Result<store::Bucket, store::Error> {
        let spin = spin::store::open(&identifier).map_err(error)?;
        Ok(store::Bucket::new(Bucket {
            spin,
            cursors: RefCell::default(),
        }))
    }
}

impl store::GuestBucket for Bucket {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        self.spin.get(&key).map_err(error)
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        self.spin.set(&key, &value).map_err(error)
    }

    fn delete(&self, key: String) -> Result<(), store::Error> {
        self.spin.delete(&key).map_err(error)
    }

    fn exists(&self, key: String) -> Result<bool, store::Error> {
        self.spin.exists(&key).map_err(error)
    }

    fn list_keys(&self, cursor: Option<u64>) -> Result<store::KeyResponse, store::Error> {
        let cursor = cursor
            .map(|number| self.cursors.borrow().cursor(number))
            .transpose()
            .map_err(store::Error::Other)?;
        let response = self.spin.list_keys(cursor.as_deref()).map_err(error)?;
        Ok(store::KeyResponse {
            keys: response.keys,
            cursor: response
                .cursor
                .map(|next| self.cursors.borrow_mut().number(next)),
        })
    }
}

impl atomics::Guest for Adapter {
    fn increment(
        bucket: store::BucketBorrow<'_>,
        key: String,
        delta: u64,
    ) -> Result<u64, store::Error> {
        let delta = counts::delta(delta).map_err(store::Error::Other)?;
        let value = spin::atomics::increment(spin_bucket(&bucket), &key, delta).map_err(error)?;
        counts::value(&key, value).map_err(store::Error::Other)
    }
}

impl batch::Guest for Adapter {
    fn get_many(
        bucket: store::BucketBorrow<'_>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, store::Error> {
        let answer = spin::batch::get_many(spin_bucket(&bucket), &keys).map_err(error)?;
        Ok(entries::for_keys(&keys, answer))
    }

    fn set_many(
        bucket: store::BucketBorrow<'_>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        spin::batch::set_many(spin_bucket(&bucket), &key_values).map_err(error)
    }

    fn delete_many(bucket: store::BucketBorrow<'_>, keys: Vec<String>) -> Result<(), store::Error> {
        spin::batch::delete_many(spin_bucket(&bucket), &keys).map_err(error)
    }
}
