//! What the runner says about itself: liveness and readiness at their paths,
//! before the site, and not logged; the Prometheus metrics, scraped from
//! their own listener while the faulty test guest traps, spins, and holds
//! the only instance.

use sitebox_tests as support;

use http::StatusCode;
use sitebox_runner::{BoardStore, ComponentSource, Config, Health, Limits, READY_CHECK_EVERY};
use std::net::SocketAddr;
use std::time::Duration;
use support::metrics::sample;
use support::{TestSite, client};

fn start(site: &TestSite, limits: Limits) -> (SocketAddr, SocketAddr) {
    let config = Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        limits,
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..site.config()
    };
    let started = support::start_runner_with(config);
    (
        started.addr,
        started.metrics.expect("metrics were asked for"),
    )
}

/// The series once it reads `want`: an instance's slot is given back when its
/// guest has returned, which may be just after the client read the last byte.
async fn settled(metrics: SocketAddr, series: &str, want: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let value = sample(metrics, series).await;
        if value == want || tokio::time::Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_statuses_bytes_traps_and_timeouts_are_counted() {
    let site = TestSite::bare();
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, metrics) = start(&site, limits);
    for _ in 0..3 {
        assert_eq!(client::get(addr, "/").await.body, "ok");
    }
    assert_eq!(client::get(addr, "/trap").await.status, 500);
    assert_eq!(client::get(addr, "/loop").await.status, 504);
    let post = client::post_form(addr, "/count", "abc").await;
    assert_eq!(post.text(), "3");
    // Probes are not counted (nor logged) unless asked.
    assert_eq!(client::get(addr, "/healthz").await.status, 200);

    let get_ok = r#"sitebox_http_requests_total{method="GET",status="200"}"#;
    assert_eq!(sample(metrics, get_ok).await, 3.0);
    let post_ok = r#"sitebox_http_requests_total{method="POST",status="200"}"#;
    assert_eq!(sample(metrics, post_ok).await, 1.0);
    let failed = r#"sitebox_http_requests_total{method="GET",status="500"}"#;
    assert_eq!(sample(metrics, failed).await, 1.0);
    let timed_out = r#"sitebox_http_requests_total{method="GET",status="504"}"#;
    assert_eq!(sample(metrics, timed_out).await, 1.0);
    assert_eq!(sample(metrics, "sitebox_guest_traps_total").await, 1.0);
    assert_eq!(sample(metrics, "sitebox_guest_timeouts_total").await, 1.0);
    let count = sample(metrics, "sitebox_http_request_duration_seconds_count").await;
    assert_eq!(count, 6.0);
    // 3 × "ok" and "3", plus the runner's own 500 and 504 pages.
    let bytes = sample(metrics, "sitebox_http_response_body_bytes_total").await;
    assert!(bytes > 7.0, "{bytes}");

    // The metrics are not on the public listener: there it is the guest's page.
    assert_eq!(client::get(addr, "/metrics").await.body, "ok");
}

#[tokio::test]
async fn busy_instances_the_queue_and_its_refusals_are_shown() {
    let site = TestSite::bare();
    let limits = Limits {
        max_concurrent: 1,
        max_queue: 1,
        ..Limits::default()
    };
    let (addr, metrics) = start(&site, limits);
    let sleeper = tokio::spawn(client::get(addr, "/sleep?1500"));
    let waiter = {
        // Behind the sleeper, in the queue's one place.
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::spawn(client::get(addr, "/"))
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sample(metrics, "sitebox_instances_busy").await, 1.0);
    assert_eq!(sample(metrics, "sitebox_requests_queued").await, 1.0);
    let refused = client::get(addr, "/").await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    let full = r#"sitebox_busy_refusals_total{reason="queue_full"}"#;
    assert_eq!(sample(metrics, full).await, 1.0);
    assert_eq!(sleeper.await.unwrap().body, "slept");
    assert_eq!(waiter.await.unwrap().body, "ok");
    assert_eq!(settled(metrics, "sitebox_instances_busy", 0.0).await, 0.0);
    assert_eq!(sample(metrics, "sitebox_requests_queued").await, 0.0);
    let unavailable = r#"sitebox_http_requests_total{method="GET",status="503"}"#;
    assert_eq!(sample(metrics, unavailable).await, 1.0);
}

fn health_runner(site: &TestSite, health: Health) -> SocketAddr {
    let config = Config {
        health,
        ..site.config()
    };
    support::start_runner(config)
}

