//! Compression on the fly, over real HTTP against the runner (`wasmtime
//! serve` and the edge send the component's bytes as they are): text
//! responses are compressed by the client's `Accept-Encoding`, with
//! `Vary`, an ETag per coding that revalidates, and never for ranges, HEAD
//! bodies, `no-transform`, compressed types or precompressed files.

use sitebox_tests as support;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZstdDecoder};
use http::{Method, StatusCode};
use sitebox_runner::{Coding, Compression, Config};
use std::net::SocketAddr;
use support::TestSite;
use support::client::{self, Reply};
use tokio::io::AsyncReadExt;

/// A 100 KiB page that compresses as real HTML does (repeated markup,
/// varied text).
fn page() -> String {
    let mut html = String::from("<!doctype html>\n<title>A long page</title>\n<ul>\n");
    let mut n = 0u64;
    while html.len() < 100 << 10 {
        n += 1;
        let line = format!(
            "<li class=\"entry\"><a href=\"/posts/{n}\">Entry {n}</a> <span>{}</span></li>\n",
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1_000_003
        );
        html.push_str(&line);
    }
    html.push_str("</ul>\n");
    html
}

fn site() -> TestSite {
    let site = TestSite::bare();
    site.write("long.html", page());
    site.write(
        "data.json",
        format!("[{}]", vec!["{\"k\": 1}"; 400].join(",")),
    );
    site.write("photo.png", vec![b'x'; 4096]);
    site.write("app.js", "console.log('compress me');\n".repeat(100));
    site.write("app.js.br", "precompressed brotli, not real");
    site.write("raw/notes.txt", "leave me as I am\n".repeat(200));
    site.write("_headers", "/raw/*\n  Cache-Control: no-transform\n");
    site
}

fn runner(site: &TestSite, compression: Compression) -> SocketAddr {
    support::start_runner(Config {
        compression,
        ..site.config()
    })
}

async fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Reply {
    client::request(addr, Method::GET, target, headers).await
}

