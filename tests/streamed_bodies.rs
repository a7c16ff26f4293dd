//! Bodies larger than the 64 KiB the wasi:http 0.3 glue reads or writes at
//! a time, on every backend and world: a file streamed out byte-exact (and a
//! range across a 64 KiB boundary), a request body over 64 KiB refused while
//! it is still coming, and a slow reader that gets every byte while other
//! clients keep being served (issue 34).

use sitebox_tests as support;

use sitebox_runner::SiteSettings;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::TestSite;
use support::client::{self, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 1 MiB and a little more: 17 pieces of 64 KiB, the last one short.
const BIG: usize = (1 << 20) + 3;

/// Byte `i` of the test file: a dropped, repeated or reordered piece shows.
fn byte_at(i: usize) -> u8 {
    ((i.wrapping_mul(0x9E37_79B1) >> 7) ^ (i >> 16)) as u8
}

fn big_file() -> Vec<u8> {
    (0..BIG).map(byte_at).collect()
}

fn site() -> TestSite {
    let site = TestSite::new();
    site.write("big.bin", big_file());
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64_kib_stream_both_ways() {
    let site = site();
    for (backend, addr) in support::start_servers(&site, SiteSettings::default()) {
        let reply = client::get(addr, "/big.bin").await;
        assert_eq!(reply.status, 200, "{backend:?}");
        assert!(reply.body == big_file(), "{backend:?}: the file differs");

        let range = [("range", "bytes=65530-65545")];
        let ranged = Connection::open(addr)
            .await
            .send(http::Method::GET, "/big.bin", &range)
            .await;
        assert_eq!(ranged.status, 206, "{backend:?}");
        let expected: Vec<u8> = (65530..=65545).map(byte_at).collect();
        assert_eq!(&ranged.body[..], &expected[..], "{backend:?}");

        // 70 KiB in chunks, the last chunk never sent: only a server that
        // stops reading at its limit answers, with 413.
        let reply = tokio::task::spawn_blocking(move || {
            let head = "POST /board HTTP/1.1\r\nHost: test\r\n\
                        Content-Type: application/x-www-form-urlencoded";
            let piece = vec![b'a'; 10 << 10];
            let mut body = vec![&b"message="[..]];
            body.extend(std::iter::repeat_n(&piece[..], 7));
            client::unfinished_chunked(addr, head, &body)
        })
        .await
        .unwrap();
        assert!(reply.starts_with("HTTP/1.1 413"), "{backend:?}: {reply}");
        let after = client::get(addr, "/index.html").await;
        assert_eq!(after.status, 200, "{backend:?}");
    }
}

/// Asks for `/big.bin` and reads it 4 KiB every 20 ms (about 5 s) through a
/// small receive buffer; says when it has the first bytes of the body, and
/// returns the body.
async fn read_slowly(addr: SocketAddr, started: tokio::sync::oneshot::Sender<()>) -> Vec<u8> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = b"GET /big.bin HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let mut started = Some(started);
    let mut reply = Vec::new();
    let mut buffer = vec![0; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buffer[..n]);
        if reply.len() > 64 << 10 {
            started.take().map(|tx| tx.send(()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reply.starts_with(b"HTTP/1.1 200"));
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    reply.split_off(split + 4)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_every_byte_and_holds_up_no_one() {
    let site = site();
    for (backend, addr) in support::start_servers(&site, SiteSettings::default()) {
        let (started, reading) = tokio::sync::oneshot::channel();
        let slow = tokio::spawn(read_slowly(addr, started));
        reading.await.unwrap();
        // Others are served while the slow response is being sent (under
        // `wasmtime serve` with the 0.3 component, by the same instance).
        for _ in 0..20 {
            let asked = Instant::now();
            let reply = client::get(addr, "/index.html").await;
            assert_eq!(reply.status, 200, "{backend:?}");
            // Generous: CI machines are 2 busy cores.
            assert!(asked.elapsed() < Duration::from_secs(10), "{backend:?}");
        }
        assert!(
            !slow.is_finished(),
            "{backend:?}: the slow read ended first"
        );
        let body = slow.await.unwrap();
        assert!(
            body == big_file(),
            "{backend:?}: the slow reader's bytes differ"
        );
    }
}
