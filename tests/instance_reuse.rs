//! Instances the runner keeps for more than one request
//! (`--reuse-instances`, and `--instance-concurrency` for the wasi:http 0.3
//! component): with few instance slots and instances that end often, every
//! request under load is answered. An instance's slot is given back only
//! once its store is gone; the other way round, a new instance in that slot
//! found the pooling allocator full and answered 500 (2,093 of 73,676 under
//! `wrk -c64` with `--max-concurrent 2`).

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{Config, Limits};
use std::net::SocketAddr;
use support::client::Connection;

/// Keep-alive connections at once, and requests on each.
const CONNECTIONS: usize = 16;
const REQUESTS_EACH: usize = 50;

/// Every request of `CONNECTIONS` connections at once: how many were not 200.
async fn failures_under_load(addr: SocketAddr) -> usize {
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await;
                let mut failed = 0;
                for _ in 0..REQUESTS_EACH {
                    let reply = connection.send(Method::GET, "/hello.txt", &[]).await;
                    if reply.status != StatusCode::OK {
                        eprintln!("{}: {}", reply.status, reply.text());
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for client in clients {
        failed += client.await.unwrap();
    }
    failed
}

/// Two instance slots; each instance serves `reuse` requests, `per_instance`
/// at once, then ends.
fn config(site: &support::TestSite, reuse: u32, per_instance: u32) -> Config {
    Config {
        reuse_instances: reuse,
        instance_concurrency: per_instance,
        limits: Limits {
            max_concurrent: 2,
            ..Limits::default()
        },
        ..site.config()
    }
}

fn site() -> support::TestSite {
    let site = support::TestSite::new();
    site.write("hello.txt", "hello\n");
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_0_2_instances_ending_often_never_fail_a_request() {
    let site = site();
    let addr = support::start_runner(config(&site, 3, 1));
    assert_eq!(failures_under_load(addr).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_0_3_instances_ending_often_never_fail_a_request() {
    let site = site();
    let addr = support::start_runner(support::with_p3_alone(config(&site, 4, 4)));
    assert_eq!(failures_under_load(addr).await, 0);
}
