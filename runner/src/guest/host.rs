//! The host: the component compiled and pre-instantiated once (`engine`),
//! with what it is given (`mounts`); then each request through
//! an instance — a slot (or a place in the queue), a fresh instance (or a
//! warm one with `--reuse-instances`), a bounded request body, and a guest
//! that must keep making progress.

use crate::filters::observed::Observed;
use crate::guest::admission::{Admission, Refused};
use crate::guest::engine::{RequestState, compile, engine_config, sitebox_world_linker};
use crate::guest::guest_thread::{self, GuestThread};
use crate::guest::keyvalue::KeyValue;
use crate::guest::limited_body::LimitedBody;
use crate::guest::mounts::Mounts;
use crate::guest::progress::{Progress, ProgressBody};
use crate::guest::site_rules::RulesFiles;
use crate::guest::worlds::{Call, Guest, Pre, PrepareError};
use crate::ops::metrics::Metrics;
use crate::{ComponentSource, Config, Limits};
use anyhow::{Result, anyhow};
use bytes::Bytes;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{Notify, OwnedSemaphorePermit};
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
    metrics: Option<Arc<Metrics>>,
}

/// One compiled component, ready to instantiate, and (with
/// `--reuse-instances`) its instances waiting for their next request.
struct Generation {
    pre: Pre,
    warm: Mutex<Vec<Warm>>,
}

/// An instance that served `served` requests and may serve more.
struct Warm {
    store: Store<RequestState>,
    proxy: Guest,
    served: u32,
    slot: OwnedSemaphorePermit,
}

impl Host {
    pub fn new(config: &Config, metrics: Option<Arc<Metrics>>) -> Result<Host> {
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
        let generation = Generation::new(&linker, &component)?;
        Ok(Host {
            engine,
            cache,
            linker,
            current: RwLock::new(Arc::new(generation)),
            mounts,
            admission: Admission::new(config.limits.max_concurrent, config.limits.max_queue),
            limits: config.limits.clone(),
            reuse: config.reuse_instances.max(1),
            metrics,
        })
    }

    /// Instances busy and requests queued now.
    pub fn load(&self) -> (u32, u32) {
        (self.admission.busy(), self.admission.queued())
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
        let generation = Generation::new(&self.linker, &component)?;
        *self.current.write().expect("not poisoned") = Arc::new(generation);
        Ok(())
    }
}

impl Generation {
    fn new(linker: &Linker<RequestState>, component: &Component) -> Result<Generation> {
        let pre = linker
            .instantiate_pre(component)
            .context("the component needs imports outside the sitebox world")?;
        let pre = Pre::new(pre).context(
            "the component exports neither wasi:http/handler@0.3 nor wasi:http/incoming-handler@0.2",
        )?;
        Ok(Generation {
            pre,
            warm: Mutex::new(Vec::new()),
        })
    }
}

pub type GuestResponse = hyper::Response<ProgressBody<HyperOutgoingBody>>;

/// Why the host answers a request itself.
#[derive(Debug)]
pub enum Failure {
    /// The guest trapped, or ended without answering (500).
    Failed(anyhow::Error),
    /// The guest went `request_timeout` without progress before answering (504).
    TimedOut,
    /// The host cannot turn the request into `wasi:http` for the guest: the
    /// client's fault (400).
    Unconvertible(anyhow::Error),
    /// The request body is larger than `max_body` (413).
    BodyTooLarge,
    /// No instance free and the queue full, or waited too long (503).
    Busy(Refused),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Failed(error) => write!(f, "{error:#}"),
            Failure::TimedOut => f.write_str("no progress within the request timeout"),
            Failure::Unconvertible(error) => {
                write!(f, "the request cannot be handed over: {error:#}")
            }
            Failure::BodyTooLarge => f.write_str("the request body is too large"),
            Failure::Busy(Refused::QueueFull) => {
                f.write_str("every instance is busy and the queue is full")
            }
            Failure::Busy(Refused::Waited) => f.write_str("no instance came free in time"),
        }
    }
}

/// How a guest's run ended.
enum Outcome {
    Done,
    Trapped,
    TimedOut,
}

