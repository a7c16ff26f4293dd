//! The guest's heap is sound with wasi-libc: a test guest on sitebox's own
//! arena (`tests/guests/heap`, linked as the component is) takes the libc
//! paths that free what the host passed in — `std::env`, `std::fs` on a
//! preopen — and receives large host strings, then checks its heap. Without
//! the arena's `free`/`realloc` wrappers the first two trap in dlmalloc.

use sitebox_tests as support;

use http::StatusCode;
use sitebox_runner::{ComponentSource, Config};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use support::{TestSite, client};

fn guest() -> &'static PathBuf {
    static GUEST: OnceLock<PathBuf> = OnceLock::new();
    GUEST.get_or_init(|| support::test_guest("heap"))
}

fn site() -> TestSite {
    let site = TestSite::bare();
    site.write("a.txt", "aaaa");
    site.write("b.txt", "b".repeat(100_000));
    site
}

fn runner() -> SocketAddr {
    static RUNNER: OnceLock<(TestSite, SocketAddr)> = OnceLock::new();
    support::runner_once(&RUNNER, site, |defaults| Config {
        component: ComponentSource::File(guest().clone()),
        ..defaults
    })
}

fn wasmtime_serve() -> Option<SocketAddr> {
    static SERVE: OnceLock<(TestSite, Option<SocketAddr>)> = OnceLock::new();
    let (_, addr) = SERVE.get_or_init(|| {
        let site = site();
        let addr = support::start_wasmtime_serve(&site, guest());
        (site, addr)
    });
    *addr
}

/// The servers the guest runs on here: the runner, and `wasmtime serve`
/// when it is installed.
fn servers() -> Vec<SocketAddr> {
    [Some(runner()), wasmtime_serve()]
        .into_iter()
        .flatten()
        .collect()
}

async fn answer(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> String {
    let reply = client::request(addr, http::Method::GET, target, headers).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{target} on {addr}: {}",
        reply.text()
    );
    reply.text()
}

#[tokio::test]
async fn the_environment_read_through_libc() {
    for addr in servers() {
        // The runner and the fixture's `wasmtime serve` both pass the site
        // settings as the environment.
        let text = answer(addr, "/env?SITEBOX_MAX_AGE", &[]).await;
        assert_eq!(text, "3600\nheap ok");
        let again = answer(addr, "/env?NO_SUCH_VARIABLE", &[]).await;
        assert_eq!(again, "(environment variable not found)\nheap ok");
    }
}

#[tokio::test]
async fn a_preopened_directory_read_through_libc() {
    for addr in servers() {
        let text = answer(addr, "/dir?/static", &[]).await;
        assert_eq!(text, "a.txt,b.txt,index.html 100015\nheap ok");
    }
}

#[tokio::test]
async fn large_host_strings_land_on_the_heap() {
    let big = "x".repeat(60_000);
    for addr in servers() {
        for _ in 0..3 {
            let text = answer(addr, "/headers", &[("x-big", &big), ("x-small", "y")]).await;
            let (total, heap) = text.split_once('\n').unwrap();
            assert!(total.parse::<usize>().unwrap() > 60_000, "{text}");
            assert_eq!(heap, "heap ok");
        }
    }
}
