//! The network side: accepts connections (plain, or TLS with ALPN), speaks
//! HTTP/1.1 with keep-alive or HTTP/2 (h2c by prior knowledge on a plain
//! port) on each, hands every request to the host, and shuts down gracefully.
//! When the host cannot get an answer from the guest it writes the error page
//! itself (`host_pages`); the server keeps serving. With TLS, a second,
//! plain listener (`--redirect-http`) sends clients to HTTPS.

use crate::access_log::{Counted, LoggedBody, RequestLine};
use crate::host::{Failure, Host};
use crate::host_pages::{answer_failure, refusal_page, too_many_writes};
use crate::idle::Activity;
use crate::metrics::Metrics;
use crate::observed::Observed;
use crate::progress::ProgressBody;
use crate::request_rules;
use crate::write_limit::WriteLimit;
use crate::{Config, tls};
use anyhow::{Context, Result};
use http::header::{CONTENT_LENGTH, HeaderValue};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

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

/// What every connection shares.
struct Shared {
    host: Arc<Host>,
    config: Config,
    local_addr: SocketAddr,
    /// The HTTP settings, made once at start.
    http: auto::Builder<TokioExecutor>,
    metrics: Option<Arc<Metrics>>,
    write_limit: Option<Arc<WriteLimit>>,
    /// `Strict-Transport-Security` for HTTPS responses.
    hsts: Option<HeaderValue>,
}

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The site.
    Site,
    /// `--redirect-http`: everything but ACME's challenges goes to HTTPS.
    Redirect,
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

    /// The certificate served with `tls`, to reload when it is renewed.
    pub fn tls_certificate(&self) -> Option<Arc<tls::Certificate>> {
        self.certificate.clone()
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
        let local_addr = listener.local_addr()?;
        self.log_start(local_addr);
        let _ticker = EpochTicker::start(&self.host)?;
        if self.config.watch {
            crate::watch::spawn(&self.host, &self.config)?;
        }
        let metrics = match self.metrics {
            Some((metrics, listener)) => {
                let listener =
                    TcpListener::from_std(listener).context("cannot serve the metrics")?;
                tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
                let host = self.host.clone();
                let refresh = move |metrics: &Metrics| {
                    let (busy, queued) = host.load();
                    metrics.instances_busy.set(busy.into());
                    metrics.requests_queued.set(queued.into());
                };
                tokio::spawn(crate::metrics::serve(listener, metrics.clone(), refresh));
                Some(metrics)
            }
            None => None,
        };
        let write_limit = self.config.write_rate.map(|rate| {
            let limit = Arc::new(WriteLimit::new(rate));
            tokio::spawn(forget_idle_writers(Arc::downgrade(&limit)));
            limit
        });
        let hsts = (self.tls.is_some() && self.config.hsts_max_age > 0).then(|| {
            HeaderValue::try_from(format!("max-age={}", self.config.hsts_max_age))
                .expect("digits are a header value")
        });
        let shared = Arc::new(Shared {
            host: self.host.clone(),
            config: self.config.clone(),
            local_addr,
            http: http_builder(&self.config),
            metrics,
            write_limit,
            hsts,
        });
        // Every connection holds a receiver: `true` asks it to finish its
        // requests and close; the channel closes when the last one is gone.
        let (stop, _) = watch::channel(false);
        let site = accept(listener, Role::Site, &shared, self.tls.clone(), &stop);
        let redirect = async {
            match self.redirect {
                Some(listener) => {
                    let listener = TcpListener::from_std(listener)
                        .context("cannot serve the redirect to HTTPS")?;
                    let addr = listener.local_addr()?;
                    tracing::info!("redirecting http://{addr}/ to https");
                    accept(listener, Role::Redirect, &shared, None, &stop).await;
                    anyhow::Ok(())
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = site => {}
            failed = redirect => failed?,
            () = shutdown => {}
        }
        finish_connections(stop, self.config.limits.shutdown_grace).await;
        Ok(())
    }

    /// The start-up lines: where it serves, where the board is, whether it
    /// has an admin; and, in the background, whether Redis answers.
    fn log_start(&self, local_addr: SocketAddr) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "sitebox serving {} on {scheme}://{local_addr}/",
            self.config.static_dir.display()
        );
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

/// A listener bound at start, so a taken address fails the start.
fn bind(addr: SocketAddr, what: &str) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} for {what}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Accepts connections on `listener` for `role` until dropped, each served
/// on its own task.
async fn accept(
    listener: TcpListener,
    role: Role,
    shared: &Arc<Shared>,
    tls: Option<TlsAcceptor>,
    stop: &watch::Sender<bool>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait, don't spin.
                tracing::warn!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small responses go out at once instead of waiting on Nagle.
        let _ = stream.set_nodelay(true);
        let (shared, tls, stopping) = (shared.clone(), tls.clone(), stop.subscribe());
        tokio::spawn(connection(stream, peer, role, shared, tls, stopping));
    }
}

/// Every minute while the server runs, the write limit forgets the clients
/// that have not written lately.
async fn forget_idle_writers(limit: std::sync::Weak<WriteLimit>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    loop {
        every.tick().await;
        match limit.upgrade() {
            Some(limit) => limit.forget_idle(),
            None => return,
        }
    }
}