/// An instance to run a request on, and what it comes with.
struct Instance {
    store: Store<RequestState>,
    /// Set for a warm instance; a fresh one is instantiated in the guest's
    /// task.
    proxy: Option<Guest>,
    /// Requests it has served before.
    served: u32,
    slot: OwnedSemaphorePermit,
}

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
        let mut instance = self.instance(&generation, request.uri().path()).await?;
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
        let (call, receiver) = match generation.pre.prepare(&mut instance.store, scheme, request) {
            Ok(prepared) => prepared,
            Err(PrepareError::Unconvertible(error)) => return Err(Failure::Unconvertible(error)),
            Err(PrepareError::Failed(error)) => return Err(Failure::Failed(error)),
        };
        let guest = self.spawn_guest(generation, instance, call, progress.clone());

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
            Err(_) => match guest.join().await {
                Ok(Outcome::TimedOut) => Err(Failure::TimedOut),
                Ok(Outcome::Trapped) => Err(Failure::Failed(anyhow!("the guest trapped"))),
                Ok(Outcome::Done) => {
                    Err(Failure::Failed(anyhow!("guest ended without a response")))
                }
                Err(error) => Err(Failure::Failed(error)),
            },
        }
    }

    /// A warm instance (with `--reuse-instances`), or a slot and a fresh
    /// store for a request for `path`, waiting in the queue for the slot if
    /// need be.
    async fn instance(&self, generation: &Generation, path: &str) -> Result<Instance, Failure> {
        let warm = if self.reuse > 1 {
            generation.warm.lock().expect("not poisoned").pop()
        } else {
            None
        };
        let mut instance = match warm {
            Some(warm) => Instance {
                store: warm.store,
                proxy: Some(warm.proxy),
                served: warm.served,
                slot: warm.slot,
            },
            None => {
                let slot = (self.admission)
                    .admit(self.limits.request_timeout)
                    .await
                    .map_err(|refused| {
                        if let Some(metrics) = &self.metrics {
                            metrics.refused(&refused);
                        }
                        Failure::Busy(refused)
                    })?;
                Instance {
                    store: Store::new(
                        self.engine(),
                        self.mounts.request_state((self.reuse == 1).then_some(path)),
                    ),
                    proxy: None,
                    served: 0,
                    slot,
                }
            }
        };
        // A guest yields to other requests at every epoch tick.
        instance.store.set_epoch_deadline(1);
        instance.store.epoch_deadline_async_yield_and_update(1);
        Ok(instance)
    }

    /// Runs the guest on a thread of its own (`guest_thread`: a filesystem
    /// call that hangs stalls no other request), which owns the slot and the
    /// store until the guest is done: it keeps running after it has sent
    /// the headers (it streams the body). A healthy instance goes back to
    /// the warm ones while it may serve more.
    fn spawn_guest(
        &self,
        generation: Arc<Generation>,
        instance: Instance,
        call: Call,
        progress: Progress,
    ) -> GuestThread<Outcome> {
        let (reuse, idle) = (self.reuse, self.limits.request_timeout);
        let metrics = self.metrics.clone();
        let Instance {
            mut store,
            proxy,
            served,
            slot,
        } = instance;
        guest_thread::spawn(async move {
            let run = async {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => generation.pre.instantiate(&mut store).await?,
                };
                proxy.run(&mut store, call).await
            };
            match progress.watch(idle, run).await {
                None => {
                    tracing::warn!("guest stopped: no progress in {idle:?}");
                    if let Some(metrics) = &metrics {
                        metrics.guest_timed_out();
                    }
                    Outcome::TimedOut
                }
                // A trapped instance is never reused.
                Some(Err(error)) => {
                    tracing::warn!("guest failed: {error:?}");
                    if let Some(metrics) = &metrics {
                        metrics.guest_trapped();
                    }
                    Outcome::Trapped
                }
                Some(Ok(proxy)) => {
                    if served + 1 < reuse {
                        let next = Warm {
                            store,
                            proxy,
                            served: served + 1,
                            slot,
                        };
                        generation.warm.lock().expect("not poisoned").push(next);
                    }
                    Outcome::Done
                }
            }
        })
    }
}
