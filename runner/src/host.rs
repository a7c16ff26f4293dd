//! The wasmtime side: the engine and the component, compiled and
//! pre-instantiated once; then, per request, a fresh store and instance that
//! see exactly the sitebox world (wasi:http/proxy, the preopens, the board's
//! key-value bucket and the environment) and nothing else.

use crate::admission::Admission;
use crate::guest_log::GuestOutput;
use crate::keyvalue::{self, KeyValue, KvView};
use crate::{BoardStore, CompileCache, ComponentSource, Config, EMBEDDED_COMPONENT, Limits};
use anyhow::{Result, bail};
use sitebox::settings;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::{Component, Linker, ResourceTable};
// wasmtime has its own error type; its `Context` covers both it and std
// errors here, and `?` turns the result into an `anyhow::Error`.
use wasmtime::error::Context as _;
use wasmtime::{
    Cache, CacheConfig, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ProfilingStrategy, Store,
};
use wasmtime_wasi::cli::WasiCli;
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemCtx};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

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
    pub(crate) admission: Admission,
    pub(crate) limits: Limits,
    /// Requests one instance may serve (`--reuse-instances`); 1, the
    /// default, is a fresh instance for every request.
    pub(crate) reuse: u32,
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
pub(crate) struct Generation {
    pub(crate) pre: ProxyPre<RequestState>,
    pub(crate) warm: Mutex<Vec<Warm>>,
}

/// An instance that served `served` requests and may serve more.
pub(crate) struct Warm {
    pub(crate) store: Store<RequestState>,
    pub(crate) proxy: Proxy,
    pub(crate) served: u32,
    pub(crate) slot: OwnedSemaphorePermit,
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
            // tokio's blocking pool and back: on the board's page (about a
            // hundred small operations) that is 1.6 ms instead of 23 ms
            // (`cargo bench --bench board`).
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

    /// The component new requests go to.
    pub(crate) fn current(&self) -> Arc<Generation> {
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

    pub(crate) fn new_request_state(&self) -> RequestState {
        let mut wasi = WasiCtx::builder()
            .stdout(GuestOutput::Stdout)
            .stderr(GuestOutput::Stderr)
            .envs(&self.environment)
            .build();
        *wasi.filesystem() = self.preopens.clone();
        RequestState {
            wasi,
            http: WasiHttpCtx::new(),
            keyvalue: self.keyvalue.clone(),
            table: ResourceTable::new(),
            hooks: DenyOutgoing,
        }
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

/// Compiles the component, or loads it from the cache when it was compiled
/// before (same bytes, same wasmtime and settings), and says which.
fn compile(engine: &Engine, cache: Option<&Cache>, source: &ComponentSource) -> Result<Component> {
    let started = Instant::now();
    let hits_before = cache.map_or(0, Cache::cache_hits);
    let component = match source {
        ComponentSource::Embedded => Component::new(engine, EMBEDDED_COMPONENT)
            .context("cannot compile the embedded component")?,
        ComponentSource::File(path) => Component::from_file(engine, path)
            .with_context(|| format!("cannot load component {}", path.display()))?,
    };
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    match cache {
        Some(cache) if cache.cache_hits() > hits_before => tracing::info!(
            "loaded the compiled component from the cache in {}: {millis:.1} ms",
            cache.directory().display()
        ),
        _ => tracing::info!("compiled the component in {millis:.1} ms"),
    }
    Ok(component)
}

/// What an instance of the sitebox component touches in a request, with room.
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
const KEEP_RESIDENT_STACK: usize = 256 << 10;

fn engine_config(config: &Config) -> Result<(wasmtime::Config, Option<Cache>)> {
    // Enough pool slots for `max_concurrent` instances of a Rust component
    // (its main module plus the small shim modules wit-component adds).
    let instances = config.limits.max_concurrent;
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
    // Guests check an epoch counter (ticked by `server`) in loops and calls,
    // so a busy guest yields to other requests and can be stopped.
    wasm.epoch_interruption(true);
    // No `compiler_inlining`: it saves 4.5% of the instructions of a 1 KiB
    // request (`cargo bench --bench compare -- instructions`) but doubles the
    // compiled component, so a start from the cache took 16-83 ms instead of
    // 8-45 (the target is 50), and compiling 2.5 s instead of 0.5.
    let cache = match &config.cache {
        CompileCache::Off => None,
        CompileCache::Default => Some(CacheConfig::new()),
        CompileCache::Directory(dir) => {
            let dir = std::path::absolute(dir)
                .with_context(|| format!("bad cache directory {}", dir.display()))?;
            let mut cache = CacheConfig::new();
            cache.with_directory(dir);
            Some(cache)
        }
    };
    let cache = cache
        .map(|cache| Cache::new(cache).context("cannot use the compiled-component cache"))
        .transpose()?;
    wasm.cache(cache.clone());

    // `SITEBOX_PROFILE=perfmap` names JIT code for `perf` (/tmp/perf-PID.map).
    if std::env::var_os("SITEBOX_PROFILE").is_some_and(|v| v == "perfmap") {
        wasm.profiler(ProfilingStrategy::PerfMap);
    }
    Ok((wasm, cache))
}

/// A linker offering exactly the `sitebox` world of `wit/world.wit`: the
/// `wasi:http/proxy` interfaces, the filesystem, `wasi:keyvalue`, and the
/// `wasi:cli` / `wasi:random` pieces Rust's std imports. No sockets.
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
    keyvalue::add_to_linker(l, |state| KvView {
        kv: &state.keyvalue,
        table: &mut state.table,
    })?;
    Ok(linker)
}

/// The state of one request's store.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    keyvalue: Arc<KeyValue>,
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
