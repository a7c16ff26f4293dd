//! The server: the compiled host and its listeners — the site's (TCP or
//! Unix, plain or TLS), the way to HTTPS (`--redirect-http`), the metrics —
//! from start-up (its log lines) to a graceful stop. Each connection's life
//! is `connection`'s.

use crate::Config;
use crate::guest::host::Host;
use crate::ops::metrics::Metrics;
use crate::serving::connection::{Accepting, Role, Shared, accept, finish_connections};
use crate::serving::listeners::Listener;
use crate::serving::logins::Logins;
use crate::serving::protocols::HttpBuilders;
use crate::serving::reload::Reload;
use crate::serving::tls;
use crate::serving::write_limit::WriteLimit;
use anyhow::{Context, Result};
use http::header::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How often the guests' epoch ticks: how long a busy guest runs before it
/// yields to other requests (so it adds at most about this much to their
/// latency), and the granularity of stopping one.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// A compiled, ready-to-serve sitebox: `new` does the slow part (compiling
/// the component) so `serve` answers from its first request.
pub struct Server {
    host: Arc<Host>,
    config: Config,
    tls: Option<TlsAcceptor>,
    certificate: Option<Arc<tls::Certificate>>,
    /// With `redirect_http`: its listener, bound at once.
    redirect: Option<std::net::TcpListener>,
    /// With `metrics_addr`: the metrics and their listener, bound at once
    /// so a taken address fails the start.
    metrics: Option<(Arc<Metrics>, std::net::TcpListener)>,
}

impl Server {
    pub fn new(config: &Config) -> Result<Server> {
        let (tls, certificate) = match &config.tls {
            Some(files) => {
                let (acceptor, certificate) = tls::acceptor(files)?;
                (Some(acceptor), Some(certificate))
            }
            None => (None, None),
        };
        if config.redirect_http.is_some() && tls.is_none() {
            anyhow::bail!("--redirect-http needs --tls-cert and --tls-key");
        }
        let metrics_listener = config
            .metrics_addr
            .map(|addr| bind(addr, "the metrics"))
            .transpose()?;
        let redirect = (config.redirect_http)
            .map(|addr| bind(addr, "the redirect to HTTPS"))
            .transpose()?;
        let metrics = metrics_listener.map(|listener| (Arc::new(Metrics::new()), listener));
        let host = Host::new(config, metrics.as_ref().map(|(m, _)| m.clone()))?;
        Ok(Server {
            host: Arc::new(host),
            config: config.clone(),
            tls,
            certificate,
            redirect,
            metrics,
        })
    }

    /// What a SIGHUP reloads.
    pub fn reload(&self) -> Reload {
        Reload {
            host: self.host.clone(),
            certificate: self.certificate.clone(),
            component: match &self.config.component {
                crate::ComponentSource::File(path) => Some(path.clone()),
                crate::ComponentSource::Embedded => None,
            },
        }
    }

