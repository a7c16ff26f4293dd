//! The HTTP side: accepts connections, speaks HTTP/1.1 with keep-alive on each,
//! and hands every request to the host. A guest that fails turns into a 500
//! for that request only; the server keeps serving.

use crate::Config;
use crate::access_log::{self, LoggedBody, RequestLine};
use crate::host::Host;
use anyhow::Result;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http::{StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// A compiled, ready-to-serve sitebox: `new` does the slow part (compiling
/// the component) so `serve` answers from its first request.
pub struct Server {
    host: Arc<Host>,
    static_dir: PathBuf,
}

impl Server {
    pub fn new(config: &Config) -> Result<Server> {
        Ok(Server {
            host: Arc::new(Host::new(config)?),
            static_dir: config.static_dir.clone(),
        })
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: TcpListener) -> Result<()> {
        let local_addr = listener.local_addr()?;
        tracing::info!(
            "sitebox serving {} on http://{local_addr}/",
            self.static_dir.display()
        );
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Small responses go out at once instead of waiting on Nagle.
            let _ = stream.set_nodelay(true);
            let host = self.host.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let host = host.clone();
                    async move { Ok::<_, Infallible>(respond(&host, request, local_addr).await) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!("connection ended: {error}");
                }
            });
        }
    }
}

/// Compiles the component for `config` and serves it on `listener` until the
/// process ends.
pub async fn serve(listener: TcpListener, config: Config) -> Result<()> {
    Server::new(&config)?.serve(listener).await
}

async fn respond(
    host: &Host,
    mut request: hyper::Request<Incoming>,
    local_addr: SocketAddr,
) -> hyper::Response<LoggedBody<HyperOutgoingBody>> {
    let line = RequestLine::new(&request);
    let response = if !has_authority(&mut request, local_addr) {
        error_page(
            StatusCode::BAD_REQUEST,
            "An HTTP/1.1 request needs a Host header.",
        )
    } else {
        match host.handle(request).await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!("answering 500: {error:#}");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The site failed to answer this request.",
                )
            }
        }
    };
    access_log::log_response(line, response)
}

/// wasi:http gives the guest the request's authority, so there must be one.
/// HTTP/1.0 clients may omit `Host`: they get this server's address. An
/// HTTP/1.1 request without it is malformed (RFC 9112, 3.2).
fn has_authority(request: &mut hyper::Request<Incoming>, local_addr: SocketAddr) -> bool {
    if request.uri().authority().is_some() || request.headers().contains_key(HOST) {
        return true;
    }
    if request.version() != Version::HTTP_10 {
        return false;
    }
    let host = HeaderValue::try_from(local_addr.to_string()).expect("an address is a valid header");
    request.headers_mut().insert(HOST, host);
    true
}

/// A page the host writes itself, when the guest cannot be asked.
fn error_page(status: StatusCode, message: &str) -> hyper::Response<HyperOutgoingBody> {
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
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
