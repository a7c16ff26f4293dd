//! HTTPS with a certificate made for the test (rcgen), HTTP/2 chosen by ALPN
//! or spoken by prior knowledge (h2c) on a plain port, and HTTP/1.1 on both;
//! HSTS on HTTPS, and the plain listener that sends clients there.

use sitebox_tests as support;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::CertificateDer;
use sitebox_runner::{Config, TlsFiles};
use std::net::SocketAddr;
use std::sync::OnceLock;
use support::TestSite;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

struct TlsRunner {
    addr: SocketAddr,
    /// `--redirect-http`.
    redirect: SocketAddr,
    cert: CertificateDer<'static>,
    site: TestSite,
}

fn tls_runner() -> &'static TlsRunner {
    static RUNNER: OnceLock<TlsRunner> = OnceLock::new();
    RUNNER.get_or_init(|| {
        let site = TestSite::new();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = site.static_dir.parent().unwrap().join("tls");
        std::fs::create_dir_all(&dir).unwrap();
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, certified.cert.pem()).unwrap();
        std::fs::write(&files.key, certified.signing_key.serialize_pem()).unwrap();
        site.write(".well-known/acme-challenge/t0ken", "t0ken.proof");
        let config = Config {
            tls: Some(files),
            redirect_http: Some("127.0.0.1:0".parse().unwrap()),
            ..site.config()
        };
        let started = support::start_runner_with(config);
        TlsRunner {
            addr: started.addr,
            redirect: started.redirect.unwrap(),
            cert: certified.cert.der().clone(),
            site,
        }
    })
}

async fn tls_connect(alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let runner = tls_runner();
    support::tls::connect(runner.addr, &runner.cert, alpn).await
}

/// GET `uri` over HTTP/2 on `io`: status, version, content type and body.
async fn get_h2<I>(io: I, uri: &str) -> (StatusCode, Version, String, Bytes)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, version) = (response.status(), response.version());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, version, content_type, body)
}

#[tokio::test]
async fn https_with_http2_by_alpn() {
    let stream = tls_connect(&[b"h2", b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (status, version, content_type, body) = get_h2(stream, "https://localhost/index.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(content_type, "text/css; charset=utf-8");
    assert_eq!(body, tls_runner().site.read("index.css"));
}

#[tokio::test]
async fn https_with_http1_1() {
    let stream = tls_connect(&[b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    for target in ["/", "/logo.png", "/missing"] {
        let request = Request::get(target)
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), Version::HTTP_11);
        let expected = if target == "/missing" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(response.status(), expected, "{target}");
        response.into_body().collect().await.unwrap();
    }
}

/// What the server sends back to `bytes` on a TLS connection that agreed
/// on `alpn`, until it closes (or 5 s pass).
async fn reply_on(alpn: &[&[u8]], bytes: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tls_connect(alpn).await;
    stream.write_all(bytes).await.unwrap();
    let mut reply = Vec::new();
    let read = stream.read_to_end(&mut reply);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
    reply
}

/// RFC 9113 §3.2 and RFC 7301: the protocol the handshake chose is the one
/// spoken (h2spec 3.5/2): HTTP/1.1 after `h2` is a connection error, an
/// HTTP/2 preface after `http/1.1` (or no ALPN at all) is refused as HTTP/1.1
/// refuses it (hyper closes the connection), never answered with frames.
#[tokio::test]
async fn the_protocol_alpn_chose_is_the_only_one_served() {
    let http1 = b"GET /index.css HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let reply = reply_on(&[b"h2"], http1).await;
    assert!(
        !reply.starts_with(b"HTTP/1.1"),
        "HTTP/1.1 answered after h2: {:?}",
        String::from_utf8_lossy(&reply)
    );
    // An empty SETTINGS frame after the preface.
    let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let reply = reply_on(alpn, h2).await;
        assert!(
            reply.is_empty() || reply.starts_with(b"HTTP/1.1 "),
            "HTTP/2 answered after {alpn:?}: {reply:?}"
        );
    }
    let stream = tls_connect(&[b"h2"]).await;
    let (status, ..) = get_h2(stream, "https://localhost/").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_refused_and_the_server_stays_up() {
    let addr = tls_runner().addr;
    let reply = tokio::task::spawn_blocking(move || {
        support::client::raw_bytes(addr, "GET / HTTP/1.1\r\nHost: x")
    })
    .await
    .unwrap();
    assert!(!reply.starts_with(b"HTTP/1.1 200"));
    let stream = tls_connect(&[b"h2"]).await;
    let (status, ..) = get_h2(stream, "https://localhost/").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn h2c_by_prior_knowledge_on_the_plain_port() {
    let server = support::shared_server(support::Backend::Runner).unwrap();
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let uri = format!("http://{}/index.css", server.addr);
    let (status, version, content_type, body) = get_h2(stream, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(content_type, "text/css; charset=utf-8");
    assert_eq!(body, server.site.read("index.css"));
}

#[tokio::test]
async fn https_answers_say_to_keep_to_https_and_plain_ones_do_not() {
    let stream = tls_connect(&[b"http/1.1"]).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    for target in ["/", "/missing"] {
        let request = Request::get(target)
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let hsts = &response.headers()["strict-transport-security"];
        assert_eq!(hsts, "max-age=31536000", "{target}");
        response.into_body().collect().await.unwrap();
    }
    let plain = support::shared_server(support::Backend::Runner).unwrap();
    let reply = support::client::get(plain.addr, "/").await;
    assert!(!reply.headers.contains_key("strict-transport-security"));
}

#[tokio::test]
async fn the_plain_listener_sends_every_request_to_https_but_acme_challenges() {
    let runner = tls_runner();
    let (redirect, https_port) = (runner.redirect, runner.addr.port());
    for method in [Method::GET, Method::POST, Method::HEAD] {
        let reply = support::client::request(redirect, method.clone(), "/a/b?x=1", &[]).await;
        assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT, "{method}");
        // To the host the client asked for (here the address), on the HTTPS port.
        let location = format!("https://127.0.0.1:{https_port}/a/b?x=1");
        assert_eq!(reply.header("location"), location, "{method}");
        assert!(!reply.headers.contains_key("strict-transport-security"));
    }
    let challenge = "/.well-known/acme-challenge/t0ken";
    let reply = support::client::get(redirect, challenge).await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (StatusCode::OK, "t0ken.proof")
    );
    // HTTP/1.0 may come without Host: it is sent to this server's address.
    let (status, head, _) = tokio::task::spawn_blocking(move || {
        support::client::raw(redirect, "GET /old HTTP/1.0\r\n\r\n")
    })
    .await
    .unwrap();
    assert_eq!(status, 308);
    let location = format!("location: https://127.0.0.1:{https_port}/old");
    assert!(head.to_lowercase().contains(&location), "{head}");
}
