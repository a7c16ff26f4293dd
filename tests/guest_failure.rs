//! A guest that traps answers that request with 500 and nothing else breaks:
//! the next request, on the same connection or another, is served.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{ComponentSource, Config};
use std::net::SocketAddr;
use std::sync::OnceLock;
use support::{TestSite, client};

fn faulty_runner() -> SocketAddr {
    static RUNNER: OnceLock<(TestSite, SocketAddr)> = OnceLock::new();
    support::runner_once(&RUNNER, TestSite::bare, |defaults| Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        max_instance_memory: 16 << 20,
        ..defaults
    })
}

#[tokio::test]
async fn a_trap_before_the_response_is_a_500() {
    let mut connection = client::Connection::open(faulty_runner()).await;
    let reply = connection.send(Method::GET, "/trap", &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    assert!(reply.text().contains("500"));
    let reply = connection.send(Method::GET, "/", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "ok");
}

#[tokio::test]
async fn running_out_of_memory_is_a_500() {
    let reply = client::get(faulty_runner(), "/alloc").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(client::get(faulty_runner(), "/").await.text(), "ok");
}

/// Once the guest has sent its headers a 500 is impossible: the connection is
/// cut, so the client never mistakes a short body for the whole response.
#[tokio::test]
async fn a_trap_mid_body_aborts_the_connection() {
    let addr = faulty_runner();
    let reply = client::raw_bytes(addr, "GET /trap-mid-body HTTP/1.1\r\nHost: test");
    let text = String::from_utf8_lossy(&reply);
    if let Some((head, body)) = text.split_once("\r\n\r\n") {
        assert!(
            head.to_ascii_lowercase().contains("content-length: 1000"),
            "{head}"
        );
        assert!(body.len() < 1000, "the body was cut short, not completed");
    }
    assert_eq!(client::get(addr, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn many_failures_in_parallel_leave_the_server_serving() {
    let addr = faulty_runner();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let target = if i % 2 == 0 { "/trap" } else { "/" };
        tasks.spawn(async move { (target, client::get(addr, target).await.status) });
    }
    while let Some(result) = tasks.join_next().await {
        let (target, status) = result.unwrap();
        let expected = if target == "/trap" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "{target}");
    }
}
