//! The host: the component compiled and pre-instantiated once (`engine`),
//! with what it is given (`mounts`); then each request through
//! an instance — a slot (or a place in the queue), a fresh instance (or a
//! warm one with `--reuse-instances`), a bounded request body, and a guest
//! that must keep making progress.

use crate::filters::observed::Observed;
use crate::guest::admission::{Admission, Refused};
use crate::guest::alone::{Alone, Instance, Taken, WarmInstances};
use crate::guest::engine::{RequestState, compile, engine_config, sitebox_world_linker};
pub use crate::guest::failure::Failure;
use crate::guest::failure::Running;
use crate::guest::keyvalue::KeyValue;
use crate::guest::limited_body::LimitedBody;
use crate::guest::mounts::Mounts;
use crate::guest::progress::{Progress, ProgressBody};
use crate::guest::shared::{Job, SharedPool, Start};
use crate::guest::site_rules::RulesFiles;
use crate::guest::worlds::{Answered, Pre, PrepareError, prepare_p3};
use crate::ops::metrics::Metrics;
use crate::{ComponentSource, Config, Limits};
use anyhow::{Result, anyhow};
use bytes::Bytes;
use std::path::Path;
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, Linker};
// wasmtime has its own error type; its `Context` covers both it and std
// errors here, and `?` turns the result into an `anyhow::Error`.
use wasmtime::error::Context as _;
use wasmtime::{Cache, Engine, Store};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

pub struct Host {
    engine: Engine,
    /// Compiled components from earlier runs (`--cache-dir`).
    cache: Option<Cache>,
    linker: Linker<RequestState>,
    /// The directories, store and environment every instance gets.
    mounts: Mounts,
    /// The component being served; `--watch` swaps in a new one while
    /// requests on the old one finish.
    current: RwLock<Arc<Generation>>,
    admission: Admission,
    limits: Limits,
    /// Requests one instance may serve (`--reuse-instances`); 1, the
    /// default, is a fresh instance for every request.
    reuse: u32,
    /// Requests one 0.3 instance serves at once (`--instance-concurrency`).
    per_instance: u32,
    /// The pooling allocator's places, one per live instance (busy, warm or
    /// shared); `admission` counts requests.
    instance_slots: Arc<Semaphore>,
    metrics: Option<Arc<Metrics>>,
}

/// One compiled component, ready to instantiate, and (with
/// `--reuse-instances`) its instances waiting for their next request.
struct Generation {
    pre: Pre,
    warm: Arc<WarmInstances>,
    /// With `--instance-concurrency`: the instances requests share.
    shared: Option<Arc<SharedPool>>,
}

impl Host {
    pub fn new(config: &Config, metrics: Option<Arc<Metrics>>) -> Result<Host> {
        let (reuse, per_instance) = (
            config.reuse_instances.max(1),
            config.instance_concurrency.max(1),
        );
        if per_instance > 1 && reuse < per_instance {
            anyhow::bail!(
                "--instance-concurrency {per_instance} needs --reuse-instances of at least \
                 {per_instance} (an instance serving {per_instance} requests at once serves that many)"
            );
        }
        let store_errors = metrics
            .as_ref()
            .map(|m| m.store_errors())
            .unwrap_or_default();
        let mounts = Mounts::new(config, store_errors)?;
        // A 0.2 component runs on an engine without the component model's
        // concurrency, which costs every store (8-18% of the runner's rate
        // on a 1 KiB file, measured); a 0.3 component does not compile
        // there, and gets an engine with it.
        let (mut wasm_config, cache) = engine_config(config)?;
        wasm_config.concurrency_support(false);
        let engine = Engine::new(&wasm_config).context("cannot set up wasmtime")?;
        let (engine, component, p3) = match compile(&engine, cache.as_ref(), &config.component) {
            Ok(component) => (engine, component, false),
            Err(_) => {
                wasm_config.concurrency_support(true);
                let engine = Engine::new(&wasm_config).context("cannot set up wasmtime")?;
                let component = compile(&engine, cache.as_ref(), &config.component)?;
                (engine, component, true)
            }
        };
        let linker = sitebox_world_linker(&engine, p3)?;
        let max_concurrent = config.limits.max_concurrent;
        let instance_slots = Arc::new(Semaphore::new(max_concurrent as usize));
        let generation =
            Generation::new(&linker, &component, per_instance, reuse, &instance_slots)?;
        Ok(Host {
            engine,
            cache,
            linker,
            current: RwLock::new(Arc::new(generation)),
            mounts,
            admission: Admission::new(
                max_concurrent.saturating_mul(per_instance),
                config.limits.max_queue,
            ),
            limits: config.limits.clone(),
            reuse,
            per_instance,
            instance_slots,
            metrics,
        })
    }

