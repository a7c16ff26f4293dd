use super::*;

fn proxies(nets: &[&str], header: ProxyHeader) -> TrustedProxies {
    TrustedProxies::new(
        nets.iter().map(|net| net.parse().unwrap()).collect(),
        header,
    )
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

/// The client of a plain-HTTP request from `peer` with `said`.
fn client(trusted: &TrustedProxies, peer: &str, said: &[(&'static str, &str)]) -> IpAddr {
    trusted.origin(ip(peer), false, &headers(said)).client
}

const XFF: ProxyHeader = ProxyHeader::XForwardedFor;
const RFC: ProxyHeader = ProxyHeader::Forwarded;

#[test]
fn an_untrusted_peer_is_the_client_whatever_it_says() {
    let says = [
        ("x-forwarded-for", "1.2.3.4"),
        ("forwarded", "for=1.2.3.4;proto=https;host=evil.example"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ];
    for header in [XFF, RFC] {
        let trusted = proxies(&["10.0.0.0/8"], header);
        let origin = trusted.origin(ip("192.0.2.9"), false, &headers(&says));
        let expected = Origin {
            client: ip("192.0.2.9"),
            https: false,
            host: None,
        };
        assert_eq!(origin, expected);
        let nobody = TrustedProxies::default();
        assert_eq!(client(&nobody, "10.0.0.1", &says), ip("10.0.0.1"));
    }
}

#[test]
fn only_the_header_the_proxies_write_is_read() {
    // A proxy appending X-Forwarded-For passes the client's own Forwarded
    // through: believing it would let the client pick its address.
    let forged = [
        ("forwarded", "for=198.51.100.77"),
        ("x-forwarded-for", "203.0.113.7"),
    ];
    let xff = proxies(&["10.0.0.0/8"], XFF);
    assert_eq!(client(&xff, "10.0.0.1", &forged), ip("203.0.113.7"));
    let forged = [
        ("x-forwarded-for", "198.51.100.77"),
        ("forwarded", "for=203.0.113.7"),
    ];
    let rfc = proxies(&["10.0.0.0/8"], RFC);
    assert_eq!(client(&rfc, "10.0.0.1", &forged), ip("203.0.113.7"));
    // A Forwarded-only request to an X-Forwarded-For setup names nobody.
    let only = [("forwarded", "for=198.51.100.77")];
    assert_eq!(client(&xff, "10.0.0.1", &only), ip("10.0.0.1"));
}

#[test]
fn a_trusted_proxys_headers_are_walked_back_to_the_first_untrusted_hop() {
    let trusted = proxies(&["10.0.0.0/8", "2001:db8::/32"], XFF);
    let peer = "10.0.0.1";
    // The client's own claim (9.9.9.9) is left of the address the first
    // proxy saw: never reached.
    let chain = [("x-forwarded-for", "9.9.9.9, 203.0.113.7, 10.1.1.1")];
    assert_eq!(client(&trusted, peer, &chain), ip("203.0.113.7"));
    let lines = [
        ("x-forwarded-for", "9.9.9.9"),
        ("x-forwarded-for", "203.0.113.7"),
    ];
    assert_eq!(client(&trusted, peer, &lines), ip("203.0.113.7"));
    // All trusted: the leftmost.
    let inside = [("x-forwarded-for", "10.2.2.2, 10.1.1.1")];
    assert_eq!(client(&trusted, peer, &inside), ip("10.2.2.2"));
    // None: the proxy itself.
    assert_eq!(client(&trusted, peer, &[]), ip(peer));
    let rfc = proxies(&["10.0.0.0/8", "2001:db8::/32"], RFC);
    let forwarded = [(
        "forwarded",
        "for=9.9.9.9, for=\"[2001:db9::5]:4711\";proto=https, for=\"[2001:db8::1]\"",
    )];
    assert_eq!(client(&rfc, peer, &forwarded), ip("2001:db9::5"));
}

#[test]
fn hops_are_read_as_real_proxies_write_them() {
    let trusted = proxies(&["10.0.0.0/8"], XFF);
    for (written, expected) in [
        ("192.0.2.1:5678", "192.0.2.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("\"192.0.2.1\"", "192.0.2.1"),
        ("\"[2001:db8::1]:443\"", "2001:db8::1"),
        (" 192.0.2.1 ", "192.0.2.1"),
    ] {
        let said = [("x-forwarded-for", written)];
        assert_eq!(
            client(&trusted, "10.0.0.1", &said),
            ip(expected),
            "{written}"
        );
    }
    let rfc = proxies(&["10.0.0.0/8"], RFC);
    for (written, expected) in [
        ("for=192.0.2.1", "192.0.2.1"),
        ("for=\"192.0.2.1:5678\"", "192.0.2.1"),
        ("for=\"[2001:db8::1]:443\"", "2001:db8::1"),
        ("For=\"[2001:db8::1]\"; Proto=https", "2001:db8::1"),
        ("by=10.0.0.1;for=192.0.2.1;host=example.com", "192.0.2.1"),
    ] {
        let said = [("forwarded", written)];
        assert_eq!(client(&rfc, "10.0.0.1", &said), ip(expected), "{written}");
    }
}

#[test]
fn a_hop_without_an_address_ends_the_walk() {
    let trusted = proxies(&["10.0.0.0/8"], XFF);
    for bad in ["203.0.113.7, nonsense", "203.0.113.7, 10.1.1.1, unknown"] {
        let said = [("x-forwarded-for", bad)];
        assert!(trusted.trusts(client(&trusted, "10.0.0.1", &said)), "{bad}");
    }
    // Garbage the client put first does not hide the address the proxy saw.
    let said = [("x-forwarded-for", "nonsense, 203.0.113.7")];
    assert_eq!(client(&trusted, "10.0.0.1", &said), ip("203.0.113.7"));
    let rfc = proxies(&["10.0.0.0/8"], RFC);
    let obfuscated = [("forwarded", "for=203.0.113.7, for=_hidden")];
    assert_eq!(client(&rfc, "10.0.0.1", &obfuscated), ip("10.0.0.1"));
    let malformed = [("forwarded", "for=203.0.113.7, for")];
    assert_eq!(client(&rfc, "10.0.0.1", &malformed), ip("10.0.0.1"));
}

#[test]
fn ipv4_mapped_peers_are_their_ipv4_addresses() {
    let trusted = proxies(&["127.0.0.0/8"], XFF);
    let said = [("x-forwarded-for", "198.51.100.2")];
    assert_eq!(
        client(&trusted, "::ffff:127.0.0.1", &said),
        ip("198.51.100.2")
    );
}

#[test]
fn a_trusted_proxy_states_the_scheme_and_host() {
    let xff = proxies(&["10.0.0.0/8"], XFF);
    let said = headers(&[
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "HTTPS"),
        ("x-forwarded-host", "site.example"),
    ]);
    let origin = xff.origin(ip("10.0.0.1"), false, &said);
    assert!(origin.https);
    assert_eq!(origin.host.unwrap(), "site.example");
    // The nearest proxy's word is the last value.
    let chained = headers(&[("x-forwarded-proto", "http, https")]);
    assert!(xff.origin(ip("10.0.0.1"), false, &chained).https);
    // A proxy terminating TLS for us may also say plain http.
    let plain = headers(&[("x-forwarded-proto", "http")]);
    assert!(!xff.origin(ip("10.0.0.1"), true, &plain).https);
    // What is not a scheme or a host is not believed.
    let odd = headers(&[
        ("x-forwarded-proto", "gopher"),
        ("x-forwarded-host", "user@evil.example"),
    ]);
    let origin = xff.origin(ip("10.0.0.1"), true, &odd);
    assert!(origin.https);
    assert_eq!(origin.host, None);

    // With Forwarded, the hop that names the client says how it came: the
    // nearer proxies' own hops were plain http.
    let rfc = proxies(&["10.0.0.0/8"], RFC);
    let said = headers(&[(
        "forwarded",
        "for=192.0.2.1;proto=https;host=\"site.example:8443\", for=10.0.0.2;proto=http;host=inner",
    )]);
    let origin = rfc.origin(ip("10.0.0.1"), false, &said);
    assert_eq!(origin.client, ip("192.0.2.1"));
    assert!(origin.https);
    assert_eq!(origin.host.unwrap(), "site.example:8443");
}

#[test]
fn the_runners_forwarded_header_replaces_every_other() {
    let mut request = http::Request::builder()
        .header("forwarded", "for=1.1.1.1")
        .header("x-forwarded-for", "1.1.1.1")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.example")
        .header("x-real-ip", "1.1.1.1")
        .header("accept", "*/*")
        .body(())
        .unwrap();
    let mut origin = Origin {
        client: ip("192.0.2.1"),
        https: false,
        host: None,
    };
    origin.apply(&mut request);
    assert_eq!(request.headers().len(), 2);
    assert_eq!(request.headers()["forwarded"], "for=192.0.2.1;proto=http");
    origin.client = ip("2001:db8::1");
    origin.https = true;
    origin.apply(&mut request);
    let value = request.headers()["forwarded"].to_str().unwrap();
    assert_eq!(value, "for=\"[2001:db8::1]\";proto=https");
    let stanza: ForwardedStanza = value.parse().unwrap();
    assert_eq!(stanza.forwarded_for_ip(), Some(ip("2001:db8::1")));
}

#[test]
fn a_stated_host_becomes_the_requests_host_and_authority() {
    let origin = Origin {
        client: ip("192.0.2.1"),
        https: true,
        host: Some(HeaderValue::from_static("site.example")),
    };
    let mut http1 = http::Request::get("/board?x=1")
        .header("host", "127.0.0.1:8080")
        .body(())
        .unwrap();
    origin.apply(&mut http1);
    assert_eq!(http1.headers()["host"], "site.example");
    assert_eq!(http1.uri(), "/board?x=1");
    let mut http2 = http::Request::get("http://127.0.0.1:8080/board?x=1")
        .body(())
        .unwrap();
    origin.apply(&mut http2);
    assert_eq!(http2.uri().authority().unwrap(), "site.example");
    assert_eq!(http2.uri().path_and_query().unwrap(), "/board?x=1");
}
