//! Board benchmark (not a test): `cargo bench -p sitebox-runner --bench board`.
//!
//! Starts the runner in-process on a temporary site, fills the board with
//! 10,000 messages through `POST /api/messages` from 64 keep-alive
//! connections (measuring POST throughput), then measures `GET /board` and
//! `GET /api/messages` latency one request at a time, and prints a markdown
//! table. Latency is seen from the client over loopback, so it bounds the
//! server time from above.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
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

    fn mean(&self) -> f64 {
        self.samples.iter().sum::<Duration>().as_secs_f64() * 1000.0 / self.samples.len() as f64
    }
}

async fn measure_gets(addr: SocketAddr, target: &str) -> (Latency, usize) {
    let mut sender = connect(addr).await;
    for _ in 0..100 {
        send(&mut sender, get(addr, target)).await;
    }
    let mut samples = Vec::with_capacity(GET_SAMPLES);
    let mut bytes = 0;
    for _ in 0..GET_SAMPLES {
        let start = Instant::now();
        let (status, len) = send(&mut sender, get(addr, target)).await;
        samples.push(start.elapsed());
        assert_eq!(status, 200);
        bytes = len;
    }
    samples.sort();
    (Latency { samples }, bytes)
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
    let config = sitebox_runner::Config::new(&static_dir, root.path().join("data"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = sitebox_runner::Server::new(&config).unwrap();
        tokio::spawn(server.serve(listener));

        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..CONNECTIONS {
            tasks.spawn(async move {
                let mut sender = connect(addr).await;
                for i in (c..MESSAGES).step_by(CONNECTIONS) {
                    let (status, _) = send(&mut sender, post(addr, &format!("message number {i}"))).await;
                    assert_eq!(status, 201);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let post_seconds = start.elapsed().as_secs_f64();

        let (board, board_bytes) = measure_gets(addr, "/board").await;
        let (api, api_bytes) = measure_gets(addr, "/api/messages").await;

        println!("sitebox board benchmark: {MESSAGES} messages on the board; {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));
        println!();
        println!("| measurement | result |");
        println!("| --- | --- |");
        println!(
            "| POST /api/messages, {CONNECTIONS} connections | {:.0} posts/s ({MESSAGES} in {post_seconds:.2} s) |",
            MESSAGES as f64 / post_seconds
        );
        for (name, latency, bytes) in [("GET /board", &board, board_bytes), ("GET /api/messages", &api, api_bytes)] {
            println!(
                "| {name} ({bytes} B), 1 connection | p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, mean {:.2} ms ({GET_SAMPLES} requests) |",
                latency.percentile(0.5),
                latency.percentile(0.9),
                latency.percentile(0.99),
                latency.mean()
            );
        }
    });
}
