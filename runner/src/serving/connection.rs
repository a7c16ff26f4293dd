//! One connection's life: accepted on a TCP or Unix listener, the TLS
//! handshake (or, in plain text, its first byte), then its requests over
//! HTTP/1.1 with keep-alive or HTTP/2 — each checked, answered by the runner
//! itself (probes, refusals, limits, the way to HTTPS) or by the guest, and
//! recorded — until it closes, idles out, or the server stops.

use crate::Config;
use crate::filters::compression::Compressed;
use crate::filters::observed::Observed;
use crate::guest::host::{Failure, Host};
use crate::guest::progress::ProgressBody;
use crate::ops::access_log::{Counted, LoggedBody, RequestLine};
use crate::ops::metrics::Metrics;
use crate::serving::client_slots::ClientSlot;
use crate::serving::gate::Gate;
use crate::serving::host_pages::{answer_failure, refusal_page, too_many_writes};
use crate::serving::idle::Activity;
use crate::serving::pace::{BodyRate, Meter, Pace, Paced};
use crate::serving::protocols::{HttpBuilders, Protocol, negotiated};
use crate::serving::request_rules;
use crate::serving::write_limit::WriteLimit;
use http::header::{CONTENT_LENGTH, HeaderValue};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// What every connection shares.
pub struct Shared {
    pub host: Arc<Host>,
    pub config: Config,
    /// The HTTPS listener's port, for the way there from `--redirect-http`.
    pub https_port: u16,
    /// The HTTP settings, made once at start.
    pub http: HttpBuilders,
    pub metrics: Option<Arc<Metrics>>,
    /// The last readiness finding, shared by every probe.
    pub readiness: crate::serving::health::Readiness,
    pub write_limit: Option<Arc<WriteLimit>>,
    /// `--max-logins` and `--login-backoff`.
    pub logins: Arc<crate::serving::logins::Logins>,
    /// `Strict-Transport-Security` for HTTPS responses.
    pub hsts: Option<HeaderValue>,
    pub tls: Option<TlsAcceptor>,
    /// What a request passes before it takes an instance.
    pub gate: Gate,
}

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The site.
    Site,
    /// `--redirect-http`: everything but ACME's challenges goes to HTTPS.
    Redirect,
}