    /// Instances busy and requests queued now.
    pub fn load(&self) -> (u32, u32) {
        let busy = if self.per_instance > 1 {
            let free = self.instance_slots.available_permits() as u32;
            self.limits.max_concurrent - free
        } else {
            self.admission.busy()
        };
        (busy, self.admission.queued())
    }

    /// Whether the board's store is there: Redis answers a PING, or the data
    /// directory is still a directory.
    pub async fn store_reachable(&self) -> Result<(), String> {
        match &self.mounts.data_dir {
            Some(dir) => match std::fs::metadata(dir) {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(format!("{} is not a directory", dir.display())),
                Err(error) => Err(format!("{}: {error}", dir.display())),
            },
            None => self.mounts.keyvalue.ping().await,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn keyvalue(&self) -> &Arc<KeyValue> {
        &self.mounts.keyvalue
    }

    pub(crate) fn rules_files(&self) -> &RulesFiles {
        &self.mounts.rules_files
    }

    /// The component new requests go to.
    fn current(&self) -> Arc<Generation> {
        self.current.read().expect("not poisoned").clone()
    }

    /// Compiles the component in `path` and sends new requests to it; on
    /// error the old one stays.
    pub fn reload(&self, path: &Path) -> Result<()> {
        let source = ComponentSource::File(path.to_owned());
        let component = compile(&self.engine, self.cache.as_ref(), &source)?;
        let generation = Generation::new(
            &self.linker,
            &component,
            self.per_instance,
            self.reuse,
            &self.instance_slots,
        )?;
        let old = std::mem::replace(
            &mut *self.current.write().expect("not poisoned"),
            Arc::new(generation),
        );
        // Their slots are the new component's to take.
        old.warm.clear();
        Ok(())
    }
}

impl Generation {
    /// `component` made ready to serve, `per_instance` requests at once in
    /// an instance (sharing `instance_slots`), `reuse` in all.
    fn new(
        linker: &Linker<RequestState>,
        component: &Component,
        per_instance: u32,
        reuse: u32,
        instance_slots: &Arc<Semaphore>,
    ) -> Result<Generation> {
        let pre = linker
            .instantiate_pre(component)
            .context("the component needs imports outside the sitebox world")?;
        let pre = Pre::new(pre).context(
            "the component exports neither wasi:http/handler@0.3 nor wasi:http/incoming-handler@0.2",
        )?;
        let shared = match (&pre, per_instance) {
            (_, 1) => None,
            (Pre::P3(_), per_instance) => {
                Some(SharedPool::new(instance_slots.clone(), per_instance, reuse))
            }
            (Pre::P2(_), _) => anyhow::bail!(
                "--instance-concurrency needs a wasi:http 0.3 component; this one exports \
                 0.2's incoming-handler, which serves one request at a time"
            ),
        };
        Ok(Generation {
            pre,
            warm: Arc::default(),
            shared,
        })
    }
}

pub type GuestResponse = hyper::Response<ProgressBody<HyperOutgoingBody>>;

impl Host {
    /// Runs `request` through an instance. The guest decides the response;
    /// a `Failure` means it could not (and the details are logged).
    pub async fn handle<B, E>(
        &self,
        scheme: Scheme,
        request: hyper::Request<B>,
    ) -> Result<GuestResponse, Failure>
    where
        B: http_body::Body<Data = Bytes, Error = E> + Send + 'static,
        E: Into<wasmtime_wasi_http::Error>,
    {
        let generation = self.current();
        let progress = Progress::new();
        let too_large = Arc::new(Notify::new());
        let request = request.map(|body| {
            LimitedBody::new(
                body,
                self.limits.max_body,
                progress.clone(),
                too_large.clone(),
            )
        });
        let (receiver, guest) = match &generation.shared {
            Some(pool) => (self.run_shared(pool, &generation, scheme, request, &progress)).await?,
            None => {
                self.run_alone(generation.clone(), scheme, request, &progress)
                    .await?
            }
        };

        // A guest that hit the body limit may still answer (it saw an error
        // reading): the 413 wins.
        let answer = tokio::select! {
            biased;
            () = too_large.notified() => {
                guest.abort();
                return Err(Failure::BodyTooLarge);
            }
            answer = receiver => answer,
        };
        match answer {
            Ok(Ok(response)) => {
                progress.mark();
                Ok(response.map(|body| Observed::new(body, progress)))
            }
            Ok(Err(code)) => Err(Failure::Failed(anyhow!("guest answered with error {code}"))),
            // The guest is gone without answering: learn why.
            Err(()) => Err(guest.why_unanswered().await),
        }
    }

    /// `request` on an instance of its own (fresh, or warm with
    /// `--reuse-instances`), run on a thread of its own.
    async fn run_alone<B>(
        &self,
        generation: Arc<Generation>,
        scheme: Scheme,
        request: hyper::Request<B>,
        progress: &Progress,
    ) -> Result<(Answered, Running), Failure>
    where
        B: http_body::Body<Data = Bytes, Error = wasmtime_wasi_http::Error> + Send + 'static,
    {
        let mut instance = self.instance(&generation, request.uri().path()).await?;
        let (call, receiver) = match generation.pre.prepare(&mut instance.store, scheme, request) {
            Ok(prepared) => prepared,
            Err(PrepareError::Unconvertible(error)) => return Err(Failure::Unconvertible(error)),
            Err(PrepareError::Failed(error)) => return Err(Failure::Failed(error)),
        };
        let alone = Alone {
            pre: generation.pre.clone(),
            warm: generation.warm.clone(),
            reuse: self.reuse,
            idle: self.limits.request_timeout,
            metrics: self.metrics.clone(),
        };
        let guest = alone.spawn(instance, call, progress.clone());
        Ok((receiver, Running::Alone(guest)))
    }

    /// `request` on a shared instance (`--instance-concurrency`): a place
    /// among the admitted requests, then one in an instance.
    async fn run_shared<B>(
        &self,
        pool: &Arc<SharedPool>,
        generation: &Generation,
        scheme: Scheme,
        request: hyper::Request<B>,
        progress: &Progress,
    ) -> Result<(Answered, Running), Failure>
    where
        B: http_body::Body<Data = Bytes, Error = wasmtime_wasi_http::Error> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.limits.request_timeout;
        let admitted = self.admit().await?;
        let (call, receiver) = prepare_p3(scheme, request).map_err(Failure::Unconvertible)?;
        let (unanswered, why) = tokio::sync::oneshot::channel();
        let job = Job {
            call,
            progress: progress.clone(),
            unanswered,
            admitted,
        };
        let start = || Start {
            pre: generation.pre.clone(),
            store: self.new_store(None),
            request_timeout: self.limits.request_timeout,
            metrics: self.metrics.clone(),
        };
        (pool.dispatch(job, deadline, start).await).map_err(|refused| self.refused(refused))?;
        let running = Running::Shared {
            why,
            progress: progress.clone(),
            timeout: self.limits.request_timeout,
        };
        Ok((receiver, running))
    }

    /// A place among the requests admitted, at once or after waiting in the
    /// queue.
    async fn admit(&self) -> Result<OwnedSemaphorePermit, Failure> {
        (self.admission)
            .admit(self.limits.request_timeout)
            .await
            .map_err(|refused| self.refused(refused))
    }

    fn refused(&self, refused: Refused) -> Failure {
        if let Some(metrics) = &self.metrics {
            metrics.refused(&refused);
        }
        Failure::Busy(refused)
    }

    /// A store for a fresh instance (for a request for `path`, or several);
    /// its guest yields to other requests at every epoch tick.
    fn new_store(&self, path: Option<&str>) -> Store<RequestState> {
        let mut store = Store::new(self.engine(), self.mounts.request_state(path));
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }

    /// A place among the admitted requests (waiting in the queue for it if
    /// need be), then a warm instance (with `--reuse-instances`) or a slot
    /// and a fresh store for a request for `path`.
    async fn instance(&self, generation: &Generation, path: &str) -> Result<Instance, Failure> {
        let admitted = self.admit().await?;
        let deadline = tokio::time::Instant::now() + self.limits.request_timeout;
        let taken = (generation.warm.take(&self.instance_slots, deadline).await)
            .map_err(|refused| self.refused(refused))?;
        Ok(match taken {
            Taken::Warm(mut warm) => {
                // Its deadline counts from now (`new_store`).
                warm.store.set_epoch_deadline(1);
                Instance {
                    store: warm.store,
                    proxy: Some(warm.proxy),
                    served: warm.served,
                    slot: warm.slot,
                    admitted,
                }
            }
            Taken::Slot(slot) => Instance {
                store: self.new_store((self.reuse == 1).then_some(path)),
                proxy: None,
                served: 0,
                slot,
                admitted,
            },
        })
    }
}
