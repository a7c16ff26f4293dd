//! Requests that share an instance of the wasi:http 0.3 component.
//! `wasmtime serve` runs up to 16 at once in one instance and reuses it for
//! 128 (a 0.2 component gets a fresh instance per request); the runner does
//! the same with `--instance-concurrency 16 --reuse-instances 128`. Requests
//! in an instance at the same time each keep their own data, and on the
//! runner each keeps its own deadline: a guest that spins, traps or is not
//! read fails the requests of its own instance only (issue 34).

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::{ComponentSource, Config, Limits};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::metrics::sample;
use support::{TestSite, client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A body that waits in its instance for its second half.
const SLOW_BODY: usize = 200 << 10;

/// The requests `exercise` makes.
const EXERCISE_REQUESTS: usize = 37;

/// Posts `body` (a form) to `target` in two halves, `pause` apart, and
/// returns the whole reply.
async fn post_in_two_halves(addr: SocketAddr, target: &str, body: &str, pause: Duration) -> String {
    let (first, second) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    stream.write_all(second.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
}

/// Posts `message=<text>` to the board in two halves, `pause` apart, and
/// returns the answer's status line.
async fn post_message(addr: SocketAddr, text: &str, pause: Duration) -> String {
    let reply = post_in_two_halves(addr, "/board", &format!("message={text}"), pause).await;
    reply.lines().next().unwrap_or_default().to_owned()
}

/// The faulty guest's `/count` of a body of `len` bytes sent in two halves,
/// `pause` apart: the reply's status line and body. Only a body whose first
/// half is over the runner's read-ahead (64 KiB) is in its instance before
/// it is all there (`SLOW_BODY`).
async fn count_slowly(addr: SocketAddr, len: usize, pause: Duration) -> (String, String) {
    let reply = post_in_two_halves(addr, "/count", &"x".repeat(len), pause).await;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// A site of eight files of different lengths.
fn site_of_files() -> TestSite {
    let site = TestSite::new();
    for n in 0..8 {
        site.write(
            &format!("file-{n}.txt"),
            format!("the contents of file {n}\n").repeat(n + 1),
        );
    }
    site
}

/// Four posts, one of them slow, and 32 reads of the eight files at once:
/// each answer is its own, and the board holds exactly the four posts
/// (`EXERCISE_REQUESTS` requests, the board's read included).
async fn exercise(addr: SocketAddr) {
    // A's body arrives in two halves; B, C and D come and go in between.
    let a = tokio::spawn(post_message(addr, "from-a", Duration::from_millis(500)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let others: Vec<_> = ["from-b", "from-c", "from-d"]
        .into_iter()
        .map(|text| tokio::spawn(post_message(addr, text, Duration::ZERO)))
        .collect();
    for other in others {
        assert!(other.await.unwrap().starts_with("HTTP/1.1 303"));
    }
    let reads: Vec<_> = (0..32)
        .map(|i| {
            tokio::spawn(async move {
                let n = i % 8;
                let reply = client::get(addr, &format!("/file-{n}.txt")).await;
                assert_eq!(
                    reply.text(),
                    format!("the contents of file {n}\n").repeat(n + 1)
                );
            })
        })
        .collect();
    for read in reads {
        read.await.unwrap();
    }
    assert!(a.await.unwrap().starts_with("HTTP/1.1 303"));
    let mut shown = support::board::shown(addr).await;
    shown.sort();
    assert_eq!(shown, ["from-a", "from-b", "from-c", "from-d"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_wasmtime_serve_requests_sharing_an_instance_keep_their_own_data() {
    let site = site_of_files();
    // A setting the component cannot read: it warns once per request, and
    // `wasmtime serve` prefixes the line with the instance's number.
    let Some((addr, log)) = support::start_wasmtime_serve_logged(
        &site,
        support::p3_component(),
        &[("SITEBOX_HOST_COMPRESSION", "not-a-coding")],
    ) else {
        return;
    };
    exercise(addr).await;

    // Every request above warned once, its line prefixed with its
    // instance's number; the component writes nothing else. Lines of
    // instances running at once may interleave (`stderr [3] :: stderr [4]
    // :: sitebox: …`), so the prefixes are counted wherever they are.
    let mut prefixes = Vec::new();
    for _ in 0..50 {
        let text = log.lines().join("\n");
        prefixes = text
            .split("stderr [")
            .skip(1)
            .filter_map(|rest| rest.split_once("] :: "))
            .map(|(instance, _)| instance.to_owned())
            .collect();
        if prefixes.len() >= EXERCISE_REQUESTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let instances: BTreeSet<&String> = prefixes.iter().collect();
    eprintln!(
        "{} requests in {} instances",
        prefixes.len(),
        instances.len()
    );
    assert_eq!(prefixes.len(), EXERCISE_REQUESTS, "{:?}", log.lines());
    // Fewer instances than requests: some served several (A's stayed open
    // for half a second while the others came and went). How many instances
    // serve opens is its own timing (4 to 14 seen here, under load).
    assert!(
        instances.len() < prefixes.len(),
        "{} instances for {} requests",
        instances.len(),
        prefixes.len()
    );
}

/// A runner with metrics for `config`, and its two addresses.
fn start_with_metrics(config: Config) -> (SocketAddr, SocketAddr) {
    let started = support::start_runner_with(Config {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..config
    });
    (started.addr, started.metrics.unwrap())
}

const STARTED: &str = "sitebox_instances_started_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_runner_requests_sharing_an_instance_keep_their_own_data() {
    let site = site_of_files();
    // Two instances at most: the 33 requests in flight at once (A and the
    // reads) must share them. With room for more, placement opens a new
    // instance whenever none is waiting, and how many that makes depends on
    // the machine's timing (16 here, 23 on CI).
    let config = support::with_p3(site.config());
    let limits = Limits {
        max_concurrent: 2,
        ..config.limits
    };
    let (addr, metrics) = start_with_metrics(Config { limits, ..config });
    exercise(addr).await;
    let started = sample(metrics, STARTED).await;
    eprintln!("{EXERCISE_REQUESTS} requests in {started} instances");
    assert!(
        (1.0..=2.0).contains(&started),
        "{started} instances for {EXERCISE_REQUESTS} requests"
    );
}

#[tokio::test]
async fn by_default_the_runner_gives_each_request_a_fresh_0_3_instance() {
    let site = site_of_files();
    let (addr, metrics) = start_with_metrics(support::with_p3_alone(site.config()));
    for n in 0..5 {
        let reply = client::get(addr, &format!("/file-{n}.txt")).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert_eq!(sample(metrics, STARTED).await, 5.0);
}

/// The runner on the faulty 0.3 guest, `per_instance` requests at once in an
/// instance (100 in all), at most `instances` instances.
fn faulty(
    site: &TestSite,
    (instances, per_instance): (u32, u32),
    request_timeout: Duration,
) -> (SocketAddr, SocketAddr) {
    start_with_metrics(Config {
        component: ComponentSource::File(support::test_guest("faulty-p3")),
        instance_concurrency: per_instance,
        reuse_instances: 100,
        limits: Limits {
            max_concurrent: instances,
            request_timeout,
            max_body: 2 * SLOW_BODY as u64,
            ..Limits::default()
        },
        ..site.config()
    })
}

/// The series once it reads `want` (an instance ends just after its last
/// answer is read), or what it reads after 5 s.
async fn settled(metrics: SocketAddr, series: &str, want: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = sample(metrics, series).await;
        if value == want || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_in_one_instance_run_side_by_side() {
    let site = TestSite::bare();
    let (addr, metrics) = faulty(&site, (1, 4), Duration::from_secs(10));
    let started = Instant::now();
    let counts: Vec<_> = (0..4)
        .map(|_| tokio::spawn(count_slowly(addr, SLOW_BODY, Duration::from_secs(1))))
        .collect();
    for count in counts {
        assert_eq!(count.await.unwrap().1, SLOW_BODY.to_string());
    }
    // One after another they would take 4 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sample(metrics, STARTED).await, 1.0);
}

/// A spinning guest stalls its instance: the requests in it get 504 after
/// the timeout; one that comes while it spins goes to another instance and
/// is served at once; the stuck instance is dropped.
#[tokio::test]
async fn a_spinning_guest_fails_only_the_requests_of_its_instance() {
    let site = TestSite::bare();
    let (addr, metrics) = faulty(&site, (2, 2), Duration::from_secs(2));
    let started = Instant::now();
    // In the instance first, waiting for the rest of its body: the instance
    // waits too, so the next request joins it.
    let beside = tokio::spawn(count_slowly(addr, SLOW_BODY, Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spinning = tokio::spawn(client::get(addr, "/loop"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let elsewhere = client::get(addr, "/").await;
    assert_eq!(elsewhere.text(), "ok");
    assert!(!spinning.is_finished(), "answered elsewhere while it spun");
    let spinning = spinning.await.unwrap();
    assert_eq!(
        spinning.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        spinning.text()
    );
    let (status, _) = beside.await.unwrap();
    assert!(status.starts_with("HTTP/1.1 504"), "{status}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(
        sample(metrics, STARTED).await,
        2.0,
        "the spinning one and one beside"
    );
    // The spinning instance is gone; the other one serves on.
    assert_eq!(settled(metrics, "sitebox_instances_busy", 1.0).await, 1.0);
    assert_eq!(client::get(addr, "/").await.text(), "ok");
    assert_eq!(sample(metrics, STARTED).await, 2.0);
    assert_eq!(sample(metrics, "sitebox_guest_timeouts_total").await, 2.0);
}

/// A trap ends the instance and every request in it (500); the next request
/// gets a new one.
#[tokio::test]
async fn a_trap_fails_the_requests_of_its_instance_and_no_other() {
    let site = TestSite::bare();
    let (addr, metrics) = faulty(&site, (2, 2), Duration::from_secs(10));
    let waiting = tokio::spawn(count_slowly(addr, SLOW_BODY, Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let trap = client::get(addr, "/trap").await;
    assert_eq!(trap.status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _) = waiting.await.unwrap();
    assert!(status.starts_with("HTTP/1.1 500"), "{status}");
    assert_eq!(client::get(addr, "/").await.text(), "ok");
    assert_eq!(sample(metrics, STARTED).await, 2.0);
    assert_eq!(sample(metrics, "sitebox_guest_traps_total").await, 1.0);
}

/// A client that stops reading a large answer holds only its own request:
/// the others in its instance are served meanwhile, and after the timeout
/// without progress its connection is cut short.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_while_its_instance_serves_others() {
    const BIG: usize = 64 << 20;
    let site = TestSite::bare();
    let (addr, metrics) = faulty(&site, (1, 4), Duration::from_secs(1));
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /big?{BIG} HTTP/1.1\r\nHost: test\r\n\r\n");
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let counted = count_slowly(addr, SLOW_BODY, Duration::from_millis(50)).await;
        assert_eq!(counted.1, SLOW_BODY.to_string());
    }
    assert_eq!(sample(metrics, STARTED).await, 1.0, "all in one instance");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stalled.read_to_end(&mut received));
    // Cut: the end comes early, or as a reset.
    let _ = read.await.expect("the connection ends");
    assert!(received.len() < BIG, "{} bytes of {BIG}", received.len());
    assert_eq!(sample(metrics, "sitebox_guest_timeouts_total").await, 1.0);
    assert_eq!(client::get(addr, "/").await.text(), "ok");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_and_the_instance_serves_on() {
    let site = TestSite::bare();
    let (addr, metrics) = faulty(&site, (2, 4), Duration::from_secs(10));
    let mut connection = client::Connection::open(addr).await;
    let reply = connection
        .send_body(Method::POST, "/count", &[], vec![b'x'; 2 * SLOW_BODY])
        .await;
    assert_eq!(
        reply.text(),
        (2 * SLOW_BODY).to_string(),
        "a body at the limit passes"
    );
    let reply = client::Connection::open(addr)
        .await
        .send_body(Method::POST, "/count", &[], vec![b'x'; 2 * SLOW_BODY + 1])
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(client::get(addr, "/").await.text(), "ok");
    assert_eq!(sample(metrics, STARTED).await, 1.0);
}
