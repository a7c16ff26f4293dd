//! Connections with no request in flight are closed after `--idle-timeout`:
//! HTTP/2 ones with a GOAWAY (hyper has no idle timeout of its own there),
//! HTTP/1 ones too when the idle timeout is shorter than the header timeout.
//! A request that takes longer than the idle timeout is not cut.

use sitebox_tests as support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sitebox_runner::{ComponentSource, Config, Limits};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{TestSite, client};
use tokio::task::JoinHandle;

const IDLE_TIMEOUT: Duration = Duration::from_millis(1000);

fn runner() -> SocketAddr {
    static RUNNER: OnceLock<(TestSite, SocketAddr)> = OnceLock::new();
    support::runner_once(&RUNNER, TestSite::bare, |defaults| Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        limits: Limits {
            idle_timeout: IDLE_TIMEOUT,
            ..Limits::default()
        },
        ..defaults
    })
}

/// An HTTP/2 (h2c) connection: a sender, and the task that ends when the
/// server closes the connection.
async fn h2c() -> (http2::SendRequest<Empty<Bytes>>, JoinHandle<()>) {
    let stream = tokio::net::TcpStream::connect(runner()).await.unwrap();
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .unwrap();
    let closed = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, closed)
}

async fn get(sender: &mut http2::SendRequest<Empty<Bytes>>, target: &str) -> (StatusCode, Bytes) {
    let uri = format!("http://{}{target}", runner());
    let request = Request::get(uri).body(Empty::new()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// How long until `closed` ends, at most 10 s.
async fn time_until_closed(closed: JoinHandle<()>) -> Duration {
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the server kept the idle connection open")
        .unwrap();
    started.elapsed()
}

fn assert_about_the_idle_timeout(elapsed: Duration) {
    assert!(
        elapsed >= IDLE_TIMEOUT - Duration::from_millis(200)
            && elapsed < IDLE_TIMEOUT + Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let (mut sender, closed) = h2c().await;
    assert_eq!(get(&mut sender, "/").await, (StatusCode::OK, "ok".into()));
    assert_about_the_idle_timeout(time_until_closed(closed).await);
}

#[tokio::test]
async fn an_http2_connection_that_never_sends_a_request_is_closed() {
    let (_sender, closed) = h2c().await;
    assert_about_the_idle_timeout(time_until_closed(closed).await);
}

#[tokio::test]
async fn a_request_longer_than_the_idle_timeout_is_not_cut() {
    let (mut sender, closed) = h2c().await;
    let slow = format!("/sleep?{}", IDLE_TIMEOUT.as_millis() * 2);
    assert_eq!(
        get(&mut sender, &slow).await,
        (StatusCode::OK, "slept".into())
    );
    // The connection's idle time starts when that answer is done.
    assert_about_the_idle_timeout(time_until_closed(closed).await);
}

#[tokio::test]
async fn requests_keep_an_http2_connection_open() {
    let (mut sender, closed) = h2c().await;
    for _ in 0..4 {
        tokio::time::sleep(IDLE_TIMEOUT / 2).await;
        assert_eq!(get(&mut sender, "/").await, (StatusCode::OK, "ok".into()));
    }
    assert!(!closed.is_finished(), "closed while in use");
}

#[tokio::test]
async fn an_idle_http1_connection_is_closed_by_the_shorter_idle_timeout() {
    let mut connection = client::Connection::open(runner()).await;
    assert_eq!(connection.send(Method::GET, "/", &[]).await.text(), "ok");
    let started = Instant::now();
    while !connection.is_closed() {
        assert!(started.elapsed() < Duration::from_secs(10), "still open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_about_the_idle_timeout(started.elapsed());
}
