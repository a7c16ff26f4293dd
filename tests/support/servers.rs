//! The servers under test: the runner started in-process on a free
//! loopback port (the board on files, or in a bucket of its own on the
//! process's shared Redis; with sitebox.wasm or with the Spin component),
//! `wasmtime serve` beside it, the shared and fresh ones per backend, and
//! `on_each_backend!` declaring a test for each.

use super::fixture::fixture;
use super::wasmtime_serve::{start_wasmtime_serve, start_wasmtime_serve_with};
use super::{TestSite, redis, skipped};
use sitebox_runner::{BoardStore, ComponentSource, Config, SiteSettings};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Runner,
    /// The runner with the wasi:http 0.3 component (`p3_component`) in
    /// shared instances (`with_p3`).
    RunnerP3,
    WasmtimeServe,
    /// `wasmtime serve` with the wasi:http 0.3 component (`p3_component`).
    WasmtimeServeP3,
    /// The runner with the board in a bucket of its own on the shared Redis.
    RunnerRedis,
    /// The same, running the Spin component (sitebox.wasm plugged with the
    /// adapter to `wasi:keyvalue@0.2.0-draft2`) instead of sitebox.wasm: the
    /// runner's draft2 host is Spin's interface.
    SpinRedis,
}

impl Backend {
    /// `wasmtime serve`, either world: no host-side compression, limits or
    /// admission of the runner's.
    pub fn is_wasmtime_serve(self) -> bool {
        matches!(self, Backend::WasmtimeServe | Backend::WasmtimeServeP3)
    }
}

/// A server under test and the site it serves.
pub struct Server {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub site: &'static TestSite,
}

/// The shared server for `backend` over the shared `TestSite::new()` site;
/// `None` when `wasmtime` or `redis-server` is not installed (outside CI).
pub fn shared_server(backend: Backend) -> Option<&'static Server> {
    static SITE: OnceLock<TestSite> = OnceLock::new();
    static RUNNER: OnceLock<Server> = OnceLock::new();
    static RUNNER_P3: OnceLock<Server> = OnceLock::new();
    static WASMTIME: OnceLock<Option<Server>> = OnceLock::new();
    static WASMTIME_P3: OnceLock<Option<Server>> = OnceLock::new();
    static RUNNER_REDIS: OnceLock<Option<Server>> = OnceLock::new();
    static SPIN_REDIS: OnceLock<Option<Server>> = OnceLock::new();
    let site = SITE.get_or_init(TestSite::new);
    match backend {
        Backend::Runner => Some(RUNNER.get_or_init(|| Server {
            addr: start_runner(site.config()),
            backend,
            site,
        })),
        Backend::RunnerP3 => Some(RUNNER_P3.get_or_init(|| Server {
            addr: start_runner(with_p3(site.config())),
            backend,
            site,
        })),
        Backend::RunnerRedis => RUNNER_REDIS
            .get_or_init(|| {
                Some(Server {
                    addr: start_runner(on_redis(site.config())?),
                    backend,
                    site,
                })
            })
            .as_ref(),
        Backend::SpinRedis => SPIN_REDIS
            .get_or_init(|| {
                Some(Server {
                    addr: start_runner(on_spin(site.config())?),
                    backend,
                    site,
                })
            })
            .as_ref(),
        Backend::WasmtimeServe => WASMTIME
            .get_or_init(|| {
                start_wasmtime_serve(site, embedded_component()).map(|addr| Server {
                    addr,
                    backend,
                    site,
                })
            })
            .as_ref(),
        Backend::WasmtimeServeP3 => WASMTIME_P3
            .get_or_init(|| {
                start_wasmtime_serve(site, p3_component()).map(|addr| Server {
                    addr,
                    backend,
                    site,
                })
            })
            .as_ref(),
    }
}

/// Both backends (the second only when wasmtime is installed) over `site`,
/// with the component's settings `options`.
pub fn start_servers(site: &TestSite, options: SiteSettings) -> Vec<(Backend, SocketAddr)> {
    let config = Config {
        site: options.clone(),
        ..site.config()
    };
    let mut servers = vec![
        (Backend::Runner, start_runner(config.clone())),
        (Backend::RunnerP3, start_runner(with_p3(config))),
    ];
    if let Some(addr) = start_wasmtime_serve_with(site, embedded_component(), &options) {
        servers.push((Backend::WasmtimeServe, addr));
    }
    if let Some(addr) = start_wasmtime_serve_with(site, p3_component(), &options) {
        servers.push((Backend::WasmtimeServeP3, addr));
    }
    servers
}

/// A server of its own for `backend`, over a new `TestSite::new()` site (an
/// empty board), for tests that change state.
pub fn fresh_server(backend: Backend) -> Option<&'static Server> {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    let addr = match backend {
        Backend::Runner => start_runner(site.config()),
        Backend::RunnerP3 => start_runner(with_p3(site.config())),
        Backend::WasmtimeServe => start_wasmtime_serve(site, embedded_component())?,
        Backend::WasmtimeServeP3 => start_wasmtime_serve(site, p3_component())?,
        Backend::RunnerRedis => start_runner(on_redis(site.config())?),
        Backend::SpinRedis => start_runner(on_spin(site.config())?),
    };
    Some(Box::leak(Box::new(Server {
        addr,
        backend,
        site,
    })))
}

/// `config` with the board on the test process's Redis, in a bucket of its
/// own; `None` (with a notice) when `redis-server` is not installed.
pub fn on_redis(mut config: Config) -> Option<Config> {
    config.store = BoardStore::Redis {
        url: format!("redis://127.0.0.1:{}/0", shared_redis()?),
        timeout: BoardStore::DEFAULT_TIMEOUT,
    };
    config.site.bucket = new_bucket();
    Some(config)
}