/// A listener on the async runtime.
pub enum Accepting {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A connection over a Unix socket comes from this host: it counts as from
/// 127.0.0.1 (for the log, and for `--trusted-proxies`), port 0.
const UNIX_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// Accepts connections on `listener` for `role` until dropped, each served
/// on its own task (with TLS for the site's listeners when it is on).
pub async fn accept(
    listener: Accepting,
    role: Role,
    shared: Arc<Shared>,
    stop: Arc<watch::Sender<bool>>,
) {
    let tls = match role {
        Role::Site => shared.tls.clone(),
        Role::Redirect => None,
    };
    loop {
        let accepted = match &listener {
            Accepting::Tcp(listener) => listener.accept().await.map(|(stream, peer)| {
                // Small responses go out at once instead of waiting on Nagle.
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().unwrap_or(peer);
                let (shared, tls, stopping) = (shared.clone(), tls.clone(), stop.subscribe());
                let ends = (peer, local, Meter::tcp(&stream));
                tokio::spawn(connection(stream, ends, role, shared, tls, stopping));
            }),
            Accepting::Unix(listener) => listener.accept().await.map(|(stream, _)| {
                let (shared, tls, stopping) = (shared.clone(), tls.clone(), stop.subscribe());
                let ends = (UNIX_PEER, UNIX_PEER, Meter::Taken);
                tokio::spawn(connection(stream, ends, role, shared, tls, stopping));
            }),
        };
        if let Err(error) = accepted {
            // Out of file descriptors and the like: wait, don't spin.
            tracing::warn!("accept failed: {error}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A connected stream, TCP or Unix.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Waits for the peer's first byte (or its close), leaving it unread;
    /// how many bytes there are.
    fn first_byte(&self) -> impl Future<Output = std::io::Result<usize>> + Send;
}

impl Stream for TcpStream {
    async fn first_byte(&self) -> std::io::Result<usize> {
        self.peek(&mut [0; 1]).await
    }
}

impl Stream for UnixStream {
    async fn first_byte(&self) -> std::io::Result<usize> {
        // tokio has no `peek` for Unix streams: socket2's, when readable.
        let mut first = [std::mem::MaybeUninit::uninit(); 1];
        loop {
            self.readable().await?;
            let peeked = self.try_io(tokio::io::Interest::READABLE, || {
                socket2::SockRef::from(self).peek(&mut first)
            });
            match peeked {
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }
}

/// One accepted connection, on its own task: the TLS handshake (or, in
/// plain text, the first byte), then its requests, until it closes or
/// `stopping` says to finish.
async fn connection(
    stream: impl Stream,
    ends: (SocketAddr, SocketAddr, Meter),
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
            let peeked = tokio::select! {
                peeked = tokio::time::timeout(header_timeout, stream.first_byte()) => peeked,
                _ = stopping.changed() => return,
            };
            if !matches!(peeked, Ok(Ok(1..))) {
                return;
            }
            let plain = (Scheme::Http, Protocol::Either);
            serve_connection(stream, plain, role, ends, shared, stopping).await
        }
        Some(tls) => {
            let accepted = tokio::select! {
                accepted = tokio::time::timeout(header_timeout, tls.accept(stream)) => accepted,
                _ = stopping.changed() => return,
            };
            match accepted {
                Ok(Ok(stream)) => {
                    let secure = (Scheme::Https, negotiated(&stream));
                    serve_connection(stream, secure, role, ends, shared, stopping).await
                }
                Ok(Err(error)) => tracing::debug!("TLS handshake failed: {error}"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

/// Asks every open connection to finish and waits for them, for at most
/// `grace`.
pub async fn finish_connections(stop: &watch::Sender<bool>, grace: Duration) {
    tracing::info!(
        "shutting down: finishing {} open connections (at most {grace:?})",
        stop.receiver_count()
    );
    let _ = stop.send(true);
    if tokio::time::timeout(grace, stop.closed()).await.is_err() {
        tracing::warn!("shutdown grace period over; cutting the remaining connections");
    }
}

/// Serves requests on one connection until the client closes it, it sits
/// idle for the idle timeout, or the server stops (`stopping`); the last two
/// let requests in flight finish first.
async fn serve_connection<I>(
    io: I,
    (scheme, protocol): (Scheme, Protocol),
    role: Role,
    (peer, local, meter): (SocketAddr, SocketAddr, Meter),
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let pace = Pace::new(BodyRate::of(&shared.config.limits), meter);
    let service = {
        let (shared, activity, pace) = (shared.clone(), activity.clone(), pace.clone());
        service_fn(move |request| {
            let (shared, pace) = (shared.clone(), pace.clone());
            let scheme = scheme.clone();
            let in_flight = activity.begin();
            async move {
                let ends = (peer, local);
                let (response, slot) = respond(&shared, scheme, role, request, ends, &pace).await;
                let body = |body| {
                    Observed::new(Observed::new(Paced::response(body, &pace), slot), in_flight)
                };
                Ok::<_, Infallible>(response.map(body))
            }
        })
    };
    let http = shared.http.speaking(protocol);
    let connection = http.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let idle_timeout = shared.config.limits.idle_timeout;
    let mut breached = std::pin::pin!(pace.breached());
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
            () = breached.as_mut() => {
                tracing::debug!("closing a connection from {peer}: under --min-body-rate");
                return;
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
    (peer, local): (SocketAddr, SocketAddr),
    pace: &Pace,
) -> (
    hyper::Response<LoggedBody<Compressed<ProgressBody<HyperOutgoingBody>>>>,
    Option<ClientSlot>,
) {
    // HSTS goes with the runner's own TLS; the guest hears the client's scheme.
    let https = matches!(scheme, Scheme::Https);
    let origin = (shared.config.trusted_proxies).origin(peer.ip(), https, request.headers());
    let client = origin.client;
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
    // Where the runner's own error pages are the API's JSON errors.
    let api = sitebox::board::api_error::answers_in_json(request.uri().path());
    let checked = request_rules::check(&mut request, local);
    // After the check of the client's own `Host`: a proxy's is checked apart.
    origin.apply(&mut request);
    let response = if let Err(refusal) = checked {
        tracing::debug!("refused before the guest: {}", refusal.message);
        refusal_page(&refusal, request.version())
    } else if role == Role::Redirect
        && !(request.uri().path()).starts_with(crate::serving::host_pages::ACME_CHALLENGES)
    {
        crate::serving::host_pages::to_https(&request, shared.https_port)
    } else if let Some(probe) = probe {
        (shared.readiness)
            .answer(&shared.host, probe, request.method())
            .await
    } else if let Some(wait) =
        (shared.write_limit.as_ref()).and_then(|limit| limit.check(request.method(), client).err())
    {
        too_many_writes(wait)
    } else if declared_length.is_some_and(|length| length > limits.max_body) {
        answer_failure(Failure::BodyTooLarge, limits.max_body)
    } else {
        let negotiated = crate::filters::compression::Negotiate::negotiate(
            &shared.config.compression,
            &mut request,
        );
        let scheme = if origin.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let passed =
            (shared.gate).pass(&shared.host, &shared.logins, scheme, client, pace, request);
        match passed.await {
            Ok((response, slot)) => {
                let response = finish(shared, https, line, counted, negotiated, response);
                return (response, slot);
            }
            Err(page) => page,
        }
    };
    // The runner's own answers go as they are (in JSON on the API).
    let response = crate::serving::host_pages::for_the_request(response, api);
    (finish(shared, https, line, counted, None, response), None)
}

/// The response on its way out: compressed (a guest's, when `negotiated`),
/// with HSTS, logged and counted.
fn finish(
    shared: &Shared,
    https: bool,
    line: Option<RequestLine>,
    counted: Option<Counted>,
    negotiated: Option<crate::filters::compression::Negotiated>,
    response: crate::guest::host::GuestResponse,
) -> hyper::Response<LoggedBody<Compressed<ProgressBody<HyperOutgoingBody>>>> {
    let mut response = match negotiated {
        Some(negotiated) => negotiated.apply(response),
        None => response.map(Compressed::identity),
    };
    if let (true, Some(hsts)) = (https, &shared.hsts) {
        // A site's own (from its `_headers`) stands.
        (response.headers_mut())
            .entry(http::header::STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| hsts.clone());
    }
    crate::ops::access_log::log_response(line, counted, response)
}
