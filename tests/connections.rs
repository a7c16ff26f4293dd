//! What a client can do to a connection: be slow with its headers (slowloris),
//! sit idle, say nothing, or send garbage. The runner closes such connections
//! on time and keeps answering everyone else. (slowhttptest's attacks are
//! `slow_clients.rs`'s.)

use sitebox_tests as support;

use http::StatusCode;
use sitebox_runner::{Config, Limits};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{TestSite, client};

const HEADER_TIMEOUT: Duration = Duration::from_millis(1500);

fn runner() -> SocketAddr {
    static RUNNER: OnceLock<(TestSite, SocketAddr)> = OnceLock::new();
    support::runner_once(&RUNNER, TestSite::new, |defaults| Config {
        limits: Limits {
            header_timeout: HEADER_TIMEOUT,
            ..Limits::default()
        },
        ..defaults
    })
}

/// Reads until the server closes the connection; how long that took.
fn time_until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

fn assert_closed_on_time(elapsed: Duration) {
    assert!(
        elapsed >= HEADER_TIMEOUT - Duration::from_millis(200)
            && elapsed < HEADER_TIMEOUT + Duration::from_secs(5),
        "closed after {elapsed:?}"
    );
}

#[test]
fn headers_sent_too_slowly_close_the_connection() {
    let mut stream = TcpStream::connect(runner()).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert_closed_on_time(time_until_closed(&mut stream));
}

#[test]
fn a_connection_that_says_nothing_is_closed() {
    let mut stream = TcpStream::connect(runner()).unwrap();
    assert_closed_on_time(time_until_closed(&mut stream));
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let mut stream = TcpStream::connect(runner()).unwrap();
    stream
        .write_all(b"GET /index.css HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = [0; 4096];
    let n = stream.read(&mut response).unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 200"));
    assert_closed_on_time(time_until_closed(&mut stream));
}

#[test]
fn a_malformed_request_is_a_400_and_the_connection_closes() {
    let addr = runner();
    for garbage in [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(garbage.as_bytes()).unwrap();
        let mut reply = Vec::new();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.read_to_end(&mut reply).unwrap();
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 400"), "{garbage:?}: {reply}");
    }
    let reply = client::raw(addr, "GET /index.css HTTP/1.1\r\nHost: x");
    assert_eq!(reply.0, 200);
}

/// A normal client gets its answer within a second.
async fn assert_answers_at_once(addr: SocketAddr) {
    let started = Instant::now();
    let reply = client::get(addr, "/index.css").await;
    assert_eq!(reply.status, StatusCode::OK);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// A thousand slowloris connections, each trickling a header line now and
/// then, leave the server answering a normal client at once.
#[tokio::test]
async fn a_thousand_slow_clients_do_not_starve_a_normal_one() {
    rlimit::increase_nofile_limit(8192).unwrap();
    let addr = runner();
    let mut slow = Vec::new();
    for _ in 0..1000 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::AsyncWriteExt;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    for round in 0..3 {
        for stream in &mut slow {
            use tokio::io::AsyncWriteExt;
            let _ = stream
                .write_all(format!("X-Slow-{round}: 1\r\n").as_bytes())
                .await;
        }
        assert_answers_at_once(addr).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
