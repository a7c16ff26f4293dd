//! Behind a reverse proxy that terminates TLS — real nginx and HAProxy from
//! Debian, as their documentation sets them up — the board works as it does
//! on the runner's own port: a browser at `https://…` posts the form (303),
//! the API creates (201), the admin clears (204). The scheme the client used
//! is the one the trusted proxy states (`X-Forwarded-Proto`, or `proto=` in
//! `Forwarded`); from any other peer such a statement is not believed, and
//! the board keeps refusing what looks cross-site to it (403).

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{Config, ProxyHeader, TrustedProxies};
use std::net::SocketAddr;
use support::TestSite;
use support::client::{self, Reply};
use support::proxy::{Kind, PROXY_ADDR, Proxy};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

/// A runner with the board on files that trusts `trusted` to say what
/// `header` says.
fn runner(site: &TestSite, trusted: &str, header: ProxyHeader) -> SocketAddr {
    let config = Config {
        trusted_proxies: TrustedProxies::new(vec![trusted.parse().unwrap()], header),
        ..site.config()
    };
    support::start_runner(config)
}

/// The board's three writes through `proxy`, as a browser (and an API client
/// in it) at the proxy's https origin makes them.
async fn writes_through(proxy: &Proxy) -> [Reply; 3] {
    let origin = proxy.origin();
    let browser = [
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let form = proxy
        .request(
            Method::POST,
            "/board",
            &[FORM, browser[0], browser[1]],
            "message=via+form",
        )
        .await;
    let api = proxy
        .request(
            Method::POST,
            "/api/messages",
            &[JSON, browser[0]],
            r#"{"text":"via api"}"#,
        )
        .await;
    let (name, login) = support::admin_login();
    let clear = proxy
        .request(
            Method::DELETE,
            "/api/messages",
            &[browser[0], (name, login.as_str())],
            "",
        )
        .await;
    [form, api, clear]
}

async fn the_board_works_behind(kind: Kind, header: ProxyHeader) {
    let site = TestSite::new();
    let addr = runner(&site, &format!("{PROXY_ADDR}/32"), header);
    let Some(proxy) = Proxy::start(kind, addr) else {
        return;
    };
    let [form, api, clear] = writes_through(&proxy).await;
    assert_eq!(
        form.status,
        StatusCode::SEE_OTHER,
        "{kind:?} form: {}",
        form.text()
    );
    assert_eq!(form.header("location"), "/board");
    assert_eq!(
        api.status,
        StatusCode::CREATED,
        "{kind:?} API: {}",
        api.text()
    );
    assert_eq!(api.json()["text"], "via api");
    assert_eq!(
        clear.status,
        StatusCode::NO_CONTENT,
        "{kind:?} clear: {}",
        clear.text()
    );
    let board = proxy.request(Method::GET, "/api/messages", &[], "").await;
    assert_eq!(board.json(), serde_json::json!([]), "{kind:?}");
}

#[tokio::test]
async fn the_board_works_behind_nginx_terminating_tls() {
    the_board_works_behind(Kind::Nginx, ProxyHeader::XForwardedFor).await;
}

#[tokio::test]
async fn the_board_works_behind_nginx_writing_forwarded() {
    the_board_works_behind(Kind::NginxForwarded, ProxyHeader::Forwarded).await;
}

#[tokio::test]
async fn the_board_works_behind_haproxy_terminating_tls() {
    the_board_works_behind(Kind::Haproxy, ProxyHeader::XForwardedFor).await;
}

/// A runner that does not trust the proxy does not take its word for the
/// scheme: the browser's https origin is another site to it.
#[tokio::test]
async fn an_untrusted_proxys_scheme_is_not_believed() {
    let site = TestSite::new();
    let addr = runner(&site, "10.0.0.0/8", ProxyHeader::XForwardedFor);
    let Some(proxy) = Proxy::start(Kind::Nginx, addr) else {
        return;
    };
    for reply in writes_through(&proxy).await {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    }
}

/// Nor does a client that talks to the runner itself, past the proxy.
#[tokio::test]
async fn a_direct_client_cannot_claim_https() {
    let site = TestSite::new();
    let addr = runner(
        &site,
        &format!("{PROXY_ADDR}/32"),
        ProxyHeader::XForwardedFor,
    );
    let post = |origin: String, claims: &'static [(&'static str, &'static str)]| async move {
        let mut headers = vec![FORM, ("origin", origin.as_str())];
        headers.extend_from_slice(claims);
        client::Connection::open(addr)
            .await
            .send_body(Method::POST, "/board", &headers, "message=direct")
            .await
    };
    let claims = &[
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=192.0.2.1;proto=https"),
    ];
    let claimed = post(format!("https://{addr}"), claims).await;
    assert_eq!(claimed.status, StatusCode::FORBIDDEN);
    let honest = post(format!("http://{addr}"), &[]).await;
    assert_eq!(honest.status, StatusCode::SEE_OTHER);
}
