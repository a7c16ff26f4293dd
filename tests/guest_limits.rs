//! The runner's limits on guests and request bodies, proven with the faulty
//! test guest: a guest that spins is stopped (504) while others are served,
//! request bodies over the limit are a 413 from the host, and a burst waits in
//! the queue until only a burst beyond it gets 503 with Retry-After.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{ComponentSource, Config, Limits};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{TestSite, client};

fn faulty_runner(limits: Limits) -> SocketAddr {
    static SITE: OnceLock<TestSite> = OnceLock::new();
    let site = SITE.get_or_init(TestSite::bare);
    let config = Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        limits,
        ..site.config()
    };
    support::start_runner(config)
}

fn with_timeout(request_timeout: Duration) -> Limits {
    Limits {
        request_timeout,
        ..Limits::default()
    }
}

fn with_max_body(max_body: u64) -> Limits {
    Limits {
        max_body,
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_guest_that_spins_is_stopped_with_504_while_others_are_served() {
    let addr = faulty_runner(with_timeout(Duration::from_secs(3)));
    let started = Instant::now();
    let spinning = tokio::spawn(client::get(addr, "/loop"));
    // Both of the machine's cores may be spinning guests: the others still
    // get their turn at every epoch tick.
    let also_spinning = tokio::spawn(client::get(addr, "/loop"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..20 {
        let reply = client::get(addr, "/").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), "ok");
    }
    let fast = started.elapsed();
    assert!(
        !spinning.is_finished(),
        "the fast requests were all answered while the guests spun ({fast:?})"
    );
    for reply in [spinning.await.unwrap(), also_spinning.await.unwrap()] {
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
        assert!(reply.text().contains("took too long"), "{}", reply.text());
    }
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(client::get(addr, "/").await.text(), "ok");
}

/// After its headers a guest must keep sending: one that stops is cut off,
/// so the client sees a short body, never a complete-looking one.
#[tokio::test]
async fn a_guest_that_spins_mid_body_gets_its_connection_cut() {
    let addr = faulty_runner(with_timeout(Duration::from_secs(1)));
    let reply = tokio::task::spawn_blocking(move || {
        client::raw_bytes(addr, "GET /loop-mid-body HTTP/1.1\r\nHost: test")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").expect("the headers were sent");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-length: 1000"));
    assert!(body.len() < 1000, "the body was cut short");
    assert_eq!(client::get(addr, "/").await.text(), "ok");
}

/// A slow guest that keeps within the timeout is not disturbed.
#[tokio::test]
async fn a_guest_within_its_timeout_answers() {
    let addr = faulty_runner(with_timeout(Duration::from_secs(2)));
    let reply = client::get(addr, "/sleep?500").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "slept");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_a_413_from_the_host() {
    let addr = faulty_runner(with_max_body(1000));
    let mut connection = client::Connection::open(addr).await;
    let reply = connection
        .send_body(Method::POST, "/count", &[], vec![b'x'; 1000])
        .await;
    assert_eq!(reply.text(), "1000", "a body at the limit passes");
    let reply = client::Connection::open(addr)
        .await
        .send_body(Method::POST, "/count", &[], vec![b'x'; 1001])
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.text().contains("1000 bytes"), "{}", reply.text());
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_413_before_it_is_all_read() {
    let addr = faulty_runner(with_max_body(1000));
    // 1,500 bytes in three chunks, and then the body never ends: only a
    // host that stops at the limit can answer.
    let reply = tokio::task::spawn_blocking(move || {
        let head = "POST /count HTTP/1.1\r\nHost: test";
        client::unfinished_chunked(addr, head, &[&[b'y'; 500][..]; 3])
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
}

#[tokio::test]
async fn a_burst_waits_in_the_queue_and_only_beyond_it_gets_503() {
    let limits = Limits {
        max_concurrent: 2,
        max_queue: 4,
        ..Limits::default()
    };
    let addr = faulty_runner(limits);
    let burst = |size: usize| async move {
        let requests: Vec<_> = (0..size)
            .map(|_| tokio::spawn(client::get(addr, "/sleep?400")))
            .collect();
        let mut replies = Vec::new();
        for request in requests {
            replies.push(request.await.unwrap());
        }
        replies
    };
    // Two running and four queued: all six are served, none refused.
    let replies = burst(6).await;
    assert!(replies.iter().all(|reply| reply.status == StatusCode::OK));

    // Twenty at once: the six that fit are served, the rest told to retry.
    let replies = burst(20).await;
    let served = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(served + refused.len(), 20);
    assert!(served >= 6, "{served} served");
    assert!(refused.len() >= 10, "{} refused", refused.len());
    for reply in refused {
        assert_eq!(reply.header("retry-after"), "1");
    }
    assert_eq!(client::get(addr, "/").await.text(), "ok");
}
