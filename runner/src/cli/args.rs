//! The flags: what each means and how its values are read (`config` makes
//! them a `Config`).

use super::values::{StoreLocation, duration, network, probe_path, store_location};
use crate::{Config, Limits, SiteSettings};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Serve a static site (and its message board) from a sandboxed WebAssembly
/// component, a fresh instance per request.
#[derive(Debug, clap::Parser)]
#[command(
    name = "sitebox",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Every flag may also be set by its variable (--max-age: SITEBOX_MAX_AGE) or by \
                  its key in the --config file (max-age = 600). A flag wins over its variable, \
                  and a variable over the file."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub addr: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8080)]
    pub port: u16,

    /// Listen here instead of --addr/--port: IP:PORT ([::]:8080 for IPv6)
    /// or a Unix socket's path; repeatable. Sockets from systemd (socket
    /// activation, LISTEN_FDS) take the place of all three.
    #[arg(long, value_name = "ADDR|PATH")]
    pub listen: Vec<crate::serving::listeners::ListenOn>,

    /// Directory to serve; the component sees it read-only at /static.
    #[arg(long = "static", value_name = "DIR", default_value = "./static")]
    pub static_dir: PathBuf,

    /// Directory for the site's data (the message board); the component sees
    /// it read-write at /data. Created if missing.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,

    /// Where the message board lives: `files` (in --data), or a Redis URL,
    /// redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// for TLS), which every
    /// runner pointed at it shares.
    #[arg(long, value_name = "files|URL", default_value = "files", value_parser = store_location)]
    pub store: StoreLocation,

    /// The key-value bucket of the board on Redis: the component's
    /// SITEBOX_BUCKET, and the prefix of its keys (BUCKET:KEY).
    #[arg(long, value_name = "NAME", default_value = sitebox::settings::DEFAULT_BUCKET)]
    pub bucket: String,

    /// How long one Redis call may take; then that board request answers 503.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub store_timeout: Duration,

    /// A wasi:http component to run instead of the built-in sitebox component.
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,

    /// Reload the --component file when it changes; requests in flight
    /// finish on the old one.
    #[arg(long)]
    pub watch: bool,

    /// Keep compiled components here, so a restart skips compiling [default:
    /// wasmtime's cache directory, ~/.cache/wasmtime].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Compile the component at every start.
    #[arg(long)]
    pub no_cache: bool,

    /// Serve HTTPS (HTTP/2 or HTTP/1.1, by ALPN) with this PEM certificate
    /// chain; needs --tls-key.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert. Both files are read again on
    /// SIGHUP (a renewed certificate, without a restart).
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// With TLS: also listen for plain HTTP here (e.g. 0.0.0.0:80) and
    /// answer 308 to the same URL on https, but for ACME challenges
    /// (/.well-known/acme-challenge/), which the site serves.
    #[arg(long, value_name = "ADDR")]
    pub redirect_http: Option<SocketAddr>,

    /// With TLS: Strict-Transport-Security max-age on HTTPS responses, in
    /// seconds; 0 sends none.
    #[arg(long, value_name = "SECONDS", default_value_t = Config::DEFAULT_HSTS_MAX_AGE)]
    pub hsts_max_age: u64,

    /// Compress text responses (HTML, CSS, JS, JSON, SVG…) the component
    /// sends uncompressed with these codings, in this order of preference
    /// when the client's Accept-Encoding ranks them alike; `none` turns it
    /// off. Precompressed files (.br, .gz, .zst beside the file) still win.
    #[arg(long, value_name = "CODINGS", default_value = "zstd,br,gzip")]
    pub compress: crate::Compression,

    /// Bodies smaller than this many bytes are sent uncompressed.
    #[arg(long, value_name = "BYTES", default_value_t = crate::Compression::default().min_size)]
    pub compress_min_size: u64,

    /// Most requests running at once, each in its own instance; more wait in
    /// the queue.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_concurrent,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent: u32,

    /// Most requests waiting for an instance; beyond that the answer is 503
    /// with Retry-After.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_queue)]
    pub max_queue: u32,

    /// How long the component may go without progress: to its answer's
    /// headers (then 504), and between pieces of the body (then the
    /// connection is cut). E.g. 30s, 500ms, 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub request_timeout: Duration,

    /// How long a client may take to send a request's headers, counted from
    /// the connection's start or the previous response: also how long an
    /// HTTP/1 keep-alive connection may sit idle.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub header_timeout: Duration,

    /// How long a connection may stay open with no request in flight; then
    /// it is closed (HTTP/2: with a GOAWAY).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub idle_timeout: Duration,

    /// The largest request body passed to the component, in bytes; larger is
    /// a 413.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body)]
    pub max_body: u64,

    /// Most instances one client (its address; an IPv6 client's /64) may
    /// hold at once; a quarter of --max-queue more may wait, beyond that
    /// 429. Behind a proxy, name it in --trusted-proxies. 0: no limit.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_per_client)]
    pub max_per_client: u32,

    /// The least a client must move, in bytes per second, while the server
    /// waits on it (sending a request body, taking a response's); a
    /// connection under it for about 20 s is closed. 0 turns it off.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().min_body_rate)]
    pub min_body_rate: u32,

    /// On SIGINT or SIGTERM, how long requests in flight may take to finish.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub shutdown_grace: Duration,

    /// Most requests with credentials (an Authorization header) running at
    /// once: each may check a password (argon2: about 20 MiB and a core for
    /// 70 ms). More wait up to 2 s, then 503 with Retry-After. [default: half
    /// the cores, at most 8]
    #[arg(long, value_name = "N", default_value_t = Limits::default_max_logins(),
          hide_default_value = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_logins: u32,

    /// After 10 failed logins (401) in a row, a client's requests with
    /// credentials are refused (429 with Retry-After) for 1 s, doubling with
    /// each further failure up to this; 0s turns it off.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = duration)]
    pub login_backoff: Duration,

    /// The access log's format, on stdout.
    #[arg(long, value_enum, default_value = "common")]
    pub log_format: AccessLogFormat,

    /// No access log.
    #[arg(long, short)]
    pub quiet: bool,

    /// Most memory one instance may use, in MiB; a guest that needs more fails
    /// that request with a 500.
    #[arg(long, value_name = "MIB", default_value_t = (Config::DEFAULT_MAX_INSTANCE_MEMORY >> 20) as u32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_memory: u32,

    /// Let one instance serve up to N requests instead of one. Faster, but a
    /// request may see what an earlier one left in the instance's memory;
    /// 1 (the default) gives every request a fresh instance.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse_instances: u32,

    /// Let one instance of a wasi:http 0.3 component serve up to N requests
    /// at once (needs --reuse-instances of at least N): faster still, but
    /// requests in flight share the instance's memory, and one that traps
    /// fails the others in it. 1 (the default): one at a time.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub instance_concurrency: u32,

    /// Cache-Control max-age for files other than HTML, in seconds (HTML is
    /// always revalidated: no-cache).
    #[arg(long, value_name = "SECONDS", default_value_t = SiteSettings::default().max_age)]
    pub max_age: u64,

    /// List the contents of directories that have no index.html (otherwise
    /// they are a 404).
    #[arg(long)]
    pub listing: bool,

    /// Serve files and directories whose names start with a dot (otherwise
    /// they are a 404; /.well-known/ is always served).
    #[arg(long)]
    pub dotfiles: bool,

    /// Serve /about from about.html, and redirect /about.html to /about
    /// (and /docs/index.html to /docs/).
    #[arg(long)]
    pub clean_urls: bool,

    /// The argon2 hash (a PHC string, from `sitebox hash-password`) of the
    /// admin's password: the admin (user `admin`) may clear the board.
    /// Without it, clearing is turned off.
    #[arg(long, value_name = "PHC")]
    pub admin_password_hash: Option<String>,

    /// The runner answers 200 here while it serves (liveness), before the
    /// site; "" turns it off.
    #[arg(long, value_name = "PATH", default_value = crate::Health::LIVE_PATH, value_parser = probe_path)]
    pub live_path: String,

    /// The runner answers here 200 when the component answers and the
    /// board's store is reachable, else 503 (readiness); "" turns it off.
    #[arg(long, value_name = "PATH", default_value = crate::Health::READY_PATH, value_parser = probe_path)]
    pub ready_path: String,

    /// Log (and count in the metrics) the requests to --live-path and
    /// --ready-path like any other.
    #[arg(long)]
    pub log_health: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics, a listener of
    /// their own (never the site's), e.g. 127.0.0.1:9090.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Peers (addresses or CIDR networks, e.g. 10.0.0.0/8) whose
    /// --proxy-header names the client, and the scheme and host it used;
    /// repeatable, or comma separated. Others' forwarding headers are dropped.
    #[arg(long, value_name = "CIDR", value_delimiter = ',', value_parser = network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The header the trusted proxies write: x-forwarded-for (with
    /// X-Forwarded-Proto and X-Forwarded-Host) or forwarded (RFC 7239). The
    /// other is never believed: proxies pass a client's own copy through.
    #[arg(
        long,
        value_enum,
        value_name = "HEADER",
        default_value = "x-forwarded-for"
    )]
    pub proxy_header: crate::ProxyHeader,

    /// The most requests that change something (every method but GET, HEAD,
    /// OPTIONS, TRACE) one client may make, e.g. 10/min, 1/s, 100/hour;
    /// beyond, 429 with Retry-After.
    #[arg(long, value_name = "COUNT/PERIOD")]
    pub write_rate: Option<crate::WriteRate>,

    /// How many of those may come at once [default: the rate's COUNT].
    #[arg(long, value_name = "N")]
    pub write_burst: Option<std::num::NonZeroU32>,

    /// Read settings from this TOML file: one key per flag, named as the
    /// flag (`max-age = 600`, `listing = true`). A flag or its SITEBOX_*
    /// variable overrides the file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective settings (as a config file, with where each
    /// comes from; secrets redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Read a password (asked for twice on a terminal, else one line of
    /// stdin) and print its argon2id hash, for --admin-password-hash.
    HashPassword,
    /// Check a site's _redirects and _headers as the server does at start,
    /// print each problem with its line, and exit 1 if there is any (for
    /// sites served by `wasmtime serve` or on the edge).
    CheckRules {
        /// The site directory.
        #[arg(value_name = "DIR", default_value = "./static")]
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccessLogFormat {
    /// The Common Log Format, as Apache and nginx write it.
    Common,
    /// One JSON object per request, with its duration.
    Json,
}
