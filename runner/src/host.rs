//! The host: the component compiled and pre-instantiated once (`engine`),
//! the preopens and the environment it is given; then each request through
//! an instance — a slot (or a place in the queue), a fresh instance (or a
//! warm one with `--reuse-instances`), a bounded request body, and a guest
//! that must keep making progress.

use crate::admission::{Admission, Refused};
use crate::engine::{RequestState, compile, engine_config, sitebox_world_linker};
use crate::guest_log::GuestOutput;
use crate::keyvalue::KeyValue;
use crate::limited_body::LimitedBody;
use crate::observed::Observed;
use crate::progress::{Progress, ProgressBody};
use crate::site_rules::RulesFiles;
use crate::{BoardStore, ComponentSource, Config, Limits};
use anyhow::{Result, anyhow, bail};
use hyper::body::Incoming;
use sitebox::settings;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::task::JoinHandle;
use wasmtime::component::{Component, Linker, Resource};
// wasmtime has its own error type; its `Context` covers both it and std
// errors here, and `?` turns the result into an `anyhow::Error`.
use wasmtime::error::Context as _;
use wasmtime::{Cache, Engine, Store};
use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::{FsPerms, WasiCtx};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};

pub struct Host {
    engine: Engine,
    /// Compiled components from earlier runs (`--cache-dir`).
    cache: Option<Cache>,
    linker: Linker<RequestState>,
    /// The component being served; `--watch` swaps in a new one while
    /// requests on the old one finish.
    current: RwLock<Arc<Generation>>,
    /// The preopened directories (the site, and the data when the board is
    /// on files), opened once: each request's context gets a copy sharing
    /// the descriptors (no `open` per request). Replacing a directory
    /// wholesale (a symlink swap) therefore needs a restart.
    preopens: WasiFilesystemCtx,
    /// The board's bucket, when it is on Redis.
    keyvalue: Arc<KeyValue>,
    /// The component's settings, as its environment.
    environment: Vec<(String, String)>,
    /// The site's rules files, handed in with each fresh instance's
    /// environment (a warm instance keeps its environment, so with
    /// `--reuse-instances` the component reads the files itself).
    rules_files: RulesFiles,
    admission: Admission,
    limits: Limits,
    /// Requests one instance may serve (`--reuse-instances`); 1, the
    /// default, is a fresh instance for every request.
    reuse: u32,
}

/// A hash the component could not use fails the start, not the first
/// clear: it must be argon2, and checking it must fit in an instance's
/// memory (with room for the rest of the request).
fn check_admin_hash(hash: &str, max_instance_memory: usize) -> Result<()> {
    // What a request takes besides argon2's blocks: the component's own
    // memory (its heap arena included) is under 2 MiB.
    const HEADROOM: usize = 2 << 20;
    let kib = sitebox::admin::hash_memory_kib(hash)
        .map_err(|reason| anyhow::anyhow!("the admin password hash is unusable: {reason}"))?;
    let needed = (kib as usize) << 10;
    if needed + HEADROOM > max_instance_memory {
        bail!(
            "checking the admin password takes {} MiB (its m={kib}), more than --max-memory {} MiB allows with {} MiB for the request",
            needed.div_ceil(1 << 20),
            max_instance_memory >> 20,
            HEADROOM >> 20
        );
    }
    Ok(())
}

/// One compiled component, ready to instantiate, and (with
/// `--reuse-instances`) its instances waiting for their next request.
struct Generation {
    pre: ProxyPre<RequestState>,
    warm: Mutex<Vec<Warm>>,
}

/// An instance that served `served` requests and may serve more.
struct Warm {
    store: Store<RequestState>,
    proxy: Proxy,
    served: u32,
    slot: OwnedSemaphorePermit,
}