/// hyper's HTTP/1.1 and HTTP/2 settings.
fn http_builder(config: &Config) -> auto::Builder<TokioExecutor> {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // A client that shuts down its sending side after the request
        // (`nc -N`, some proxies) still gets the answer.
        .half_close(true)
        .header_read_timeout(config.limits.header_timeout);
    http.http2().timer(TokioTimer::new());
    http
}

/// One accepted connection, on its own task: the TLS handshake (or, in
/// plain text, the first byte), then its requests, until it closes or
/// `stopping` says to finish.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    role: Role,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    mut stopping: watch::Receiver<bool>,
) {
    let header_timeout = shared.config.limits.header_timeout;
    match tls {
        None => {
            // A client that sends nothing gets no connection: HTTP/2
            // detection would wait for its first bytes before hyper's header
            // timeout starts.
            let mut first = [0; 1];
            let peeked = tokio::select! {
                peeked = tokio::time::timeout(header_timeout, stream.peek(&mut first)) => peeked,
                _ = stopping.changed() => return,
            };
            if !matches!(peeked, Ok(Ok(1..))) {
                return;
            }
            serve_connection(stream, Scheme::Http, role, peer, shared, stopping).await
        }
        Some(tls) => {
            let accepted = tokio::select! {
                accepted = tokio::time::timeout(header_timeout, tls.accept(stream)) => accepted,
                _ = stopping.changed() => return,
            };
            match accepted {
                Ok(Ok(stream)) => {
                    serve_connection(stream, Scheme::Https, role, peer, shared, stopping).await
                }
                Ok(Err(error)) => tracing::debug!("TLS handshake failed: {error}"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

/// Asks every open connection to finish and waits for them, for at most
/// `grace`.
async fn finish_connections(stop: watch::Sender<bool>, grace: Duration) {
    tracing::info!(
        "shutting down: finishing {} open connections (at most {grace:?})",
        stop.receiver_count()
    );
    let _ = stop.send(true);
    if tokio::time::timeout(grace, stop.closed()).await.is_err() {
        tracing::warn!("shutdown grace period over; cutting the remaining connections");
    }
}

/// Compiles the component for `config` and serves it on `listener` until the
/// process ends.
pub async fn serve(listener: TcpListener, config: Config) -> Result<()> {
    Server::new(&config)?.serve(listener).await
}

/// Serves requests on one connection until the client closes it, it sits
/// idle for the idle timeout, or the server stops (`stopping`); the last two
/// let requests in flight finish first.
async fn serve_connection<I>(
    io: I,
    scheme: Scheme,
    role: Role,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let service = {
        let (shared, activity) = (shared.clone(), activity.clone());
        service_fn(move |request| {
            let shared = shared.clone();
            let scheme = scheme.clone();
            let in_flight = activity.begin();
            async move {
                let response = respond(&shared, scheme, role, request, peer).await;
                Ok::<_, Infallible>(response.map(|body| Observed::new(body, in_flight)))
            }
        })
    };
    let connection = shared.http.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let idle_timeout = shared.config.limits.idle_timeout;
    let mut closing = false;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!("connection ended: {error}");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.idle(idle_timeout), if !closing => {
                tracing::debug!("closing a connection from {peer}: idle for {idle_timeout:?}");
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn respond(
    shared: &Shared,
    scheme: Scheme,
    role: Role,
    mut request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<LoggedBody<ProgressBody<HyperOutgoingBody>>> {
    let client = shared
        .config
        .trusted_proxies
        .client(peer.ip(), request.headers());
    let https = matches!(scheme, Scheme::Https);
    crate::client_address::set_forwarded(request.headers_mut(), client, https);
    let probe = shared.config.health.probe(request.uri().path());
    let recorded = probe.is_none() || shared.config.health.log;
    // Only when the log is on: the line takes a copy of the target and the time.
    let line = (shared.config.access_log)
        .filter(|_| recorded)
        .map(|format| RequestLine::new(&request, client, format));
    let counted = (shared.metrics.as_ref())
        .filter(|_| recorded)
        .map(|metrics| Counted::new(&request, metrics));
    let limits = &shared.config.limits;
    let declared_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let response = if let Err(refusal) = request_rules::check(&mut request, shared.local_addr) {
        tracing::debug!("refused before the guest: {}", refusal.message);
        refusal_page(&refusal, request.version())
    } else if role == Role::Redirect
        && !(request.uri().path()).starts_with(crate::host_pages::ACME_CHALLENGES)
    {
        crate::host_pages::to_https(&request, shared.local_addr.port())
    } else if let Some(probe) = probe {
        crate::health::answer(&shared.host, probe, request.method()).await
    } else if let Some(wait) =
        (shared.write_limit.as_ref()).and_then(|limit| limit.check(request.method(), client).err())
    {
        too_many_writes(wait)
    } else if declared_length.is_some_and(|length| length > limits.max_body) {
        answer_failure(Failure::BodyTooLarge, limits.max_body)
    } else {
        match shared.host.handle(scheme, request).await {
            Ok(response) => response,
            Err(failure) => answer_failure(failure, limits.max_body),
        }
    };
    let mut response = response;
    if let (true, Some(hsts)) = (https, &shared.hsts) {
        // A site's own (from its `_headers`) stands.
        (response.headers_mut())
            .entry(http::header::STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| hsts.clone());
    }
    crate::access_log::log_response(line, counted, response)
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