/// `on_redis`, running the Spin component.
pub fn on_spin(config: Config) -> Option<Config> {
    Some(Config {
        component: ComponentSource::File(spin_component().to_owned()),
        ..on_redis(config)?
    })
}

/// A bucket name no other server of this process uses.
pub fn new_bucket() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("test-{}-{n}", std::process::id())
}

/// The port of one Redis for the whole test process, started through the
/// fixture so it lives as long as the process; `None` (with a notice) when
/// `redis-server` is not installed.
pub fn shared_redis() -> Option<u16> {
    static REDIS: OnceLock<Option<(TempDir, u16)>> = OnceLock::new();
    let started = REDIS.get_or_init(|| {
        if !redis::installed() {
            skipped("the tests of the board on Redis", redis::INSTALL);
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = redis::free_port();
            let mut stderr = fixture().spawn(redis::command(dir.path(), port));
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            if redis::wait_until_ready(port) {
                return Some((dir, port));
            }
        }
        panic!("redis-server did not start");
    });
    started.as_ref().map(|(_, port)| *port)
}

/// One runner per test process for `cell`: on the site `site` makes, with
/// `config` adjusting that site's defaults. The site lives as long as the runner.
pub fn runner_once(
    cell: &'static OnceLock<(TestSite, SocketAddr)>,
    site: fn() -> TestSite,
    config: impl FnOnce(Config) -> Config,
) -> SocketAddr {
    cell.get_or_init(|| {
        let site = site();
        let addr = start_runner(config(site.config()));
        (site, addr)
    })
    .1
}

pub fn embedded_component() -> &'static Path {
    Path::new(sitebox_runner::EMBEDDED_COMPONENT_PATH)
}

/// sitebox.wasm plugged with the Spin adapter (`deploy/spin/`).
pub fn spin_component() -> &'static Path {
    Path::new(sitebox_runner::SPIN_COMPONENT_PATH)
}

/// The wasi:http 0.3 component the runner's build makes beside it.
pub fn p3_component() -> &'static Path {
    Path::new(sitebox_runner::P3_COMPONENT_PATH)
}

/// `config` serving the wasi:http 0.3 component in shared instances, as
/// `wasmtime serve` runs it: 16 requests at once in an instance, 128 in all
/// (`--instance-concurrency 16 --reuse-instances 128`). The runner's
/// fresh-instance 0.3 path is `with_p3_alone`'s.
pub fn with_p3(config: Config) -> Config {
    Config {
        instance_concurrency: 16,
        reuse_instances: 128,
        ..with_p3_alone(config)
    }
}

/// `config` serving the wasi:http 0.3 component, a fresh instance for every
/// request (the runner's default).
pub fn with_p3_alone(config: Config) -> Config {
    Config {
        component: ComponentSource::File(p3_component().to_owned()),
        ..config
    }
}

/// Starts a runner with `config` on a free loopback port; it serves until the
/// test process exits.
pub fn start_runner(config: Config) -> SocketAddr {
    start_runner_with(config).addr
}

/// Where a runner started by `start_runner_with` listens.
pub struct Started {
    pub addr: SocketAddr,
    /// With `config.metrics_addr`.
    pub metrics: Option<SocketAddr>,
    /// With `config.redirect_http`.
    pub redirect: Option<SocketAddr>,
}

/// `start_runner`, with its other listeners.
pub fn start_runner_with(config: Config) -> Started {
    // The runner's background tasks (the Redis connection's) go on the
    // fixture's runtime, which outlives every test.
    let _runtime = fixture().runtime.enter();
    let server = sitebox_runner::Server::new(&config).expect("the runner starts");
    let (metrics, redirect) = (server.metrics_addr(), server.redirect_addr());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    fixture().runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        server.serve(listener).await.unwrap();
    });
    Started {
        addr,
        metrics,
        redirect,
    }
}

/// Declares `check(server)` tests once per backend: `runner::check`,
/// `wasmtime_serve::check` (which passes with a notice when wasmtime is
/// absent) and `spin_redis::check` (the Spin component, with a notice when
/// redis-server is absent). `shared_server` gives every test the same server and site,
/// `fresh_server` a new one each (for tests that change the board).
#[macro_export]
macro_rules! on_each_backend {
    // Board tests also run against the runner with the board on Redis.
    (fresh_server => $($check:ident),* $(,)?) => {
        $crate::on_each_backend!(@files fresh_server => $($check),*);
        mod runner_redis {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(server) = $crate::fresh_server($crate::Backend::RunnerRedis) {
                        super::$check(server).await;
                    }
                }
            )*
        }
    };
    ($servers:ident => $($check:ident),* $(,)?) => {
        $crate::on_each_backend!(@files $servers => $($check),*);
    };
    (@files $servers:ident => $($check:ident),* $(,)?) => {
        mod runner {
            $(
                #[tokio::test]
                async fn $check() {
                    let server = $crate::$servers($crate::Backend::Runner).unwrap();
                    super::$check(server).await;
                }
            )*
        }
        mod runner_p3 {
            $(
                #[tokio::test]
                async fn $check() {
                    let server = $crate::$servers($crate::Backend::RunnerP3).unwrap();
                    super::$check(server).await;
                }
            )*
        }
        mod wasmtime_serve {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(server) = $crate::$servers($crate::Backend::WasmtimeServe) {
                        super::$check(server).await;
                    }
                }
            )*
        }
        mod spin_redis {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(server) = $crate::$servers($crate::Backend::SpinRedis) {
                        super::$check(server).await;
                    }
                }
            )*
        }
        mod wasmtime_serve_p3 {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some(server) = $crate::$servers($crate::Backend::WasmtimeServeP3) {
                        super::$check(server).await;
                    }
                }
            )*
        }
    };
}
