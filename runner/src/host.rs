//! The wasmtime side: the engine and the component, compiled and
//! pre-instantiated once; then, per request, a fresh store and instance that
//! see exactly the sitebox world (wasi:http/proxy, the two preopens and the
//! environment) and nothing else.

use crate::guest_log::GuestOutput;
use crate::{ComponentSource, Config, DATA_GUEST_DIR, EMBEDDED_COMPONENT, STATIC_GUEST_DIR};
use anyhow::{Result, anyhow, bail};
use hyper::body::Incoming;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, Linker, ResourceTable};
// wasmtime has its own error type; its `Context` covers both it and std
// errors here, and `?` turns the result into an `anyhow::Error`.
use wasmtime::error::Context as _;
use wasmtime::{
    Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, Store,
};
use wasmtime_wasi::cli::WasiCli;
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemCtx};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

pub struct Host {
    pre: ProxyPre<RequestState>,
    /// The two preopened directories, opened once: each request's context
    /// gets a copy sharing the descriptors (no `open` per request). Replacing
    /// a directory wholesale (a symlink swap) therefore needs a restart.
    preopens: WasiFilesystemCtx,
    /// The component's settings, as its environment.
    environment: Vec<(String, String)>,
    /// One permit per instance the pool can hold: a burst waits here instead
    /// of failing to instantiate. A warm instance keeps its permit.
    slots: Arc<Semaphore>,
    /// Requests one instance may serve (`--reuse-instances`); 1, the
    /// default, is a fresh instance for every request.
    reuse: u32,
    /// Instances waiting for their next request when `reuse` > 1.
    warm: Arc<Mutex<Vec<Warm>>>,
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
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let data_dir = std::fs::canonicalize(&config.data_dir)
            .with_context(|| format!("cannot open data directory {}", config.data_dir.display()))?;
        let mut preopens = WasiCtx::builder();
        preopens
            // File operations run on the calling thread instead of a hop to
            // tokio's blocking pool and back: on the board's page (about a
            // hundred small operations) that is 1.6 ms instead of 23 ms
            // (`cargo bench --bench board`).
            .allow_blocking_current_thread(true)
            .preopened_dir(&static_dir, STATIC_GUEST_DIR, FsPerms::ReadOnly)
            .with_context(|| format!("cannot open {}", static_dir.display()))?
            .preopened_dir(&data_dir, DATA_GUEST_DIR, FsPerms::ReadWrite)
            .with_context(|| format!("cannot open {}", data_dir.display()))?;
        let preopens = preopens.build().filesystem().clone();

