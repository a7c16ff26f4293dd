//! The server's life: a graceful shutdown lets requests in flight finish (up
//! to the grace period) and accepts no more; `--watch` swaps the component
//! without dropping a connection, and keeps the old one when the new file is
//! broken.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{ComponentSource, Config, Limits, Server};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{TestSite, client};
use tokio::sync::oneshot;

/// A faulty-guest server on port 0, running on this test's runtime until
/// the returned sender is used (or dropped).
async fn stoppable(
    site: &TestSite,
    limits: Limits,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let config = Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        limits,
        ..site.config()
    };
    let server = Server::new(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(listener, async {
        let _ = stopped.await;
    }));
    (addr, stop, serving)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_and_accepts_no_more() {
    let site = TestSite::bare();
    let (addr, stop, serving) = stoppable(&site, Limits::default()).await;
    let mut idle = client::Connection::open(addr).await;
    assert_eq!(idle.send(Method::GET, "/", &[]).await.text(), "ok");
    let in_flight = tokio::spawn(client::get(addr, "/sleep?1500"));
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.send(()).unwrap();
    // New connections are refused at once...
    let deadline = Instant::now() + Duration::from_secs(2);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...the request in flight still gets its whole answer...
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "slept");
    // ...then the server returns, having closed the idle connection too.
    serving.await.unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !idle.is_closed() {
        assert!(
            Instant::now() < deadline,
            "the idle connection was left open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_no_longer_than_the_grace_period() {
    let site = TestSite::bare();
    let limits = Limits {
        shutdown_grace: Duration::from_millis(500),
        ..Limits::default()
    };
    let (addr, stop, serving) = stoppable(&site, limits).await;
    let _in_flight = tokio::spawn(client::get(addr, "/sleep?20000"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

/// Replaces `path` in one step, as a build tool writing a new file would.
fn replace(path: &Path, contents: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, contents).unwrap();
    std::fs::rename(&next, path).unwrap();
}

#[tokio::test]
async fn watch_swaps_the_component_without_dropping_connections() {
    let site = TestSite::bare();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("site.wasm");
    std::fs::copy(support::test_guest("faulty"), &wasm).unwrap();
    let config = Config {
        component: ComponentSource::File(wasm.clone()),
        watch: true,
        ..site.config()
    };
    let addr = support::start_runner(config);
    let mut kept = client::Connection::open(addr).await;
    assert_eq!(kept.send(Method::GET, "/", &[]).await.text(), "ok");
    let in_flight = tokio::spawn(client::get(addr, "/sleep?1500"));
    tokio::time::sleep(Duration::from_millis(200)).await;

    replace(
        &wasm,
        &std::fs::read(support::embedded_component()).unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = kept.send(Method::GET, "/", &[]).await;
        if reply.text() == "<p>bare</p>" {
            break;
        }
        assert_eq!(reply.text(), "ok", "the old component until the swap");
        assert!(Instant::now() < deadline, "the new component never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.text(), "slept", "finished on the old component");

    // A broken file is not loaded: the working component stays.
    replace(&wasm, b"not a component");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let reply = kept.send(Method::GET, "/", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "<p>bare</p>");
    assert!(!kept.is_closed());
}
