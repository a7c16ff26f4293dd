//! Who the client is and how it reached us: the connection's peer and
//! scheme, or — when the peer is one of the `--trusted-proxies` — what the
//! one forwarding header those proxies write (`--proxy-header`) says: the
//! client's address, the scheme it used (a proxy terminating TLS) and the
//! host it asked for. The guest learns the client from the one `Forwarded`
//! header (RFC 7239) the runner sets itself; whatever forwarding headers the
//! request came with are dropped, so a client cannot pass itself off as
//! another.

use forwarded_header_value::{ForwardedStanza, Identifier, Protocol};
use http::HeaderMap;
use http::header::{FORWARDED, HOST, HeaderName, HeaderValue};
use ipnet::IpNet;
use std::net::IpAddr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// Dropped from every request: only the runner's `Forwarded` says where a
/// request came from.
const FORWARDING: [HeaderName; 5] = [
    FORWARDED,
    X_FORWARDED_FOR,
    X_FORWARDED_HOST,
    X_FORWARDED_PROTO,
    HeaderName::from_static("x-real-ip"),
];

/// The header the trusted proxies write; the other one is never believed,
/// since common proxies pass a client's own copy of it through untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` (with `X-Forwarded-Proto`, `X-Forwarded-Host`):
    /// what nginx, HAProxy, AWS's load balancers and Traefik append.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239): `for=`, `proto=`, `host=`.
    Forwarded,
}

/// The networks whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    pub networks: Vec<IpNet>,
    pub header: ProxyHeader,
}

/// Where a request came from, as far as the runner can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub client: IpAddr,
    /// The client reached the site over HTTPS: its own connection to the
    /// runner, or the trusted proxy says so.
    pub https: bool,
    /// The host the client asked for, when a trusted proxy names it.
    pub host: Option<HeaderValue>,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ProxyHeader) -> TrustedProxies {
        TrustedProxies { networks, header }
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The origin of a request from `peer` over a connection that is HTTPS
    /// or not. From a trusted peer, the hops its header lists are walked
    /// from the nearest back to the first address that is not a trusted
    /// proxy: that is the client, and the scheme and host come from the hop
    /// that names it (for `X-Forwarded-For`, from `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` as the nearest proxy set them). A hop that is
    /// malformed, `unknown` or obfuscated ends the walk at the last address
    /// known.
    pub fn origin(&self, peer: IpAddr, https: bool, headers: &HeaderMap) -> Origin {
        let mut origin = Origin {
            client: peer.to_canonical(),
            https,
            host: None,
        };
        if !self.trusts(origin.client) {
            return origin;
        }
        let hops = match self.header {
            ProxyHeader::Forwarded => forwarded_hops(headers),
            ProxyHeader::XForwardedFor => x_forwarded_hops(headers),
        };
        let mut stated = None;
        for hop in hops.into_iter().rev() {
            let Some(ip) = hop.client else { break };
            origin.client = ip.to_canonical();
            stated = Some(hop.stated);
            if !self.trusts(origin.client) {
                break;
            }
        }
        if self.header == ProxyHeader::XForwardedFor {
            stated = Some(x_forwarded_statement(headers));
        }
        if let Some(Stated { https, host }) = stated {
            origin.https = https.unwrap_or(origin.https);
            origin.host = host;
        }
        origin
    }
}

/// One hop a forwarding header lists.
struct Hop {
    /// `None` when it names no usable address.
    client: Option<IpAddr>,
    stated: Stated,
}

/// What a proxy says of the connection it received.
#[derive(Default)]
struct Stated {
    https: Option<bool>,
    host: Option<HeaderValue>,
}

/// The elements of every `Forwarded` line, the original client first.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(FORWARDED) {
        let Ok(text) = value.to_str() else {
            hops.push(Hop::unusable());
            continue;
        };
        for element in list(text) {
            hops.push(match element.parse::<ForwardedStanza>() {
                Ok(stanza) => Hop {
                    client: stanza.forwarded_for_ip(),
                    stated: Stated {
                        https: stanza.forwarded_proto.map(|p| p == Protocol::Https),
                        host: stanza.forwarded_host.as_deref().and_then(host),
                    },
                },
                Err(_) => Hop::unusable(),
            });
        }
    }
    hops
}

/// The addresses of every `X-Forwarded-For` line, the original client
/// first: bare or with a port (`192.0.2.1:5678`, `[2001:db8::1]:443`),
/// bracketed, quoted.
fn x_forwarded_hops(headers: &HeaderMap) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(text) = value.to_str() else {
            hops.push(Hop::unusable());
            continue;
        };
        hops.extend(list(text).map(|hop| Hop {
            client: hop.parse::<Identifier>().ok().and_then(|id| id.ip()),
            stated: Stated::default(),
        }));
    }
    hops
}

/// `X-Forwarded-Proto` and `X-Forwarded-Host`: the last value of each, the
/// one the nearest proxy set.
fn x_forwarded_statement(headers: &HeaderMap) -> Stated {
    let last = |name| {
        let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
        list(value).next_back()
    };
    Stated {
        https: last(X_FORWARDED_PROTO).and_then(|proto| match proto.parse() {
            Ok(Protocol::Https) => Some(true),
            Ok(Protocol::Http) => Some(false),
            Err(_) => None,
        }),
        host: last(X_FORWARDED_HOST).and_then(host),
    }
}

impl Hop {
    fn unusable() -> Hop {
        Hop {
            client: None,
            stated: Stated::default(),
        }
    }
}

/// The non-empty items of a comma-separated list.
fn list(text: &str) -> impl DoubleEndedIterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// A proxy's host, if it is a valid `Host` value.
fn host(text: &str) -> Option<HeaderValue> {
    let value = HeaderValue::from_str(text).ok()?;
    crate::serving::request_rules::valid_host(&value)?;
    Some(value)
}

impl Origin {
    /// Replaces the request's forwarding headers with the runner's own
    /// `Forwarded: for=CLIENT;proto=SCHEME`, and its host with the one a
    /// trusted proxy named (in `Host`, and in the target of an HTTP/2
    /// request, whose `:authority` the guest would see).
    pub fn apply<B>(&self, request: &mut http::Request<B>) {
        let headers = request.headers_mut();
        for name in &FORWARDING {
            headers.remove(name);
        }
        let proto = if self.https { "https" } else { "http" };
        let value = match self.client {
            IpAddr::V4(ip) => format!("for={ip};proto={proto}"),
            // A bracketed IPv6 address must be quoted (RFC 7239 §6).
            IpAddr::V6(ip) => format!("for=\"[{ip}]\";proto={proto}"),
        };
        let value = HeaderValue::try_from(value).expect("an address is a valid header value");
        headers.insert(FORWARDED, value);
        let Some(host) = &self.host else { return };
        headers.insert(HOST, host.clone());
        let uri = request.uri();
        if uri.authority().is_some() {
            let mut parts = uri.clone().into_parts();
            parts.authority = host.to_str().ok().and_then(|host| host.parse().ok());
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
}

#[cfg(test)]
#[path = "client_address/tests.rs"]
mod tests;
