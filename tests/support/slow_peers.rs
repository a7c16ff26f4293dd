//! Clients that hold a server's resources by being slow, for the slow-client
//! tests: an h2c stream flood (the `h2` crate), a slow reader and a slow
//! poster, each from an address of one's choice.

use super::client;
use bytes::Bytes;
use http::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What each stream of the h2c flood does.
#[derive(Clone, Copy)]
pub enum Slowness {
    /// GETs this (large) file with a stream window of 0: the server may
    /// send no byte of the body.
    Read(&'static str),
    /// POSTs 4 KiB to the board, a byte every 5 s.
    Body,
}

/// One HTTP/2 prior-knowledge connection from 127.0.0.1 with `streams`
/// slow streams, each opening another when it ends; a cut connection is
/// opened again.
pub async fn h2c_flood(addr: SocketAddr, streams: usize, slowness: Slowness) {
    loop {
        let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut builder = h2::client::Builder::new();
        if let Slowness::Read(_) = slowness {
            builder.initial_window_size(0);
        }
        let Ok((sender, connection)) = builder.handshake::<_, Bytes>(tcp).await else {
            continue;
        };
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..streams {
            tasks.spawn(h2c_slow_streams(sender.clone(), addr, slowness));
        }
        let _ = connection.await;
        tasks.abort_all();
    }
}

/// Slow streams one after the other on one connection, until it fails.
async fn h2c_slow_streams(
    sender: h2::client::SendRequest<Bytes>,
    addr: SocketAddr,
    slowness: Slowness,
) {
    loop {
        let Ok(mut sender) = sender.clone().ready().await else {
            return;
        };
        let uri = format!("http://{addr}");
        let request = match slowness {
            Slowness::Read(file) => http::Request::get(format!("{uri}{file}")),
            Slowness::Body => http::Request::post(format!("{uri}/board"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("content-length", "4096"),
        };
        let ended = matches!(slowness, Slowness::Read(_));
        let Ok((response, mut body)) = sender.send_request(request.body(()).unwrap(), ended) else {
            return;
        };
        let trickle = async {
            if let Slowness::Body = slowness {
                loop {
                    body.reserve_capacity(1);
                    if body.send_data(Bytes::from_static(b"a"), false).is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
            std::future::pending::<()>().await
        };
        // Held until the server answers (a slow POST) or ends the stream (a
        // slow read, whose body never comes); a refusal comes back at once.
        let answered = tokio::select! {
            answered = response => answered,
            () = trickle => unreachable!(),
        };
        if let Ok(response) = answered
            && response.status() == StatusCode::OK
        {
            let mut body = response.into_body();
            while let Some(Ok(_)) = body.data().await {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A slow reader from `from`: asks for `target` (`size` bytes), then reads
/// `step` bytes every `every` through a small receive buffer. How many bytes
/// of the response it had read when the server closed the connection (or
/// all of them).
pub async fn slow_reader(
    addr: SocketAddr,
    from: IpAddr,
    (target, size): (&str, usize),
    step: usize,
    every: Duration,
) -> usize {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let Ok(mut stream) = socket.connect(addr).await else {
        return 0;
    };
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut read = 0;
    let mut buffer = vec![0; step];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return read,
            Ok(n) => read += n,
        }
        // The head is a few hundred bytes.
        if read >= size + 200 {
            return read;
        }
        tokio::time::sleep(every).await;
    }
}

/// A slow poster from `from`: posts a `declared`-byte form to the board,
/// sends `fast` bytes of it at once, then a byte every 5 s. How long it took
/// the server to cut the connection (its write failed, or its answer came),
/// or `None` if it did not within 90 s.
pub async fn slow_poster(
    addr: SocketAddr,
    from: IpAddr,
    target: &str,
    declared: usize,
    fast: usize,
) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = client::connect_from(from, addr).await;
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {declared}\r\n\r\n"
    );
    let trickle = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&vec![b'a'; fast]).await?;
        for _ in fast..declared {
            tokio::time::sleep(Duration::from_secs(5)).await;
            stream.write_all(b"a").await?;
            // An answer (or the close) is there to read when it came.
            let mut byte = [0; 1];
            match tokio::time::timeout(Duration::ZERO, stream.peek(&mut byte)).await {
                Ok(Ok(_)) | Ok(Err(_)) => return Ok(()),
                Err(_) => {}
            }
        }
        std::io::Result::Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(90), trickle).await {
        Ok(_) => Some(started.elapsed()),
        Err(_) => None,
    }
}
