//! A small HTTP client for the tests: hyper over one connection per call (or a
//! kept-alive one), and raw bytes over TCP for requests hyper would refuse to
//! send (backslashes, bad escapes, missing Host).

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// `GET target` answers 200 with exactly `expected`, its type and length.
pub async fn assert_serves(
    addr: SocketAddr,
    target: &str,
    expected: &[u8],
    content_type: &str,
) -> Reply {
    let reply = get(addr, target).await;
    assert_eq!(reply.status, StatusCode::OK, "GET {target}");
    assert_eq!(reply.header("content-type"), content_type, "GET {target}");
    assert_eq!(
        reply.header("content-length"),
        expected.len().to_string(),
        "GET {target}"
    );
    assert_eq!(reply.body, expected, "GET {target}");
    reply
}

impl Reply {
    /// The header's value; panics (naming it) if it is missing.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
}

/// A kept-alive HTTP/1.1 connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Connection {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        Connection::over(stream, addr).await
    }

    /// A connection from the local address `from`: on loopback any 127/8
    /// address is this host (on Linux), so a client on 127.0.0.2 is another
    /// client to the runner than one on 127.0.0.1.
    pub async fn open_from(from: IpAddr, addr: SocketAddr) -> Connection {
        Connection::over(connect_from(from, addr).await, addr).await
    }

    async fn over(stream: tokio::net::TcpStream, addr: SocketAddr) -> Connection {
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        Connection { sender, addr }
    }

    pub async fn send(&mut self, method: Method, target: &str, headers: &[(&str, &str)]) -> Reply {
        self.send_body(method, target, headers, Bytes::new()).await
    }

    pub async fn send_body(
        &mut self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header("host", self.addr.to_string());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body.into())).unwrap();
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Whether the server has closed this connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

pub async fn request(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
) -> Reply {
    Connection::open(addr)
        .await
        .send(method, target, headers)
        .await
}

/// A form POST, as a browser on this site sends it.
pub async fn post_form(addr: SocketAddr, target: &str, body: impl Into<Bytes>) -> Reply {
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    Connection::open(addr)
        .await
        .send_body(Method::POST, target, &headers, body)
        .await
}

/// A JSON POST.
pub async fn post_json(addr: SocketAddr, target: &str, body: impl Into<Bytes>) -> Reply {
    let headers = [("content-type", "application/json")];
    Connection::open(addr)
        .await
        .send_body(Method::POST, target, &headers, body)
        .await
}

/// A TCP connection to `addr` from the local address `from`.
pub async fn connect_from(from: IpAddr, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = match from {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// `GET target` from the local address `from` (see `Connection::open_from`).
pub async fn get_from(from: IpAddr, addr: SocketAddr, target: &str) -> Reply {
    let mut connection = Connection::open_from(from, addr).await;
    connection.send(Method::GET, target, &[]).await
}

pub async fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, Method::GET, target, &[]).await
}

pub async fn head(addr: SocketAddr, target: &str) -> Reply {
    request(addr, Method::HEAD, target, &[]).await
}

/// Sends `head` (request line and headers, without the blank line) as raw
/// bytes and returns everything the server sends until it closes (or resets)
/// the connection.
pub fn raw_bytes(addr: SocketAddr, head: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut reply = Vec::new();
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = stream.read(&mut buffer) {
        reply.extend_from_slice(&buffer[..n]);
    }
    reply
}

/// Sends `head` (request line and headers, without the blank line) with
/// `Transfer-Encoding: chunked` and `body` as one chunk per piece, but never
/// the last chunk: only a server that stops reading at its limit answers.
/// Returns the first read of the answer, as text.
pub fn unfinished_chunked(addr: SocketAddr, head: &str, body: &[&[u8]]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!("{head}\r\nTransfer-Encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    for piece in body {
        stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .unwrap();
        stream.write_all(piece).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    let mut reply = vec![0; 4096];
    let n = stream.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

/// `raw_bytes`, split into status, response head and body.
pub fn raw(addr: SocketAddr, head: &str) -> (u16, String, Vec<u8>) {
    let reply = raw_bytes(addr, head);
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&reply)));
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head, reply[split + 4..].to_vec())
}
