//! Who the client is: the connection's peer, or — when the peer is one of
//! the `--trusted-proxies` — the address its forwarding headers name. The
//! guest learns it from the one `Forwarded` header (RFC 7239) the runner
//! sets itself; whatever forwarding headers the request came with are
//! dropped, so a client cannot pass itself off as another.

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName, HeaderValue};
use ipnet::IpNet;
use std::net::IpAddr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// Dropped from every request: only the runner's `Forwarded` says where a
/// request came from.
const FORWARDING: [HeaderName; 5] = [
    FORWARDED,
    X_FORWARDED_FOR,
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-real-ip"),
];

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer`: walking the hops the headers
    /// list from the nearest back, the first address that is not a trusted
    /// proxy. `Forwarded` is read if present, else `X-Forwarded-For`; a hop
    /// that is malformed, `unknown` or obfuscated ends the walk at the last
    /// address known.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = hops(headers);
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) => client = ip.to_canonical(),
                None => break,
            }
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The addresses the forwarding headers list, the original client first;
/// `None` for a hop without a usable address.
fn hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    if headers.contains_key(FORWARDED) {
        for value in headers.get_all(FORWARDED) {
            let Ok(text) = value.to_str() else {
                hops.push(None);
                continue;
            };
            for element in rfc7239::parse(text) {
                let ip = element
                    .ok()
                    .and_then(|element| element.forwarded_for?.ip().copied());
                hops.push(ip);
            }
        }
    } else {
        for value in headers.get_all(X_FORWARDED_FOR) {
            let Ok(text) = value.to_str() else {
                hops.push(None);
                continue;
            };
            hops.extend(text.split(',').map(|hop| hop.trim().parse().ok()));
        }
    }
    hops
}

/// Replaces the request's forwarding headers with the runner's own
/// `Forwarded: for=CLIENT;proto=SCHEME`.
pub fn set_forwarded(headers: &mut HeaderMap, client: IpAddr, https: bool) {
    for name in &FORWARDING {
        headers.remove(name);
    }
    let proto = if https { "https" } else { "http" };
    let value = match client {
        IpAddr::V4(ip) => format!("for={ip};proto={proto}"),
        // A bracketed IPv6 address must be quoted (RFC 7239 §6).
        IpAddr::V6(ip) => format!("for=\"[{ip}]\";proto={proto}"),
    };
    let value = HeaderValue::try_from(value).expect("an address is a valid header value");
    headers.insert(FORWARDED, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies(nets.iter().map(|net| net.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let says = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        assert_eq!(trusted.client(ip("192.0.2.9"), &says), ip("192.0.2.9"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &says),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxys_headers_are_walked_back_to_the_first_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
        let peer = ip("10.0.0.1");
        // The client's own claim (9.9.9.9) is left of the address the
        // first proxy saw: never reached.
        let chain = headers(&[("x-forwarded-for", "9.9.9.9, 203.0.113.7, 10.1.1.1")]);
        assert_eq!(trusted.client(peer, &chain), ip("203.0.113.7"));
        let lines = headers(&[
            ("x-forwarded-for", "9.9.9.9"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(trusted.client(peer, &lines), ip("203.0.113.7"));
        let forwarded = headers(&[
            (
                "forwarded",
                "for=9.9.9.9, for=\"[2001:db9::5]:4711\";proto=https",
            ),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(trusted.client(peer, &forwarded), ip("2001:db9::5"));
        // All trusted: the leftmost.
        let inside = headers(&[("x-forwarded-for", "10.2.2.2, 10.1.1.1")]);
        assert_eq!(trusted.client(peer, &inside), ip("10.2.2.2"));
        // None: the proxy itself.
        assert_eq!(trusted.client(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn a_hop_without_an_address_ends_the_walk() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        for bad in ["203.0.113.7, nonsense", "203.0.113.7, 10.1.1.1, unknown"] {
            let said = headers(&[("x-forwarded-for", bad)]);
            assert!(trusted.trusts(trusted.client(peer, &said)), "{bad}");
        }
        let obfuscated = headers(&[("forwarded", "for=203.0.113.7, for=_hidden")]);
        assert_eq!(trusted.client(peer, &obfuscated), peer);
        let malformed = headers(&[("forwarded", "for=203.0.113.7, for")]);
        assert_eq!(trusted.client(peer, &malformed), peer);
    }

    #[test]
    fn ipv4_mapped_peers_are_their_ipv4_addresses() {
        let trusted = proxies(&["127.0.0.0/8"]);
        let peer = ip("::ffff:127.0.0.1");
        let said = headers(&[("x-forwarded-for", "198.51.100.2")]);
        assert_eq!(trusted.client(peer, &said), ip("198.51.100.2"));
    }

    #[test]
    fn the_runners_forwarded_header_replaces_every_other() {
        let mut request = headers(&[
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-real-ip", "1.1.1.1"),
            ("accept", "*/*"),
        ]);
        set_forwarded(&mut request, ip("192.0.2.1"), false);
        assert_eq!(request.len(), 2);
        assert_eq!(request["forwarded"], "for=192.0.2.1;proto=http");
        set_forwarded(&mut request, ip("2001:db8::1"), true);
        assert_eq!(request["forwarded"], "for=\"[2001:db8::1]\";proto=https");
        let parsed: Vec<_> = rfc7239::parse(request["forwarded"].to_str().unwrap()).collect();
        let node = parsed[0].as_ref().unwrap().forwarded_for.as_ref().unwrap();
        assert_eq!(node.ip(), Some(&ip("2001:db8::1")));
    }
}