#[tokio::test]
async fn live_and_ready_are_answered_by_the_runner_before_the_site() {
    let site = TestSite::bare();
    site.write("healthz", "the site's own file, shadowed");
    let addr = health_runner(&site, Health::default());
    for (path, text) in [("/healthz", "live\n"), ("/readyz", "ready\n")] {
        let reply = client::get(addr, path).await;
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (StatusCode::OK, text)
        );
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.header("content-type"), "text/plain; charset=utf-8");
        let head = client::head(addr, path).await;
        assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
        let post = client::post_form(addr, path, "x").await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.header("allow"), "GET, HEAD");
    }
    // Only those exact paths: the rest is the site's.
    assert_eq!(client::get(addr, "/healthz/").await.status, 404);
    assert_eq!(client::get(addr, "/").await.text(), "<p>bare</p>");
}

#[tokio::test]
async fn paths_of_ones_choice_and_an_empty_one_turned_off() {
    let site = TestSite::bare();
    site.write("healthz", "the site's healthz");
    let health = Health {
        live_path: None,
        ready_path: Some("/-/ready".to_owned()),
        log: false,
    };
    let addr = health_runner(&site, health);
    assert_eq!(
        client::get(addr, "/healthz").await.text(),
        "the site's healthz"
    );
    assert_eq!(client::get(addr, "/readyz").await.status, 404);
    assert_eq!(client::get(addr, "/-/ready").await.text(), "ready\n");
}

/// Readiness asks the board's store and the component, as a request would.
#[tokio::test]
async fn not_ready_while_the_store_is_gone_or_the_component_fails() {
    let site = TestSite::bare();
    let addr = health_runner(&site, Health::default());
    assert_eq!(client::get(addr, "/readyz").await.status, 200);
    let aside = site.data_dir.with_extension("aside");
    std::fs::rename(&site.data_dir, &aside).unwrap();
    // A finding is the answer for a second.
    tokio::time::sleep(READY_CHECK_EVERY).await;
    let gone = client::get(addr, "/readyz").await;
    assert_eq!(gone.status, StatusCode::SERVICE_UNAVAILABLE);
    // Why is for the log, not for whoever asks: the path is public.
    assert_eq!(gone.text(), "not ready\n");
    // Liveness is not readiness: the process still serves.
    assert_eq!(client::get(addr, "/healthz").await.status, 200);
    std::fs::rename(&aside, &site.data_dir).unwrap();
    tokio::time::sleep(READY_CHECK_EVERY).await;
    assert_eq!(client::get(addr, "/readyz").await.status, 200);

    // A site whose front page fails (a rewrite loop: 500) is not ready.
    let broken = TestSite::bare();
    broken.write("_redirects", "/ /again 200!\n/again / 200!\n");
    let failing = health_runner(&broken, Health::default());
    let reply = client::get(failing, "/readyz").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text()
    );
    assert_eq!(reply.text(), "not ready\n");
}

/// A board on a Redis that is not there: not ready, and each failed call
/// counted as a store error.
#[tokio::test]
async fn a_store_that_does_not_answer_is_counted_and_not_ready() {
    let site = TestSite::bare();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/0", closed.local_addr().unwrap());
    drop(closed);
    let config = Config {
        store: BoardStore::Redis {
            url,
            timeout: Duration::from_millis(300),
        },
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..site.config()
    };
    let started = support::start_runner_with(config);
    let (addr, metrics) = (started.addr, started.metrics.unwrap());
    let before = sample(metrics, "sitebox_board_store_errors_total").await;
    assert_eq!(client::get(addr, "/board").await.status, 503);
    let after = sample(metrics, "sitebox_board_store_errors_total").await;
    assert!(after > before, "{before} -> {after}");
    let ready = client::get(addr, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text(), "not ready\n");
    assert_eq!(sample(metrics, "sitebox_ready").await, 0.0);
    let unreachable = "sitebox_readiness_checks_total{result=\"store_unreachable\"}";
    assert_eq!(sample(metrics, unreachable).await, 1.0);
}

/// The readiness path is public: a flood of probes asks the store and an
/// instance at most once a second, and learns nothing but the finding.
#[tokio::test]
async fn a_flood_of_readiness_probes_checks_once_a_second() {
    let site = TestSite::bare();
    let config = Config {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..site.config()
    };
    let started = support::start_runner_with(config);
    let (addr, metrics) = (started.addr, started.metrics.unwrap());
    let began = std::time::Instant::now();
    let probes = (0..400).map(|_| client::get(addr, "/readyz"));
    let replies = futures::future::join_all(probes).await;
    let seconds = began.elapsed().as_secs_f64();
    assert!(replies.iter().all(|reply| reply.text() == "ready\n"));
    let checks = sample(metrics, "sitebox_readiness_checks_total{result=\"ready\"}").await;
    assert!(
        (1.0..=seconds.ceil() + 1.0).contains(&checks),
        "{checks} checks for 400 probes in {seconds:.1} s"
    );
    assert_eq!(sample(metrics, "sitebox_ready").await, 1.0);
}
