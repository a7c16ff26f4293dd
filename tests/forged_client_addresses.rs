//! Behind real proxies that append to `X-Forwarded-For` (nginx's
//! `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor`) and pass a
//! client's own `Forwarded` through untouched, a client cannot choose its
//! address: the runner reads only the header its proxies write
//! (`--proxy-header`), walked back from the proxy, so forged hops are never
//! reached and `--write-rate` counts the client as the proxy saw it.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{ComponentSource, Config, ProxyHeader, TrustedProxies, WriteRate};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use support::TestSite;
use support::proxy::{Kind, PROXY_ADDR, Proxy};

fn trusting_the_proxy(site: &TestSite, header: ProxyHeader) -> Config {
    let proxy = format!("{PROXY_ADDR}/32").parse().unwrap();
    Config {
        trusted_proxies: TrustedProxies::new(vec![proxy], header),
        ..site.config()
    }
}

/// What a client puts in its request to pass for `n` different clients.
fn forgeries(n: u8) -> [(&'static str, String); 3] {
    [
        ("forwarded", format!("for=198.51.100.{n};proto=https")),
        ("x-forwarded-for", format!("198.51.100.{n}")),
        ("x-real-ip", format!("198.51.100.{n}")),
    ]
}

async fn forgeries_do_not_evade_the_write_limit(kind: Kind) {
    let site = TestSite::new();
    let one_a_minute = WriteRate {
        count: NonZeroU32::MIN,
        per: std::time::Duration::from_secs(60),
        burst: NonZeroU32::MIN,
    };
    let config = Config {
        write_rate: Some(one_a_minute),
        ..trusting_the_proxy(&site, ProxyHeader::XForwardedFor)
    };
    let addr = support::start_runner(config);
    let Some(proxy) = Proxy::start(kind, addr) else {
        return;
    };
    let mut statuses = Vec::new();
    for n in 1..=5 {
        let forged = forgeries(n);
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(forged.iter().map(|(name, value)| (*name, value.as_str())));
        let reply = proxy
            .request(Method::POST, "/api/messages", &headers, r#"{"text":"hi"}"#)
            .await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [201, 429, 429, 429, 429], "{kind:?}");
}

#[tokio::test]
async fn forgeries_do_not_evade_the_write_limit_behind_nginx() {
    forgeries_do_not_evade_the_write_limit(Kind::Nginx).await;
}

#[tokio::test]
async fn forgeries_do_not_evade_the_write_limit_behind_haproxy() {
    forgeries_do_not_evade_the_write_limit(Kind::Haproxy).await;
}

/// The `Forwarded` header the guest receives for a forged request through
/// `kind`, read by the runner as `header`.
async fn guest_sees(kind: Kind, header: ProxyHeader) -> Option<String> {
    let site = TestSite::bare();
    let config = Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        ..trusting_the_proxy(&site, header)
    };
    let addr: SocketAddr = support::start_runner(config);
    let proxy = Proxy::start(kind, addr)?;
    let forged = forgeries(7);
    let headers: Vec<_> = forged.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let reply = proxy.request(Method::GET, "/headers", &headers, "").await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    let forwarding: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("forwarded") || line.starts_with("x-"))
        .collect();
    Some(forwarding.join("\n"))
}

#[tokio::test]
async fn the_guest_hears_of_the_client_the_proxy_saw() {
    // The test client connects from 127.0.0.1, over TLS.
    let expected = "forwarded: for=127.0.0.1;proto=https";
    for (kind, header) in [
        (Kind::Nginx, ProxyHeader::XForwardedFor),
        (Kind::Haproxy, ProxyHeader::XForwardedFor),
        (Kind::NginxForwarded, ProxyHeader::Forwarded),
    ] {
        if let Some(seen) = guest_sees(kind, header).await {
            assert_eq!(seen, expected, "{kind:?}");
        }
    }
}
