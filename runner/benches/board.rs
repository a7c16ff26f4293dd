//! Board benchmark (not a test): `cargo bench -p sitebox-runner --bench board`.
//!
//! For each store — one runner on files (the default), one runner on Redis
//! (`appendfsync always`, then `everysec`), three runners on one Redis — it
//! starts the `sitebox` binary (and `redis-server`) on a temporary site,
//! fills the board with 10,000 messages through `POST /api/messages` from 64
//! keep-alive connections spread over the runners (POST throughput), then
//! measures `GET /board` and `GET /api/messages` one request at a time
//! (round-robin over the runners) and prints a markdown table. Latency is
//! seen from the client over loopback, so it bounds the server time from
//! above. Needs `redis-server` (`apt-get install redis-server`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../tests/support/redis.rs"]
mod redis;

use bytes::Bytes;
use common::{Running, sitebox};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use redis::RedisServer;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

const MESSAGES: usize = 10_000;
const CONNECTIONS: usize = 64;
const GET_SAMPLES: usize = 2_000;

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    sender
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: http::Request<Full<Bytes>>,
) -> (u16, usize) {
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.len())
}

fn post(addr: SocketAddr, text: &str) -> http::Request<Full<Bytes>> {
    http::Request::post("/api/messages")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("{{\"text\":\"{text}\"}}"))))
        .unwrap()
}

fn get(addr: SocketAddr, target: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(target)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap()
}

struct Latency {
    samples: Vec<Duration>,
}

impl Latency {
    fn percentile(&self, p: f64) -> f64 {
        let index = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples[index].as_secs_f64() * 1000.0
    }
}

/// `GET target` one at a time, taking the runners in turn (one keep-alive
/// connection to each).
async fn measure_gets(addrs: &[SocketAddr], target: &str) -> (Latency, usize) {
    let mut senders = Vec::new();
    for addr in addrs {
        senders.push((*addr, connect(*addr).await));
    }
    for (addr, sender) in &mut senders {
        for _ in 0..100 {
            send(sender, get(*addr, target)).await;
        }
    }
    let mut samples = Vec::with_capacity(GET_SAMPLES);
    let mut bytes = 0;
    for i in 0..GET_SAMPLES {
        let (addr, sender) = &mut senders[i % addrs.len()];
        let start = Instant::now();
        let (status, len) = send(sender, get(*addr, target)).await;
        samples.push(start.elapsed());
        assert_eq!(status, 200);
        bytes = len;
    }
    samples.sort();
    (Latency { samples }, bytes)
}

/// 10,000 posts from 64 connections spread over `addrs`: posts per second.
async fn fill(addrs: &[SocketAddr]) -> f64 {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CONNECTIONS {
        let addr = addrs[c % addrs.len()];
        tasks.spawn(async move {
            let mut sender = connect(addr).await;
            for i in (c..MESSAGES).step_by(CONNECTIONS) {
                let (status, _) =
                    send(&mut sender, post(addr, &format!("message number {i}"))).await;
                assert_eq!(status, 201);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    MESSAGES as f64 / start.elapsed().as_secs_f64()
}

fn start_runner(static_dir: &Path, store: &[String]) -> Running {
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(static_dir)
        .args(store);
    let mut runner = Running::start(command);
    runner.drain_log();
    runner
}

struct Row {
    name: &'static str,
    posts_per_second: f64,
    board: (Latency, usize),
    api: (Latency, usize),
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let static_dir = root.path().join("static");
    std::fs::create_dir(&static_dir).unwrap();
    let repo_static = concat!(env!("CARGO_MANIFEST_DIR"), "/../static");
    for entry in std::fs::read_dir(repo_static).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), static_dir.join(entry.file_name())).unwrap();
    }
    assert!(
        redis::installed(),
        "install redis-server: {}",
        redis::INSTALL
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let scenarios: [(&'static str, usize, Option<&'static str>); 4] = [
        ("1 runner, files (default)", 1, None),
        ("1 runner, Redis (appendfsync always)", 1, Some("always")),
        (
            "1 runner, Redis (appendfsync everysec)",
            1,
            Some("everysec"),
        ),
        ("3 runners, one Redis (always)", 3, Some("always")),
    ];
    let mut rows = Vec::new();
    for (n, (name, runners, fsync)) in scenarios.into_iter().enumerate() {
        let dir = root.path().join(format!("run-{n}"));
        std::fs::create_dir(&dir).unwrap();
        let redis = fsync.map(|fsync| RedisServer::start_with_fsync(&dir, fsync));
        let store: Vec<String> = match &redis {
            Some(redis) => vec!["--store".into(), redis.url(0)],
            None => vec!["--data".into(), dir.join("data").display().to_string()],
        };
        let running: Vec<Running> = (0..runners)
            .map(|_| start_runner(&static_dir, &store))
            .collect();
        let addrs: Vec<SocketAddr> = running.iter().map(|r| r.addr.parse().unwrap()).collect();
        let row = runtime.block_on(async {
            let posts_per_second = fill(&addrs).await;
            Row {
                name,
                posts_per_second,
                board: measure_gets(&addrs, "/board").await,
                api: measure_gets(&addrs, "/api/messages").await,
            }
        });
        eprintln!("{name}: done");
        rows.push(row);
        drop((running, redis));
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "sitebox board benchmark: {MESSAGES} messages posted from {CONNECTIONS} connections, \
         then {GET_SAMPLES} GETs one at a time; {cores} cores"
    );
    println!();
    println!("| store | POST /api/messages | GET /board p50 / p99 | GET /api/messages p50 / p99 |");
    println!("| --- | ---: | ---: | ---: |");
    let ms = |latency: &Latency| {
        format!(
            "{:.2} / {:.2} ms",
            latency.percentile(0.5),
            latency.percentile(0.99)
        )
    };
    for row in &rows {
        println!(
            "| {} | {:.0} posts/s | {} ({} B) | {} ({} B) |",
            row.name,
            row.posts_per_second,
            ms(&row.board.0),
            row.board.1,
            ms(&row.api.0),
            row.api.1
        );
    }
}
