//! The network side: accepts connections (plain, or TLS with ALPN), speaks
//! HTTP/1.1 with keep-alive or HTTP/2 (h2c by prior knowledge on a plain
//! port) on each, hands every request to the host, and shuts down gracefully.
//! When the host cannot get an answer from the guest it writes the error page
//! itself (`failure_page`); the server keeps serving.

use crate::access_log::{Counted, LoggedBody, RequestLine};
use crate::host::{Failure, GuestResponse, Host};
use crate::idle::Activity;
use crate::metrics::Metrics;
use crate::observed::Observed;
use crate::progress::{Progress, ProgressBody};
use crate::request_rules::{self, Refusal};
use crate::write_limit::WriteLimit;
use crate::{Config, tls};
use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{StatusCode, Version};
use http_body_util::{BodyExt, Full};
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
}

impl Server {
    pub fn new(config: &Config) -> Result<Server> {
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let metrics_listener = config
            .metrics_addr
            .map(|addr| {
                let listener = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen on {addr} for the metrics"))?;
                listener.set_nonblocking(true)?;
                anyhow::Ok(listener)
            })
            .transpose()?;
        let metrics = metrics_listener.map(|listener| (Arc::new(Metrics::new()), listener));
        let host = Host::new(config, metrics.as_ref().map(|(m, _)| m.clone()))?;
        Ok(Server {
            host: Arc::new(host),
            config: config.clone(),
            tls,
            metrics,
        })
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
        let shared = Arc::new(Shared {
            host: self.host.clone(),
            config: self.config.clone(),
            local_addr,
            http: http_builder(&self.config),
            metrics,
            write_limit,
        });
        // Every connection holds a receiver: `true` asks it to finish its
        // requests and close; the channel closes when the last one is gone.
        let (stop, _) = watch::channel(false);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait, don't spin.
                        tracing::warn!("accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Small responses go out at once instead of waiting on Nagle.
            let _ = stream.set_nodelay(true);
            let (shared, tls, stopping) = (shared.clone(), self.tls.clone(), stop.subscribe());
            tokio::spawn(connection(stream, peer, shared, tls, stopping));
        }
        drop(listener);
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
            serve_connection(stream, Scheme::Http, peer, shared, stopping).await
        }
        Some(tls) => {
            let accepted = tokio::select! {
                accepted = tokio::time::timeout(header_timeout, tls.accept(stream)) => accepted,
                _ = stopping.changed() => return,
            };
            match accepted {
                Ok(Ok(stream)) => {
                    serve_connection(stream, Scheme::Https, peer, shared, stopping).await
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
                let response = respond(&shared, scheme, request, peer).await;
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
    crate::access_log::log_response(line, counted, response)
}

fn answer_failure(failure: Failure, max_body: u64) -> GuestResponse {
    match failure {
        Failure::Failed(error) => {
            tracing::warn!("answering 500: {error:#}");
            failure_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The site failed to answer this request.",
            )
        }
        Failure::Unconvertible(error) => {
            tracing::debug!("answering 400: the request cannot be handed to the guest: {error:#}");
            failure_page(
                StatusCode::BAD_REQUEST,
                "The request cannot be passed to the site.",
            )
        }
        Failure::TimedOut => failure_page(
            StatusCode::GATEWAY_TIMEOUT,
            "The site took too long to answer this request.",
        ),
        Failure::BodyTooLarge => failure_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request bodies are limited to {max_body} bytes."),
        ),
        Failure::Busy(refused) => {
            tracing::warn!("answering 503: {refused:?}");
            let mut page = failure_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy; please try again in a moment.",
            );
            page.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            page
        }
    }
}

/// 429 for a client over `--write-rate`, with when to try again.
fn too_many_writes(wait: Duration) -> GuestResponse {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut page = failure_page(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many changes from your address; try again in {seconds} s."),
    );
    page.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    page
}

/// The client's fault, found before the guest ran: an HTTP/1 connection
/// that sent it is closed after the answer, since what follows on it
/// cannot be trusted to start a new request.
fn refusal_page(refusal: &Refusal, version: Version) -> GuestResponse {
    let mut page = failure_page(refusal.status, refusal.message);
    if version < Version::HTTP_2 {
        page.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    page
}

/// A page the host writes itself, when the guest cannot be asked.
fn failure_page(status: StatusCode, message: &str) -> GuestResponse {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{code} {reason}</title></head><body><h1>{code} {reason}</h1>\
         <p>{message}</p></body></html>"
    );
    let body = Full::new(Bytes::from(page))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = host_response(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A response the host writes itself, in the guests' body type.
pub(crate) fn host_response(body: HyperOutgoingBody) -> GuestResponse {
    hyper::Response::new(Observed::new(body, Progress::new()))
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
