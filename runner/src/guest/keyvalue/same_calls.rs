//! What the two front doors (`draft`, `draft2`) share, written once: the
//! `front_door!` macro expands in each version's module to its linker
//! function and its store and batch impls, where `store` and `batch` name
//! that version's generated bindings. The module itself gives only what its
//! version's types make different: `cursor_from_guest` and
//! `cursor_to_guest` (list-keys' cursors), `entries` (get-many's answer),
//! and its `atomics` impl.

macro_rules! front_door {
    () => {
        pub(super) fn add_to_linker<T: Send + 'static>(
            linker: &mut wasmtime::component::Linker<T>,
            view: fn(&mut T) -> KvView<'_>,
        ) -> anyhow::Result<()> {
            store::add_to_linker::<_, HasKeyValue>(linker, view)?;
            atomics::add_to_linker::<_, HasKeyValue>(linker, view)?;
            batch::add_to_linker::<_, HasKeyValue>(linker, view)?;
            Ok(())
        }

        impl store::Host for KvView<'_> {
            async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, KvError> {
                self.open_bucket(&identifier)
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
                self.redis(&bucket)?.get(&key).await
            }

            async fn set(
                &mut self,
                bucket: Resource<Bucket>,
                key: String,
                value: Vec<u8>,
            ) -> Result<(), KvError> {
                self.redis(&bucket)?.set(&key, &value).await
            }

            async fn delete(
                &mut self,
                bucket: Resource<Bucket>,
                key: String,
            ) -> Result<(), KvError> {
                self.redis(&bucket)?.delete(&key).await
            }

            async fn exists(
                &mut self,
                bucket: Resource<Bucket>,
                key: String,
            ) -> Result<bool, KvError> {
                self.redis(&bucket)?.exists(&key).await
            }

            async fn list_keys(
                &mut self,
                bucket: Resource<Bucket>,
                cursor: Option<Cursor>,
            ) -> Result<store::KeyResponse, KvError> {
                let redis = self.redis(&bucket)?;
                let page = redis.list_keys(cursor_from_guest(cursor)?).await?;
                Ok(store::KeyResponse {
                    keys: page.keys,
                    cursor: page.next.map(cursor_to_guest),
                })
            }

            async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
                self.table.delete(bucket)?;
                Ok(())
            }
        }

        impl batch::Host for KvView<'_> {
            async fn get_many(
                &mut self,
                bucket: Resource<Bucket>,
                keys: Vec<String>,
            ) -> Result<Vec<Entry>, KvError> {
                let values = self.redis(&bucket)?.get_many(&keys).await?;
                Ok(keys.into_iter().zip(values).map(entry).collect())
            }

            async fn set_many(
                &mut self,
                bucket: Resource<Bucket>,
                key_values: Vec<(String, Vec<u8>)>,
            ) -> Result<(), KvError> {
                self.redis(&bucket)?.set_many(&key_values).await
            }

            async fn delete_many(
                &mut self,
                bucket: Resource<Bucket>,
                keys: Vec<String>,
            ) -> Result<(), KvError> {
                self.redis(&bucket)?.delete_many(&keys).await
            }
        }
    };
}

pub(super) use front_door;
