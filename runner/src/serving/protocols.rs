//! Which HTTP a connection speaks: hyper's HTTP/1.1 and HTTP/2 settings,
//! and over TLS exactly the protocol the handshake chose (ALPN).

use crate::Config;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;

/// hyper's HTTP/1.1 and HTTP/2 settings, for a connection that may speak
/// either (plain text: HTTP/2 by prior knowledge) and for one whose TLS
/// handshake chose (ALPN).
pub struct HttpBuilders {
    either: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Whichever the client's first bytes say.
    Either,
    Http1,
    Http2,
}

impl HttpBuilders {
    pub fn new(config: &Config) -> HttpBuilders {
        let mut either = auto::Builder::new(TokioExecutor::new());
        either
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(true)
            // A client that shuts down its sending side after the request
            // (`nc -N`, some proxies) still gets the answer.
            .half_close(true)
            .header_read_timeout(config.limits.header_timeout);
        either
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(crate::serving::client_slots::MAX_STREAMS);
        HttpBuilders {
            http1: either.clone().http1_only(),
            http2: either.clone().http2_only(),
            either,
        }
    }

    pub fn speaking(&self, protocol: Protocol) -> &auto::Builder<TokioExecutor> {
        match protocol {
            Protocol::Either => &self.either,
            Protocol::Http1 => &self.http1,
            Protocol::Http2 => &self.http2,
        }
    }
}

/// What a TLS handshake agreed on: HTTP/2 only if ALPN chose `h2` (RFC 9113
/// §3.2); HTTP/1.1 otherwise, a client without ALPN included.
pub fn negotiated<S>(stream: &tokio_rustls::server::TlsStream<S>) -> Protocol {
    match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        _ => Protocol::Http1,
    }
}
