//! sitebox's host: runs the sitebox component (or another `wasi:http` proxy
//! component) behind a hyper server, with a fresh wasmtime instance per request.
//!
//! `serve(listener, config)` is the whole server; the `sitebox` binary only
//! parses flags (`cli`) and binds the port, so tests can serve on port 0.

pub mod cli;
mod filters;
mod guest;
mod ops;
mod serving;

pub use serving::listeners;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use filters::compression::{Coding, Compression};
pub use guest::keyvalue::redact as redact_url;
pub use serving::client_address::{ProxyHeader, TrustedProxies};
pub use serving::health::READY_CHECK_EVERY;
pub use serving::reload::Reload;
pub use serving::server::{Server, serve};
/// The certificate being served, which `reload` reads again.
pub use serving::tls::Certificate as TlsCertificate;
pub use serving::write_limit::WriteRate;
/// The admin's user name in a Basic login.
pub use sitebox::board::admin::USER as ADMIN_USER;
/// The component's settings: the one definition the component reads them by.
pub use sitebox::settings::Settings as SiteSettings;

/// The sitebox component built from this workspace by `build.rs`.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("SITEBOX_COMPONENT_WASM"));

/// Where `EMBEDDED_COMPONENT` was built, for tools that need it as a file
/// (e.g. `wasmtime serve` in the tests).
pub const EMBEDDED_COMPONENT_PATH: &str = env!("SITEBOX_COMPONENT_WASM");

/// The same component for Spin (its `wasi:keyvalue@0.2.0-draft2`), which
/// `build.rs` composes beside it (`deploy/spin/`).
pub const SPIN_COMPONENT_PATH: &str = env!("SITEBOX_SPIN_WASM");

/// The same core built for wasi:http 0.3 (`wasi:http/handler`), beside the
/// embedded 0.2 component: for hosts that speak 0.3 (`wasmtime serve` 46+).
pub const P3_COMPONENT_PATH: &str = env!("SITEBOX_COMPONENT_P3_WASM");

#[derive(Debug, Clone)]
pub struct Config {
    /// Served read-only as `/static`.
    pub static_dir: PathBuf,
    /// Mounted read-write as `/data` (created if missing) when the board is
    /// on files.
    pub data_dir: PathBuf,
    /// Where the board lives.
    pub store: BoardStore,
    pub component: ComponentSource,
    /// Reload the component when its file changes (`ComponentSource::File` only).
    pub watch: bool,
    /// Where compiled components are kept between runs.
    pub cache: CompileCache,
    /// The most linear memory one instance may use, in bytes.
    pub max_instance_memory: usize,
    /// How many requests one instance may serve before it is dropped. 1 (the
    /// default) gives every request a fresh instance; more trades that
    /// isolation (a request can see what an earlier one left in the
    /// instance's memory) for speed.
    pub reuse_instances: u32,
    /// How many requests one instance of a wasi:http 0.3 component serves
    /// at once (as `wasmtime serve` does); 1, the default, one at a time.
    /// Above 1 it needs `reuse_instances` at least as large, and
    /// `limits.max_concurrent` counts instances, each with this many places.
    pub instance_concurrency: u32,
    pub limits: Limits,
    /// Serve HTTPS (and HTTP/2 by ALPN) with this certificate.
    pub tls: Option<TlsFiles>,
    /// The access log's format; `None` writes none.
    pub access_log: Option<LogFormat>,
    /// What the component does with the site (and the name of the board's
    /// bucket), handed over as environment variables.
    pub site: SiteSettings,
    /// The runner's own liveness and readiness answers.
    pub health: Health,
    /// Where to serve the Prometheus metrics; `None` keeps none.
    pub metrics_addr: Option<SocketAddr>,
    /// Peers whose forwarding header names the client, its scheme and host.
    pub trusted_proxies: TrustedProxies,
    /// The most unsafe requests (POST, PUT, DELETE…) one client may make;
    /// beyond, 429.
    pub write_rate: Option<WriteRate>,
    /// With `tls`: a plain-HTTP listener that answers 308 to the HTTPS URL.
    pub redirect_http: Option<SocketAddr>,
    /// With `tls`: `Strict-Transport-Security: max-age=…` on HTTPS
    /// responses; 0 sends none.
    pub hsts_max_age: u64,
    /// Text responses compressed on the way out.
    pub compression: Compression,
}

/// The paths the runner answers itself, before the component (`None`: off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// 200 while the process serves.
    pub live_path: Option<String>,
    /// 200 when an instance answers and the board's store is reachable,
    /// else 503.
    pub ready_path: Option<String>,
    /// Write their requests to the access log (and count them in the
    /// metrics) like any other.
    pub log: bool,
}

