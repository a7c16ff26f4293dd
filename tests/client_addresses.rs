//! Who the client is: the runner's own `Forwarded` header is the only one
//! the guest sees, a trusted proxy's word names the client, and the write
//! limit counts each client apart (two clients behind one trusted proxy).

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{ComponentSource, Config, ProxyHeader, TrustedProxies, WriteRate};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use support::{TestSite, client};

fn runner(site: &TestSite, trusted: &[&str], write_rate: Option<WriteRate>) -> SocketAddr {
    runner_reading(site, trusted, ProxyHeader::XForwardedFor, write_rate)
}

fn runner_reading(
    site: &TestSite,
    trusted: &[&str],
    header: ProxyHeader,
    write_rate: Option<WriteRate>,
) -> SocketAddr {
    let nets = trusted.iter().map(|net| net.parse().unwrap()).collect();
    let config = Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        trusted_proxies: TrustedProxies::new(nets, header),
        write_rate,
        ..site.config()
    };
    support::start_runner(config)
}

/// The forwarding headers the guest received for a request with `headers`.
async fn guest_sees(addr: SocketAddr, headers: &[(&str, &str)]) -> Vec<String> {
    let reply = client::request(addr, Method::GET, "/headers", headers).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    text.lines()
        .filter(|line| line.starts_with("forwarded") || line.starts_with("x-"))
        .map(str::to_owned)
        .collect()
}

const CLAIMS: &[(&str, &str)] = &[
    ("forwarded", "for=198.51.100.1"),
    ("x-forwarded-for", "198.51.100.2"),
    ("x-forwarded-proto", "https"),
    ("x-real-ip", "198.51.100.3"),
];

#[tokio::test]
async fn an_untrusted_clients_claims_are_dropped() {
    let site = TestSite::bare();
    let addr = runner(&site, &[], None);
    assert_eq!(
        guest_sees(addr, CLAIMS).await,
        ["forwarded: for=127.0.0.1;proto=http"]
    );
    assert_eq!(
        guest_sees(addr, &[]).await,
        ["forwarded: for=127.0.0.1;proto=http"]
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let site = TestSite::bare();
    let addr = runner(&site, &["127.0.0.0/8"], None);
    let forwarded = [("x-forwarded-for", "192.0.2.66, 203.0.113.9")];
    assert_eq!(
        guest_sees(addr, &forwarded).await,
        ["forwarded: for=203.0.113.9;proto=http"]
    );
    // The proxy's scheme is the request's: it terminated TLS.
    let tls = [
        ("x-forwarded-for", "192.0.2.66"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=198.51.100.1"),
    ];
    assert_eq!(
        guest_sees(addr, &tls).await,
        ["forwarded: for=192.0.2.66;proto=https"]
    );
    let addr = runner_reading(&site, &["127.0.0.0/8"], ProxyHeader::Forwarded, None);
    let rfc = [
        ("forwarded", "for=\"[2001:db8::7]:4711\";proto=https"),
        ("x-forwarded-for", "198.51.100.2"),
    ];
    assert_eq!(
        guest_sees(addr, &rfc).await,
        ["forwarded: for=\"[2001:db8::7]\";proto=https"]
    );
}

#[tokio::test]
async fn each_client_behind_a_trusted_proxy_has_its_own_write_limit() {
    let site = TestSite::bare();
    let rate = WriteRate {
        count: NonZeroU32::new(2).unwrap(),
        per: std::time::Duration::from_secs(3600),
        burst: NonZeroU32::new(2).unwrap(),
    };
    let addr = runner(&site, &["127.0.0.1/32"], Some(rate));
    let from = |client: &'static str| [("x-forwarded-for", client)];
    let post = |client: &'static str| async move {
        client::request(addr, Method::POST, "/count", &from(client)).await
    };
    assert_eq!(post("192.0.2.1").await.status, StatusCode::OK);
    assert_eq!(post("192.0.2.1").await.status, StatusCode::OK);
    let refused = post("192.0.2.1").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.header("retry-after").parse().unwrap();
    assert!((1700..=1800).contains(&retry), "{retry}");
    assert!(
        refused.text().contains("Too many changes"),
        "{}",
        refused.text()
    );
    // Another client behind the same proxy still may; reads are not limited.
    assert_eq!(post("192.0.2.2").await.status, StatusCode::OK);
    for _ in 0..5 {
        let read = client::request(addr, Method::GET, "/", &from("192.0.2.1")).await;
        assert_eq!(read.status, StatusCode::OK);
    }
    let delete = client::request(addr, Method::DELETE, "/", &from("192.0.2.1")).await;
    assert_eq!(delete.status, StatusCode::TOO_MANY_REQUESTS);
}