    /// Where `redirect_http` listens (port 0 picked).
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref()?.local_addr().ok()
    }

    /// Where the metrics are served, with `metrics_addr` (port 0 picked).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        let (_, listener) = self.metrics.as_ref()?;
        listener.local_addr().ok()
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) -> Result<()> {
        self.serve_until(listener, std::future::pending()).await
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting,
    /// lets in-flight requests finish (for at most the shutdown grace) and
    /// returns.
    pub async fn serve_until(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let listener = Listener::Tcp(listener.into_std()?);
        self.serve_on(vec![listener], shutdown).await
    }

    /// `serve_until` on every one of `listeners` (TCP or Unix).
    pub async fn serve_on(
        mut self,
        listeners: Vec<Listener>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        self.log_start(&listeners);
        let _ticker = EpochTicker::start(&self.host)?;
        if self.config.watch {
            crate::guest::watch::spawn(&self.host, &self.config)?;
        }
        let https_port = listeners
            .iter()
            .find_map(Listener::tcp_addr)
            .map_or(443, |a| a.port());
        let hsts = (self.tls.is_some() && self.config.hsts_max_age > 0).then(|| {
            HeaderValue::try_from(format!("max-age={}", self.config.hsts_max_age))
                .expect("digits are a header value")
        });
        let metrics = match self.metrics.take() {
            Some((metrics, listener)) => Some(serve_metrics(&self.host, metrics, listener)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            host: self.host.clone(),
            config: self.config.clone(),
            https_port,
            http: HttpBuilders::new(&self.config),
            readiness: crate::serving::health::Readiness::new(metrics.clone()),
            metrics,
            write_limit: self.config.write_rate.map(|rate| {
                let limit = Arc::new(WriteLimit::new(rate));
                tokio::spawn(forget_idle(Arc::downgrade(&limit), WriteLimit::forget_idle));
                limit
            }),
            logins: {
                let limits = &self.config.limits;
                let logins = Arc::new(Logins::new(limits.max_logins, limits.login_backoff));
                tokio::spawn(forget_idle(Arc::downgrade(&logins), Logins::forget_idle));
                logins
            },
            hsts,
            tls: self.tls.clone(),
            gate: crate::serving::gate::Gate::new(&self.config.limits),
        });
        // Every connection holds a receiver: `true` asks it to finish its
        // requests and close; the channel closes when the last one is gone.
        let stop = Arc::new(watch::channel(false).0);
        let mut accepting = tokio::task::JoinSet::new();
        let mut _socket_files = Vec::new();
        for listener in listeners {
            let listener = match listener {
                Listener::Tcp(listener) => Accepting::Tcp(TcpListener::from_std(listener)?),
                Listener::Unix { listener, file } => {
                    _socket_files.push(file);
                    Accepting::Unix(tokio::net::UnixListener::from_std(listener)?)
                }
            };
            accepting.spawn(accept(listener, Role::Site, shared.clone(), stop.clone()));
        }
        if let Some(listener) = self.redirect {
            let listener =
                TcpListener::from_std(listener).context("cannot serve the redirect to HTTPS")?;
            tracing::info!("redirecting http://{}/ to https", listener.local_addr()?);
            let listener = Accepting::Tcp(listener);
            accepting.spawn(accept(
                listener,
                Role::Redirect,
                shared.clone(),
                stop.clone(),
            ));
        }
        shutdown.await;
        accepting.shutdown().await;
        finish_connections(&stop, self.config.limits.shutdown_grace).await;
        Ok(())
    }

    /// The start-up lines: where it serves, where the board is, whether it
    /// has an admin; and, in the background, whether Redis answers.
    fn log_start(&self, listeners: &[Listener]) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let site = self.config.static_dir.display();
        for listener in listeners {
            match listener.tcp_addr() {
                Some(addr) => tracing::info!("sitebox serving {site} on {scheme}://{addr}/"),
                None => tracing::info!(
                    "sitebox serving {site} on {} ({scheme})",
                    listener.describe()
                ),
            }
        }
        tracing::info!(
            "board: {}",
            self.config
                .store
                .describe(&self.config.data_dir, &self.config.site.bucket)
        );
        tracing::info!(
            "board admin: {}",
            match self.config.site.admin_password_hash {
                Some(_) => "set up (user admin); clearing needs the password",
                None => "none; clearing is turned off (see --admin-password-hash)",
            }
        );
        self.host.rules_files().check();
        for path in [
            &self.config.health.live_path,
            &self.config.health.ready_path,
        ]
        .into_iter()
        .flatten()
        {
            let file = self.config.static_dir.join(path.trim_start_matches('/'));
            if file.exists() {
                tracing::warn!(
                    "{path} is answered by the runner (see --live-path, --ready-path), not by {}",
                    file.display()
                );
            }
        }
        if let crate::BoardStore::Redis { .. } = self.config.store {
            // Said once at start; a Redis that is down does not stop the
            // runner (the board answers 503 until it is up).
            let keyvalue = self.host.keyvalue().clone();
            tokio::spawn(async move {
                match keyvalue.ping().await {
                    Ok(()) => tracing::info!("board: Redis answers"),
                    Err(error) => tracing::warn!(
                        "board: Redis does not answer yet ({error}); board requests get 503 until it does"
                    ),
                }
            });
        }
    }
}

/// The metrics page on its listener, with the host's load read at each
/// scrape.
fn serve_metrics(
    host: &Arc<Host>,
    metrics: Arc<Metrics>,
    listener: std::net::TcpListener,
) -> Result<Arc<Metrics>> {
    let listener = TcpListener::from_std(listener).context("cannot serve the metrics")?;
    tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
    let host = host.clone();
    let refresh = move |metrics: &Metrics| {
        let (busy, queued) = host.load();
        metrics.instances_busy.set(busy.into());
        metrics.requests_queued.set(queued.into());
    };
    tokio::spawn(crate::ops::metrics::serve(
        listener,
        metrics.clone(),
        refresh,
    ));
    Ok(metrics)
}

/// A listener bound at start, so a taken address fails the start.
fn bind(addr: SocketAddr, what: &str) -> Result<std::net::TcpListener> {
    let listener = crate::serving::listeners::bind_tcp(addr)
        .with_context(|| format!("cannot listen on {addr} for {what}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Every minute while the server runs, `forget` runs on `table` (the write
/// limit's clients, the login back-off's), so it holds only recent clients.
async fn forget_idle<T>(table: std::sync::Weak<T>, forget: fn(&T)) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    loop {
        every.tick().await;
        match table.upgrade() {
            Some(table) => forget(&table),
            None => return,
        }
    }
}

/// Compiles the component for `config` and serves it on `listener` until the
/// process ends.
pub async fn serve(listener: TcpListener, config: Config) -> Result<()> {
    Server::new(&config)?.serve(listener).await
}

/// Advances the engine's epoch every `EPOCH_TICK` while the server runs: one
/// thread for all requests. Not a tokio task: guests spinning on every
/// worker thread would starve it, and they only yield when it ticks.
struct EpochTicker(Arc<AtomicBool>);

impl EpochTicker {
    fn start(host: &Arc<Host>) -> Result<EpochTicker> {
        let engine = host.engine().clone();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        std::thread::Builder::new()
            .name("sitebox-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .context("cannot start the epoch thread")?;
        Ok(EpochTicker(stopped))
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