impl Host {
    pub fn new(config: &Config) -> Result<Host> {
        let static_dir = std::fs::canonicalize(&config.static_dir).with_context(|| {
            format!("static directory {} not found", config.static_dir.display())
        })?;
        if !static_dir.is_dir() {
            bail!("{} is not a directory", static_dir.display());
        }
        if let Some(hash) = &config.site.admin_password_hash {
            check_admin_hash(hash, config.max_instance_memory)?;
        }
        let mut preopens = WasiCtx::builder();
        preopens
            // File operations run on the calling thread instead of a hop to
            // tokio's blocking pool and back: the board's page does about a
            // hundred small ones (`cargo bench --bench board`; the figures:
            // docs/performance.md).
            .allow_blocking_current_thread(true)
            .preopened_dir(&static_dir, settings::STATIC_DIR, FsPerms::ReadOnly)
            .with_context(|| format!("cannot open {}", static_dir.display()))?;
        let environment = config
            .site
            .environment()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        // The component keeps the board in `/data` when it is there, and in
        // its key-value bucket otherwise.
        let keyvalue = match &config.store {
            BoardStore::Files => {
                let data_dir = data_dir(config)?;
                preopens
                    .preopened_dir(&data_dir, settings::DATA_DIR, FsPerms::ReadWrite)
                    .with_context(|| format!("cannot open {}", data_dir.display()))?;
                KeyValue::none()
            }
            BoardStore::Redis { url, timeout } => {
                KeyValue::redis(url, &config.site.bucket, *timeout)?
            }
        };
        let preopens = preopens.build().filesystem().clone();

        let (wasm_config, cache) = engine_config(config)?;
        let engine = Engine::new(&wasm_config).context("cannot set up wasmtime")?;
        let linker = sitebox_world_linker(&engine)?;
        let component = compile(&engine, cache.as_ref(), &config.component)?;
        let generation = Generation::new(&linker, &component)?;
        Ok(Host {
            engine,
            cache,
            linker,
            current: RwLock::new(Arc::new(generation)),
            preopens,
            keyvalue,
            environment,
            rules_files: RulesFiles::open(&static_dir)?,
            admission: Admission::new(config.limits.max_concurrent, config.limits.max_queue),
            limits: config.limits.clone(),
            reuse: config.reuse_instances.max(1),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn keyvalue(&self) -> &Arc<KeyValue> {
        &self.keyvalue
    }

    pub(crate) fn rules_files(&self) -> &RulesFiles {
        &self.rules_files
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

    fn new_request_state(&self) -> RequestState {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(GuestOutput::Stdout)
            .stderr(GuestOutput::Stderr)
            .envs(&self.environment);
        if self.reuse == 1 {
            wasi.envs(&self.rules_files.environment());
        }
        let mut wasi = wasi.build();
        *wasi.filesystem() = self.preopens.clone();
        RequestState::new(wasi, self.keyvalue.clone())
    }
}

impl Generation {
    fn new(linker: &Linker<RequestState>, component: &Component) -> Result<Generation> {
        let pre = linker
            .instantiate_pre(component)
            .context("the component needs imports outside the sitebox world")?;
        let pre = ProxyPre::new(pre)
            .context("the component does not export wasi:http/incoming-handler")?;
        Ok(Generation {
            pre,
            warm: Mutex::new(Vec::new()),
        })
    }
}

/// The data directory, created if missing.
fn data_dir(config: &Config) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&config.data_dir)
        .with_context(|| format!("cannot open data directory {}", config.data_dir.display()))?;
    Ok(data_dir)
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
    proxy: Option<Proxy>,
    /// Requests it has served before.
    served: u32,
    slot: OwnedSemaphorePermit,
}

/// The request as the guest receives it.
struct GuestCall {
    request: Resource<HostIncomingRequest>,
    response_out: Resource<HostResponseOutparam>,
}

impl Host {
    /// Runs `request` through an instance. The guest decides the response;
    /// a `Failure` means it could not (and the details are logged).
    pub async fn handle(
        &self,
        scheme: Scheme,
        request: hyper::Request<Incoming>,
    ) -> Result<GuestResponse, Failure> {
        let generation = self.current();
        let mut instance = self.instance(&generation).await?;
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
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = instance
            .store
            .data_mut()
            .http()
            .new_incoming_request(scheme, request);
        let response_out = instance
            .store
            .data_mut()
            .http()
            .new_response_outparam(sender);
        let call = match (request, response_out) {
            (Ok(request), Ok(response_out)) => GuestCall {
                request,
                response_out,
            },
            (Err(error), _) => return Err(Failure::Unconvertible(error.into())),
            (_, Err(error)) => return Err(Failure::Failed(error.into())),
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
            Ok(Err(code)) => Err(Failure::Failed(anyhow!(
                "guest answered with error {code:?}"
            ))),
            // The guest is gone without answering: learn why.
            Err(_) => match guest.await {
                Ok(Outcome::TimedOut) => Err(Failure::TimedOut),
                Ok(Outcome::Trapped) => Err(Failure::Failed(anyhow!("the guest trapped"))),
                Ok(Outcome::Done) => {
                    Err(Failure::Failed(anyhow!("guest ended without a response")))
                }
                Err(error) => Err(Failure::Failed(error.into())),
            },
        }
    }

    /// A warm instance (with `--reuse-instances`), or a slot and a fresh
    /// store, waiting in the queue for the slot if need be.
    async fn instance(&self, generation: &Generation) -> Result<Instance, Failure> {
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
                    .map_err(Failure::Busy)?;
                Instance {
                    store: Store::new(self.engine(), self.new_request_state()),
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

    /// Runs the guest on its own task, which owns the slot and the store
    /// until the guest is done: it keeps running after it has sent the
    /// headers (it streams the body). A healthy instance goes back to the
    /// warm ones while it may serve more.
    fn spawn_guest(
        &self,
        generation: Arc<Generation>,
        instance: Instance,
        call: GuestCall,
        progress: Progress,
    ) -> JoinHandle<Outcome> {
        let (reuse, idle) = (self.reuse, self.limits.request_timeout);
        let Instance {
            mut store,
            proxy,
            served,
            slot,
        } = instance;
        tokio::spawn(async move {
            let run = async {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => generation.pre.instantiate_async(&mut store).await?,
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, call.request, call.response_out)
                    .await?;
                wasmtime::Result::<Proxy>::Ok(proxy)
            };
            match progress.watch(idle, run).await {
                None => {
                    tracing::warn!("guest stopped: no progress in {idle:?}");
                    Outcome::TimedOut
                }
                // A trapped instance is never reused.
                Some(Err(error)) => {
                    tracing::warn!("guest failed: {error:?}");
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
