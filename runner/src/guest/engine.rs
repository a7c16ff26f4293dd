//! The wasmtime engine and what it runs: the engine's settings (the pooling
//! allocator, epochs, the compile cache), the component compiled (or loaded
//! from the cache), and the linker offering exactly the sitebox world, with
//! the per-request state its imports work on.

use crate::guest::keyvalue::{self, KeyValue, KvView};
use crate::{CompileCache, ComponentSource, Config, EMBEDDED_COMPONENT};
use anyhow::Result;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, Linker, ResourceTable};
// wasmtime has its own error type; its `Context` covers both it and std
// errors here, and `?` turns the result into an `anyhow::Error`.
use wasmtime::error::Context as _;
use wasmtime::{
    Cache, CacheConfig, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ProfilingStrategy,
};
use wasmtime_wasi::cli::WasiCli;
use wasmtime_wasi::filesystem::WasiFilesystem;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Compiles the component, or loads it from the cache when it was compiled
/// before (same bytes, same wasmtime and settings), and says which.
pub(crate) fn compile(
    engine: &Engine,
    cache: Option<&Cache>,
    source: &ComponentSource,
) -> Result<Component> {
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

pub(crate) fn engine_config(config: &Config) -> Result<(wasmtime::Config, Option<Cache>)> {
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
    // faults after it cost more than the request itself (the figures:
    // docs/performance.md).
    pool.linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .async_stack_keep_resident(KEEP_RESIDENT_STACK)
        .pagemap_scan(Enabled::Auto);
    let mut wasm = wasmtime::Config::new();
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Guests check an epoch counter (ticked by `server`) in loops and calls,
    // so a busy guest yields to other requests and can be stopped.
    wasm.epoch_interruption(true);
    // No `compiler_inlining`: it saves a few percent of a small request's
    // instructions but doubles the compiled component, and with it the start
    // from the cache and the compile (docs/performance.md, "tried and not
    // kept").
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

/// A linker offering exactly the `sitebox` world of `wit/world.wit` (and,
/// for the 0.3 component, `wasi:http/types` 0.3 beside it): the
/// `wasi:http/proxy` interfaces, the filesystem, `wasi:keyvalue`, and the
/// `wasi:cli` / `wasi:random` pieces Rust's std imports. No sockets.
pub(crate) fn sitebox_world_linker(engine: &Engine, p3: bool) -> Result<Linker<RequestState>> {
    use wasmtime_wasi::cli::WasiCliView;
    use wasmtime_wasi::filesystem::WasiFilesystemView;
    use wasmtime_wasi::p2::bindings::{cli, filesystem, random};
    use wasmtime_wasi::random::WasiRandom;
    let mut linker = Linker::new(engine);
    wasmtime_wasi_http::p2::add_to_linker_async(&mut linker)?;
    // A wasi:http 0.3 component (`--features p3`) imports `wasi:http/types`
    // 0.3 beside the same 0.2 interfaces (`guest/worlds.rs`).
    if p3 {
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    }
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
pub(crate) struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    keyvalue: Arc<KeyValue>,
    table: ResourceTable,
    hooks: DenyOutgoing,
}

impl RequestState {
    /// A request's state: its WASI context (environment, preopens,
    /// output), the board's bucket, and no outgoing HTTP.
    pub(crate) fn new(wasi: WasiCtx, keyvalue: Arc<KeyValue>) -> RequestState {
        RequestState {
            wasi,
            http: WasiHttpCtx::new(),
            keyvalue,
            table: ResourceTable::new(),
            hooks: DenyOutgoing,
        }
    }
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
pub(crate) struct DenyOutgoing;

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
