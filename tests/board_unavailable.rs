//! A host that cannot give the board its storage: the board answers 503 with
//! `Retry-After` and a short page or JSON error (never a 500), and static
//! files keep serving. On `wasmtime serve` without `/data` (its key-value
//! store has no bucket named `sitebox`), and on the runner whose Redis does
//! not answer (with sitebox.wasm, and with the Spin component).

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{BoardStore, ComponentSource};
use std::net::SocketAddr;
use std::time::Duration;
use support::TestSite;
use support::client::{self, Connection};

async fn assert_board_unavailable_and_files_served(addr: SocketAddr) {
    for target in ["/board", "/api/messages", "/api/messages/1"] {
        let reply = client::get(addr, target).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "GET {target}"
        );
        assert_eq!(reply.header("retry-after"), "5", "GET {target}");
        assert!(
            reply.text().contains("try again"),
            "GET {target}: {}",
            reply.text()
        );
    }
    assert!(
        client::get(addr, "/api/messages")
            .await
            .text()
            .starts_with("{\"error\":")
    );
    let json = [("content-type", "application/json")];
    let created = Connection::open(addr)
        .await
        .send_body(
            Method::POST,
            "/api/messages",
            &json,
            r#"{"text":"hi"}"#.to_owned(),
        )
        .await;
    assert_eq!(created.status, StatusCode::SERVICE_UNAVAILABLE);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let posted = Connection::open(addr)
        .await
        .send_body(Method::POST, "/board", &form, "message=hi".to_owned())
        .await;
    assert_eq!(posted.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(posted.header("content-type"), "text/html; charset=utf-8");
    for target in ["/", "/index.css", "/logo.png"] {
        assert_eq!(
            client::get(addr, target).await.status,
            StatusCode::OK,
            "GET {target}"
        );
    }
    assert_eq!(
        client::get(addr, "/missing").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn wasmtime_serve_without_data_has_no_bucket() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    let Some(addr) =
        support::start_wasmtime_serve_without_data(site, support::embedded_component())
    else {
        return;
    };
    assert_board_unavailable_and_files_served(addr).await;
}

#[tokio::test]
async fn the_runner_with_redis_down() {
    with_redis_down(ComponentSource::Embedded).await;
}

#[tokio::test]
async fn the_spin_component_with_redis_down() {
    with_redis_down(ComponentSource::File(support::spin_component().to_owned())).await;
}

async fn with_redis_down(component: ComponentSource) {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    // Nobody listens there.
    let port = support::redis::free_port();
    let addr = support::start_runner(sitebox_runner::Config {
        store: BoardStore::Redis {
            url: format!("redis://127.0.0.1:{port}/0"),
            timeout: Duration::from_millis(300),
        },
        component,
        ..site.config()
    });
    assert_board_unavailable_and_files_served(addr).await;
    assert!(
        !site.data_dir.exists(),
        "no data directory for a board on Redis"
    );
}