async fn decoded(reply: &Reply) -> Vec<u8> {
    let bytes = &reply.body[..];
    let mut out = Vec::new();
    match reply
        .headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap())
    {
        None => out.extend_from_slice(bytes),
        Some("zstd") => drop(ZstdDecoder::new(bytes).read_to_end(&mut out).await.unwrap()),
        Some("br") => drop(
            BrotliDecoder::new(bytes)
                .read_to_end(&mut out)
                .await
                .unwrap(),
        ),
        Some("gzip") => drop(GzipDecoder::new(bytes).read_to_end(&mut out).await.unwrap()),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

#[tokio::test]
async fn text_is_compressed_by_the_clients_choice() {
    let site = site();
    let addr = runner(&site, Compression::default());
    let plain = get(addr, "/long.html", &[]).await;
    assert!(plain.headers.get("content-encoding").is_none());
    assert_eq!(plain.header("vary"), "Accept-Encoding");
    assert_eq!(plain.body, page().as_bytes());
    let cases = [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("zstd;q=0.5, gzip", "gzip"),
    ];
    for (accept, coding) in cases {
        let reply = get(addr, "/long.html", &[("accept-encoding", accept)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{accept}");
        assert_eq!(reply.header("content-encoding"), coding, "{accept}");
        assert_eq!(reply.header("vary"), "Accept-Encoding");
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        assert!(reply.headers.get("content-length").is_none(), "streamed");
        assert!(reply.headers.get("accept-ranges").is_none());
        let tag = plain.header("etag").trim_matches('"');
        assert_eq!(reply.header("etag"), format!("W/\"{tag}-{coding}\""));
        assert!(
            reply.body.len() < plain.body.len() / 3,
            "{coding}: {}",
            reply.body.len()
        );
        assert_eq!(decoded(&reply).await, page().as_bytes(), "{coding}");
    }
    let json = get(addr, "/data.json", &[("accept-encoding", "br")]).await;
    assert_eq!(json.header("content-encoding"), "br");
}

#[tokio::test]
async fn a_304_only_for_the_representation_held() {
    let site = site();
    let addr = runner(&site, Compression::default());
    let zstd = get(addr, "/long.html", &[("accept-encoding", "zstd")]).await;
    let held = zstd.header("etag");
    let again = [("accept-encoding", "zstd"), ("if-none-match", held)];
    let revalidated = get(addr, "/long.html", &again).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.header("etag"), held);
    assert_eq!(revalidated.header("vary"), "Accept-Encoding");
    assert!(revalidated.body.is_empty());

    // The same tag from a client that now takes gzip, or nothing: the full
    // response, in its coding.
    let other = [("accept-encoding", "gzip"), ("if-none-match", held)];
    let gzip = get(addr, "/long.html", &other).await;
    assert_eq!(gzip.status, StatusCode::OK);
    assert_eq!(gzip.header("content-encoding"), "gzip");
    let identity = get(addr, "/long.html", &[("if-none-match", held)]).await;
    assert_eq!(identity.status, StatusCode::OK);
    assert!(identity.headers.get("content-encoding").is_none());
    // The uncompressed body's own tag revalidates it, with the Vary of its 200.
    let own = [
        ("accept-encoding", "zstd"),
        ("if-none-match", identity.header("etag")),
    ];
    let revalidated = get(addr, "/long.html", &own).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.header("etag"), identity.header("etag"));
    assert_eq!(revalidated.header("vary"), "Accept-Encoding");

    // The file changes: the old tag no longer revalidates.
    site.write("long.html", page().replace("Entry 7<", "Entry seven<"));
    let changed = get(addr, "/long.html", &again).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag"), held);
}

#[tokio::test]
async fn what_stays_as_the_component_sent_it() {
    let site = site();
    let addr = runner(&site, Compression::default());
    let all = ("accept-encoding", "zstd, br, gzip");
    let png = get(addr, "/photo.png", &[all]).await;
    assert!(png.headers.get("content-encoding").is_none());
    assert!(png.headers.get("vary").is_none());

    let sidecar = get(addr, "/app.js", &[all]).await;
    assert_eq!(sidecar.header("content-encoding"), "br");
    assert_eq!(sidecar.text(), "precompressed brotli, not real");
    // No brotli wanted: compressed on the fly instead.
    let zstd = get(addr, "/app.js", &[("accept-encoding", "zstd")]).await;
    assert_eq!(zstd.header("content-encoding"), "zstd");
    assert_eq!(
        decoded(&zstd).await,
        "console.log('compress me');\n".repeat(100).as_bytes()
    );

    let range = get(addr, "/long.html", &[all, ("range", "bytes=0-14")]).await;
    assert_eq!(range.status, StatusCode::PARTIAL_CONTENT);
    assert!(range.headers.get("content-encoding").is_none());
    assert_eq!(range.header("vary"), "Accept-Encoding", "as its 200 would");
    assert_eq!(range.text(), "<!doctype html>");

    // A site's `_headers` says no-transform.
    let raw = get(addr, "/raw/notes.txt", &[all]).await;
    assert!(raw.headers.get("content-encoding").is_none());
    assert_eq!(raw.header("content-length"), (17 * 200).to_string());

    // Below the threshold (index.html is 11 bytes).
    let small = get(addr, "/", &[all]).await;
    assert!(small.headers.get("content-encoding").is_none());
}

#[tokio::test]
async fn head_says_what_get_would() {
    let site = site();
    let addr = runner(&site, Compression::default());
    let headers = [("accept-encoding", "br")];
    let get = get(addr, "/long.html", &headers).await;
    let head = client::request(addr, Method::HEAD, "/long.html", &headers).await;
    assert!(head.body.is_empty());
    for name in ["content-encoding", "etag", "vary", "content-type"] {
        assert_eq!(head.headers.get(name), get.headers.get(name), "{name}");
    }
    assert!(head.headers.get("content-length").is_none());
}

#[tokio::test]
async fn the_codings_and_the_threshold_are_settings() {
    let site = site();
    let off = runner(&site, "none".parse().unwrap());
    let reply = get(off, "/long.html", &[("accept-encoding", "gzip")]).await;
    assert!(reply.headers.get("content-encoding").is_none());
    assert!(reply.headers.get("vary").is_none());

    let gzip_only = runner(
        &site,
        Compression {
            codings: vec![Coding::Gzip],
            min_size: 1024,
        },
    );
    let reply = get(gzip_only, "/long.html", &[("accept-encoding", "zstd, br")]).await;
    assert!(reply.headers.get("content-encoding").is_none());
    let reply = get(
        gzip_only,
        "/long.html",
        &[("accept-encoding", "zstd, gzip")],
    )
    .await;
    assert_eq!(reply.header("content-encoding"), "gzip");

    let high = runner(
        &site,
        Compression {
            min_size: 200 << 10,
            ..Compression::default()
        },
    );
    let reply = get(high, "/long.html", &[("accept-encoding", "gzip")]).await;
    assert!(reply.headers.get("content-encoding").is_none());
}

#[tokio::test]
async fn the_access_log_counts_the_bytes_sent() {
    // Through the metrics, which count what the log line says.
    let site = site();
    let started = support::start_runner_with(Config {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..site.config()
    });
    let reply = get(started.addr, "/long.html", &[("accept-encoding", "gzip")]).await;
    assert_eq!(reply.header("content-encoding"), "gzip");
    let metrics = get(started.metrics.unwrap(), "/metrics", &[]).await.text();
    let sent: f64 = metrics
        .lines()
        .find(|line| line.starts_with("sitebox_http_response_body_bytes_total"))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {metrics}"));
    assert_eq!(sent, reply.body.len() as f64);
}

/// A client that refuses the plain bytes (`identity;q=0`) of a file the
/// runner compresses gets it compressed, whole, where the component alone
/// would answer 406; what the runner leaves as it is (too small, an image,
/// `no-transform`) stays a 406, with `Vary` (issue 32: every one was a 406,
/// and without `Vary`).
#[tokio::test]
async fn refusing_identity_gets_what_the_runner_compresses() {
    let site = site();
    let addr = runner(&site, Compression::default());
    let refusing = ("accept-encoding", "gzip, identity;q=0");
    for headers in [vec![refusing], vec![refusing, ("range", "bytes=0-14")]] {
        let reply = get(addr, "/long.html", &headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{headers:?}");
        assert_eq!(reply.header("content-encoding"), "gzip", "{headers:?}");
        assert_eq!(reply.header("vary"), "Accept-Encoding");
        assert_eq!(decoded(&reply).await, page().as_bytes(), "{headers:?}");
    }
    let head = client::request(addr, Method::HEAD, "/long.html", &[refusing]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-encoding"), "gzip");
    // The sidecar is brotli; gzip is made on the fly.
    let js = get(addr, "/app.js", &[refusing]).await;
    assert_eq!(
        (js.status, js.header("content-encoding")),
        (StatusCode::OK, "gzip")
    );
    for target in ["/", "/photo.png", "/raw/notes.txt"] {
        let reply = get(addr, target, &[refusing]).await;
        assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE, "{target}");
        assert_eq!(reply.header("vary"), "Accept-Encoding", "{target}");
    }
    let off = runner(&site, "none".parse().unwrap());
    let reply = get(off, "/long.html", &[refusing]).await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE, "compression off");
    let zstd_only = runner(
        &site,
        Compression {
            codings: vec![Coding::Zstd],
            min_size: 1024,
        },
    );
    let reply = get(zstd_only, "/long.html", &[refusing]).await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_ACCEPTABLE,
        "no gzip on the fly"
    );
}
