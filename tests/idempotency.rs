//! Idempotent posts over real HTTP (issue 30): a form sent twice and an API
//! post repeated with its `Idempotency-Key` store one message and answer the
//! first result, on files (the runner, `wasmtime serve`) and on Redis; and a
//! post whose write landed on Redis but was answered after the runner's
//! timeout (a 503) is answered by its retry instead of being stored twice.

use sitebox_tests as support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use sitebox_runner::BoardStore;
use std::net::SocketAddr;
use std::time::Duration;
use support::Server;
use support::client::{self, Connection, Reply};
use support::fault_proxy::FaultProxy;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

async fn post_with_key(addr: SocketAddr, key: &str, text: &str) -> Reply {
    let headers = [JSON, ("idempotency-key", key)];
    Connection::open(addr)
        .await
        .send_body(
            Method::POST,
            "/api/messages",
            &headers,
            json!({ "text": text }).to_string(),
        )
        .await
}

/// The token of the form on the board page, as a browser sends it back.
async fn form_token(addr: SocketAddr) -> String {
    let page = client::get(addr, "/board").await.text();
    let start = page.find("name=\"token\" value=\"").expect("a token") + 20;
    page[start..start + 32].to_owned()
}

async fn post_form(addr: SocketAddr, text: &str, token: &str) -> Reply {
    let body = format!("message={}&token={token}", text.replace(' ', "+"));
    Connection::open(addr)
        .await
        .send_body(Method::POST, "/board", &[FORM], body)
        .await
}

/// The board's messages, oldest first.
async fn messages(addr: SocketAddr) -> Vec<Value> {
    let reply = client::get(addr, "/api/messages?limit=200").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json().as_array().unwrap().clone()
}

async fn texts(addr: SocketAddr) -> Vec<String> {
    let messages = messages(addr).await;
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_repeated_api_post_answers_the_first_201(server: &Server) {
    let key = "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"";
    let first = post_with_key(server.addr, key, "once").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    for _ in 0..3 {
        let again = post_with_key(server.addr, key, "once").await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(again.json(), first.json(), "the same id and time");
    }
    assert_eq!(texts(server.addr).await, ["once"]);
    // The same key with another text is refused; a bad key is a 400.
    let reused = post_with_key(server.addr, key, "twice").await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reused.json()["error"].is_string());
    for bad in ["unquoted", "\"\"", &format!("\"{}\"", "k".repeat(256))] {
        let reply = post_with_key(server.addr, bad, "bad key").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Keys are per submission: another key posts again.
    let other = post_with_key(server.addr, "\"another\"", "once").await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.json()["id"], first.json()["id"]);
    assert_eq!(texts(server.addr).await, ["once", "once"]);
}

async fn a_form_sent_twice_posts_once(server: &Server) {
    let token = form_token(server.addr).await;
    for _ in 0..3 {
        let reply = post_form(server.addr, "sent twice", &token).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        assert_eq!(reply.header("location"), "/board");
    }
    assert_eq!(texts(server.addr).await, ["sent twice"]);
    // A new page has a new token; a form without one posts as before.
    let next = form_token(server.addr).await;
    assert_ne!(next, token);
    assert_eq!(
        post_form(server.addr, "sent twice", &next).await.status,
        StatusCode::SEE_OTHER
    );
    let plain = client::post_form(server.addr, "/board", "message=no+token").await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    assert_eq!(
        texts(server.addr).await,
        ["sent twice", "sent twice", "no token"]
    );
    // The token with another text: the board again, the text kept, with a
    // new token.
    let changed = post_form(server.addr, "changed", &token).await;
    assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(changed.text().contains(">changed</textarea>"));
    assert!(!changed.text().contains(&token));
    assert_eq!(texts(server.addr).await.len(), 3);
}

/// A clear hides a keyed message, and its retry does not bring it back.
async fn a_retry_after_a_clear_stores_nothing(server: &Server) {
    let first = post_with_key(server.addr, "\"before the clear\"", "gone").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let (name, login) = support::admin_login();
    let cleared = client::request(
        server.addr,
        Method::DELETE,
        "/api/messages",
        &[(name, &login)],
    )
    .await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    let late = post_with_key(server.addr, "\"before the clear\"", "gone").await;
    assert_eq!(late.status, StatusCode::CREATED);
    assert_eq!(late.json(), first.json());
    assert!(texts(server.addr).await.is_empty());
}

support::on_each_backend!(
    fresh_server =>
    a_repeated_api_post_answers_the_first_201,
    a_form_sent_twice_posts_once,
    a_retry_after_a_clear_stores_nothing,
);

/// The runner on the shared Redis through a `FaultProxy`, with a short
/// `--store-timeout`; `None` when `redis-server` is not installed. The
/// proxy owns a runtime, which may be neither started nor dropped inside
/// another: these tests run their client on a runtime of their own, in
/// `block_on`, so that a failing one still drops the proxy outside it.
fn runner_behind_a_proxy() -> Option<(SocketAddr, FaultProxy)> {
    let port = support::shared_redis()?;
    let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], port)));
    let site: &'static support::TestSite = Box::leak(Box::new(support::TestSite::new()));
    let mut config = site.config();
    config.store = BoardStore::Redis {
        url: proxy.redis_url(0),
        timeout: TIMEOUT,
    };
    config.site.bucket = support::new_bucket();
    Some((support::start_runner(config), proxy))
}

fn block_on<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(test)
}

/// The runner's `--store-timeout` here, and how late Redis's answer to the
/// message's `SET` comes: after the timeout, so the post answers 503 though
/// the write landed.
const TIMEOUT: Duration = Duration::from_millis(500);
const LATE: Duration = Duration::from_millis(1500);

/// Makes the next post's message write land and its answer come late, sends
/// it with `send` (a 503), waits for the late answer to pass, then sends it
/// again: the retry's reply.
async fn post_landed_but_answered_late<F, R>(proxy: &FaultProxy, send: F) -> Reply
where
    F: Fn() -> R,
    R: std::future::Future<Output = Reply>,
{
    proxy.delay_replies_from(b"board.message.", LATE);
    let first = send().await;
    assert_eq!(
        first.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the first attempt times out: {}",
        first.text()
    );
    proxy.delay_replies(Duration::ZERO);
    tokio::time::sleep(LATE + Duration::from_millis(500)).await;
    send().await
}

#[test]
fn an_api_post_answered_503_after_its_write_landed_is_stored_once() {
    let Some((addr, proxy)) = runner_behind_a_proxy() else {
        return;
    };
    block_on(async {
        let key = "\"retry-after-503\"";
        let send = || post_with_key(addr, key, "landed");
        let retry = post_landed_but_answered_late(&proxy, send).await;
        assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text());
        let stored = messages(addr).await;
        assert_eq!(stored.len(), 1, "stored once: {stored:?}");
        assert_eq!(
            retry.json(),
            stored[0],
            "the retry answers the landed message"
        );
        assert_eq!(
            retry.header("location"),
            format!("/api/messages/{}", stored[0]["id"])
        );
    });
}

#[test]
fn a_form_answered_503_after_its_write_landed_is_stored_once() {
    let Some((addr, proxy)) = runner_behind_a_proxy() else {
        return;
    };
    block_on(async {
        let token = form_token(addr).await;
        let send = || post_form(addr, "landed", &token);
        let retry = post_landed_but_answered_late(&proxy, send).await;
        assert_eq!(retry.status, StatusCode::SEE_OTHER, "{}", retry.text());
        assert_eq!(retry.header("location"), "/board");
        assert_eq!(texts(addr).await, ["landed"], "stored once");
    });
}