impl Health {
    pub const LIVE_PATH: &str = "/healthz";
    pub const READY_PATH: &str = "/readyz";
}

impl Default for Health {
    fn default() -> Self {
        Health {
            live_path: Some(Self::LIVE_PATH.to_owned()),
            ready_path: Some(Self::READY_PATH.to_owned()),
            log: false,
        }
    }
}

/// What one client or one guest may take from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Instances running at once; more requests wait in the queue.
    pub max_concurrent: u32,
    /// Requests that may wait for an instance; beyond that, 503.
    pub max_queue: u32,
    /// How long a guest may go without progress: to its response's headers
    /// (then 504), and between body chunks (then the connection is cut).
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers, counted from
    /// the connection's start or the end of the previous response (so it is
    /// also how long an HTTP/1 connection may wait for its next request).
    pub header_timeout: Duration,
    /// How long a connection may stay open with no request in flight
    /// (HTTP/2 gets a GOAWAY; HTTP/1 is closed sooner by `header_timeout`).
    pub idle_timeout: Duration,
    /// The largest request body the host passes on (413 beyond).
    pub max_body: u64,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// Requests with credentials (`Authorization`) running at once: each may
    /// check a password, which takes memory and a core.
    pub max_logins: u32,
    /// The longest a client's logins are refused after it failed several in
    /// a row; zero turns the back-off off.
    pub login_backoff: Duration,
    /// Instances one client (an IPv6 client: its /64) may hold at once; 0:
    /// no limit. See `client_slots`.
    pub max_per_client: u32,
    /// The floor, in bytes per second, under the rate at which a
    /// connection's client sends request bodies and takes response bodies;
    /// 0: none. See `pace`.
    pub min_body_rate: u32,
}

impl Limits {
    /// Password checks at once by default: one per two cores (at least one,
    /// at most 8), so a flood of them leaves cores to the site's pages (more
    /// would take memory, not time).
    pub fn default_max_logins() -> u32 {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        cores.div_ceil(2).min(8) as u32
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent: 256,
            max_queue: 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_body: 1 << 20,
            shutdown_grace: Duration::from_secs(10),
            max_logins: Self::default_max_logins(),
            login_backoff: Duration::from_secs(60),
            max_per_client: 32,
            min_body_rate: 1024,
        }
    }
}

/// Where the message board lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardStore {
    /// Files in the data directory, which the component sees as `/data`.
    Files,
    /// A `wasi:keyvalue` bucket on Redis (`redis://` or `rediss://` URL),
    /// shared by every runner pointed at it; no `/data` is mounted. The
    /// bucket is the one the site's settings name (`SiteSettings::bucket`),
    /// and its name prefixes its Redis keys.
    Redis {
        url: String,
        /// How long one Redis call may take before it fails (the board
        /// request then answers 503).
        timeout: Duration,
    },
}

impl BoardStore {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// The store for the start-up log: no password.
    pub fn describe(&self, data_dir: &std::path::Path, bucket: &str) -> String {
        match self {
            BoardStore::Files => {
                let absolute = std::path::absolute(data_dir);
                format!(
                    "files in {}",
                    absolute.as_deref().unwrap_or(data_dir).display()
                )
            }
            BoardStore::Redis { url, .. } => {
                format!("bucket {bucket:?} on {}", guest::keyvalue::redact(url))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileCache {
    /// wasmtime's default cache directory (`~/.cache/wasmtime` on Linux).
    Default,
    Directory(PathBuf),
    Off,
}

/// PEM files: the certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The Common Log Format of NCSA httpd, Apache and nginx.
    Common,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    Embedded,
    File(PathBuf),
}

impl Config {
    pub const DEFAULT_MAX_INSTANCE_MEMORY: usize = 64 << 20;
    /// A year: what the HSTS preload list asks for.
    pub const DEFAULT_HSTS_MAX_AGE: u64 = 31_536_000;

    /// The defaults for serving `static_dir` with the embedded component.
    pub fn new(static_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            static_dir: static_dir.into(),
            data_dir: data_dir.into(),
            store: BoardStore::Files,
            component: ComponentSource::Embedded,
            watch: false,
            cache: CompileCache::Default,
            max_instance_memory: Self::DEFAULT_MAX_INSTANCE_MEMORY,
            reuse_instances: 1,
            instance_concurrency: 1,
            limits: Limits::default(),
            tls: None,
            access_log: Some(LogFormat::Common),
            site: SiteSettings::default(),
            health: Health::default(),
            metrics_addr: None,
            trusted_proxies: TrustedProxies::default(),
            write_rate: None,
            redirect_http: None,
            hsts_max_age: Self::DEFAULT_HSTS_MAX_AGE,
            compression: Compression::default(),
        }
    }
}
