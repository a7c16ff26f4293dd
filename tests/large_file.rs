//! A 1 GiB file is streamed intact (every byte checked against the pattern it
//! was written with) while the guest runs under an 8 MiB memory cap, so it
//! cannot be holding the file in memory.

use sitebox_tests as support;

use http_body_util::BodyExt;
use sitebox_runner::Config;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::OnceLock;
use support::TestSite;

const SIZE: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;

/// The bytes at `offset..offset + out.len()` of the test file: each 8-byte
/// word is a different number, so a dropped, repeated or reordered chunk
/// shows.
fn pattern(offset: u64, out: &mut [u8]) {
    for (i, byte) in out.iter_mut().enumerate() {
        let position = offset + i as u64;
        let word = (position / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        *byte = word.to_le_bytes()[(position % 8) as usize];
    }
}

fn site() -> &'static TestSite {
    static SITE: OnceLock<TestSite> = OnceLock::new();
    SITE.get_or_init(|| {
        let site = TestSite::bare();
        let file = std::fs::File::create(site.static_dir.join("large.bin")).unwrap();
        let mut writer = std::io::BufWriter::with_capacity(CHUNK, file);
        let mut chunk = vec![0; CHUNK];
        for i in 0..SIZE / CHUNK as u64 {
            pattern(i * CHUNK as u64, &mut chunk);
            writer.write_all(&chunk).unwrap();
        }
        writer.flush().unwrap();
        site
    })
}

async fn download_and_verify(addr: SocketAddr) {
    let mut connection = support::client::Connection::open(addr).await;
    let head = connection.send(http::Method::HEAD, "/large.bin", &[]).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), SIZE.to_string());

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get("/large.bin")
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        SIZE.to_string().as_str()
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );

    let mut body = response.into_body();
    let mut received = 0u64;
    let mut expected = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        expected.resize(data.len(), 0);
        pattern(received, &mut expected);
        assert!(
            data[..] == expected[..],
            "bytes differ in the chunk at offset {received}"
        );
        received += data.len() as u64;
    }
    assert_eq!(received, SIZE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_streams_a_large_file_in_small_memory() {
    let config = Config {
        max_instance_memory: 8 << 20,
        ..site().config()
    };
    download_and_verify(support::start_runner(config)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_serve_streams_a_large_file() {
    if let Some(addr) = support::start_wasmtime_serve(site(), support::embedded_component()) {
        download_and_verify(addr).await;
    }
}

/// A client that leaves mid-file is logged as gone, not as a file that
/// ended early: both end the splice with the same `closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_file_is_logged_as_gone() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some((addr, log)) =
        support::start_wasmtime_serve_logged(site(), support::embedded_component(), &[])
    else {
        return;
    };
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /large.bin HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut start = vec![0; 1 << 16];
    stream.read_exact(&mut start).await.unwrap();
    drop(stream);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let aborted = loop {
        let lines = log.lines();
        if let Some(line) = lines.iter().find(|line| line.contains("body aborted")) {
            break line.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{lines:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(aborted.contains("the connection ended"), "{aborted}");
}