        let engine = Engine::new(&engine_config(config)).context("cannot set up wasmtime")?;
        let component = match &config.component {
            ComponentSource::Embedded => Component::new(&engine, EMBEDDED_COMPONENT)
                .context("cannot compile the embedded component")?,
            ComponentSource::File(path) => Component::from_file(&engine, path)
                .with_context(|| format!("cannot load component {}", path.display()))?,
        };
        let linker = sitebox_world_linker(&engine)?;
        let pre = linker
            .instantiate_pre(&component)
            .context("the component needs imports outside the sitebox world")?;
        let pre = ProxyPre::new(pre)
            .context("the component does not export wasi:http/incoming-handler")?;
        Ok(Host {
            pre,
            preopens,
            environment: config.site.environment(),
            slots: Arc::new(Semaphore::new(config.max_instances as usize)),
            reuse: config.reuse_instances.max(1),
            warm: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `request` through a fresh instance (or, with `--reuse-instances`,
    /// a warm one). An error means the guest gave no response (it trapped or
    /// never answered); the details are logged.
    pub async fn handle(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let warm = if self.reuse > 1 {
            self.warm.lock().expect("not poisoned").pop()
        } else {
            None
        };
        let (mut store, proxy, served, slot) = match warm {
            Some(warm) => (warm.store, Some(warm.proxy), warm.served, warm.slot),
            None => {
                let slot = self.slots.clone().acquire_owned().await?;
                let store = Store::new(self.pre.engine(), self.new_request_state());
                (store, None, 0, slot)
            }
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let response_out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        let (reuse, warm) = (self.reuse, self.warm.clone());

        // The guest keeps running after it has sent the headers (it streams
        // the body), so it runs in its own task; the slot and the store live
        // until it is done.
        tokio::spawn(async move {
            let result: wasmtime::Result<Proxy> = async {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => pre.instantiate_async(&mut store).await?,
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, response_out)
                    .await?;
                Ok(proxy)
            }
            .await;
            match result {
                // A trapped instance is never reused.
                Err(error) => tracing::warn!("guest failed: {error:?}"),
                Ok(proxy) if served + 1 < reuse => {
                    let served = served + 1;
                    let next = Warm {
                        store,
                        proxy,
                        served,
                        slot,
                    };
                    warm.lock().expect("not poisoned").push(next);
                }
                Ok(_) => {}
            }
        });

        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(anyhow!("guest answered with error {code:?}")),
            Err(_) => Err(anyhow!("guest ended without a response")),
        }
    }

    fn new_request_state(&self) -> RequestState {
        let mut wasi = WasiCtx::builder()
            .stdout(GuestOutput::Stdout)
            .stderr(GuestOutput::Stderr)
            .envs(&self.environment)
            .build();
        *wasi.filesystem() = self.preopens.clone();
        RequestState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: DenyOutgoing,
        }
    }
}

/// What an instance of the sitebox component touches in a request, with room.
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
const KEEP_RESIDENT_STACK: usize = 256 << 10;

fn engine_config(config: &Config) -> wasmtime::Config {
    // Enough pool slots for `max_instances` instances of a Rust component
    // (its main module plus the small shim modules wit-component adds).
    let instances = config.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(config.max_instance_memory);
    // A slot's memory, table and stack are reset with `memset` (only the
    // pages the last instance dirtied, found with PAGEMAP_SCAN where the
    // kernel has it) instead of `madvise`, whose TLB shootdowns and the page
    // faults after it cost more than the request itself: 5k → 12k req/s on
    // a 1 KiB file (`cargo bench --bench compare`).
    pool.linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .async_stack_keep_resident(KEEP_RESIDENT_STACK)
        .pagemap_scan(Enabled::Auto);
    let mut wasm = wasmtime::Config::new();
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

    // `SITEBOX_PROFILE=perfmap` names JIT code for `perf` (/tmp/perf-PID.map).
    if std::env::var_os("SITEBOX_PROFILE").is_some_and(|v| v == "perfmap") {
        wasm.profiler(ProfilingStrategy::PerfMap);
    }
    wasm
}

/// A linker offering exactly the `sitebox` world of `wit/world.wit`: the
/// `wasi:http/proxy` interfaces, the filesystem, and the `wasi:cli` /
/// `wasi:random` pieces Rust's std imports. No sockets.
fn sitebox_world_linker(engine: &Engine) -> Result<Linker<RequestState>> {
    use wasmtime_wasi::cli::WasiCliView;
    use wasmtime_wasi::filesystem::WasiFilesystemView;
    use wasmtime_wasi::p2::bindings::{cli, filesystem, random};
    use wasmtime_wasi::random::WasiRandom;
    let mut linker = Linker::new(engine);
    wasmtime_wasi_http::p2::add_to_linker_async(&mut linker)?;
    let l = &mut linker;
    filesystem::types::add_to_linker::<_, WasiFilesystem>(l, RequestState::filesystem)?;
    filesystem::preopens::add_to_linker::<_, WasiFilesystem>(l, RequestState::filesystem)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, RequestState::cli)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, |state| state.wasi.random())?;
    Ok(linker)
}

/// The state of one request's store.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: DenyOutgoing,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The site has no business calling other servers: outgoing requests are
/// refused (`wasi:http/outgoing-handler` is in the proxy world, so it must be
/// linked, but it does nothing).
struct DenyOutgoing;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
