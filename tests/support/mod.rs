//! The shared test fixture: a temporary site (the repository's `static/` plus
//! test files, with a secret file beside it), the runner serving it on port 0
//! (the board on files, or on a shared Redis), `wasmtime serve` serving the
//! same files with the same component when it is installed, and a small HTTP
//! client (`client`).

mod admin;
pub mod board;
pub mod client;
pub mod fault_proxy;
mod fixture;
pub mod proxy;
pub mod redis;
pub mod slow_peers;
pub mod tls;
pub mod wasmcloud;
mod wasmtime_serve;
pub mod workerd;

pub use admin::{ADMIN_PASSWORD, admin_hash, admin_login, basic_login, site_settings};
// Not every test file uses every launcher.
#[allow(unused_imports)]
pub use wasmtime_serve::{
    start_wasmtime_serve, start_wasmtime_serve_with, start_wasmtime_serve_without_data,
};

use fixture::fixture;
use sitebox_runner::{BoardStore, Config, SiteSettings};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tempfile::TempDir;

pub const SECRET: &str = "TOP-SECRET-6f1c2b: this must never be served";

/// The repository's root (this package is its `tests/`).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
}

/// A site in a temporary directory: `root/site` is served, `root/secret.txt`
/// sits beside it where no request may reach it.
pub struct TestSite {
    _dir: TempDir,
    pub static_dir: PathBuf,
    pub data_dir: PathBuf,
    pub secret_file: PathBuf,
}

impl TestSite {
    /// The default site plus the files the tests need.
    // Not `Default`: it creates directories on disk.
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestSite {
        let site = TestSite::empty();
        for entry in std::fs::read_dir(repo_root().join("static")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), site.static_dir.join(entry.file_name())).unwrap();
        }
        site.write("my page.html", "<p>spaces in the name</p>");
        site.write("sub/index.html", "<p>sub index</p>");
        site.write("sub/notes.txt", "notes");
        site.write("noindex/readme.txt", "a directory without index.html");
        site.write("blob.unknownext", [0u8, 1, 2, 3, 255]);
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, site.static_dir.join(name)).unwrap()
        };
        link(Path::new("../secret.txt"), "escape.txt");
        link(&site.secret_file, "escape-absolute.txt");
        link(Path::new(".."), "escape-dir");
        link(Path::new("index.css"), "inside-link.css");
        site.write(".hidden", "dotfile");
        site.write(".git/config", "[core]");
        site.write(
            ".well-known/security.txt",
            "Contact: mailto:security@example.com",
        );
        site.write("sub/.env", "SECRET=1");
        site
    }

    /// Only an `index.html`: no `NotFound.html`.
    pub fn bare() -> TestSite {
        let site = TestSite::empty();
        site.write("index.html", "<p>bare</p>");
        site
    }

    fn empty() -> TestSite {
        let dir = tempfile::tempdir().unwrap();
        let static_dir = dir.path().join("site");
        let data_dir = dir.path().join("data");
        let secret_file = dir.path().join("secret.txt");
        std::fs::create_dir(&static_dir).unwrap();
        std::fs::write(&secret_file, SECRET).unwrap();
        TestSite {
            _dir: dir,
            static_dir,
            data_dir,
            secret_file,
        }
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.static_dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.static_dir.join(relative)).unwrap()
    }

    /// The runner's configuration for this site, with the test admin.
    pub fn config(&self) -> Config {
        Config {
            site: site_settings(),
            ..Config::new(&self.static_dir, &self.data_dir)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Runner,
    WasmtimeServe,
    /// The runner with the board in a bucket of its own on the shared Redis.
    RunnerRedis,
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
    static WASMTIME: OnceLock<Option<Server>> = OnceLock::new();
    static RUNNER_REDIS: OnceLock<Option<Server>> = OnceLock::new();
    let site = SITE.get_or_init(TestSite::new);
    match backend {
        Backend::Runner => Some(RUNNER.get_or_init(|| Server {
            addr: start_runner(site.config()),
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
        Backend::WasmtimeServe => WASMTIME
            .get_or_init(|| {
                start_wasmtime_serve(site, embedded_component()).map(|addr| Server {
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
    let mut servers = vec![(Backend::Runner, start_runner(config))];
    if let Some(addr) = start_wasmtime_serve_with(site, embedded_component(), &options) {
        servers.push((Backend::WasmtimeServe, addr));
    }
    servers
}

/// A server of its own for `backend`, over a new `TestSite::new()` site (an
/// empty board), for tests that change state.
pub fn fresh_server(backend: Backend) -> Option<&'static Server> {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    let addr = match backend {
        Backend::Runner => start_runner(site.config()),
        Backend::WasmtimeServe => start_wasmtime_serve(site, embedded_component())?,
        Backend::RunnerRedis => start_runner(on_redis(site.config())?),
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

/// A test that needs a tool which is missing: a failure under `CI=true`
/// (where `.ci/run` installs it), else a notice of what was skipped and how
/// to install the tool.
pub fn skipped(what: &str, install: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, but {what} cannot run (.ci/run installs what they need: {install})"
    );
    // Straight to the terminal: the test harness captures eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: {what} were skipped. Install what they need with: {install}"
    );
}

/// Builds `tests/guests/<name>` for wasm32-wasip2 (once per test process) and
/// returns the component's path.
pub fn test_guest(name: &str) -> PathBuf {
    let manifest = repo_root()
        .join("tests/guests")
        .join(name)
        .join("Cargo.toml");
    let target_dir = repo_root().join("target/test-guests");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the test guest {name} failed");
    let crate_name = format!("{}_guest.wasm", name.replace('-', "_"));
    target_dir.join("wasm32-wasip2/release").join(crate_name)
}

/// Declares `check(server)` tests once per backend: `runner::check` and
/// `wasmtime_serve::check` (which passes with a notice when wasmtime is
/// absent). `shared_server` gives every test the same server and site,
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
    };
}

#[cfg(test)]
mod tests {
    /// With `autotests = false` a test file that `Cargo.toml` does not list
    /// would never run: every `tests/*.rs` must be there.
    #[test]
    fn every_test_file_is_a_test_target() {
        let dir = super::repo_root().join("tests");
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let listed: std::collections::BTreeSet<String> = manifest
            .lines()
            .filter_map(|line| line.strip_prefix("path = \""))
            .filter_map(|path| path.strip_suffix('"'))
            // The library, `support/mod.rs`, is not a test file.
            .filter(|path| !path.contains('/'))
            .map(str::to_owned)
            .collect();
        let files: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".rs"))
            .collect();
        assert_eq!(listed, files);
    }
}
