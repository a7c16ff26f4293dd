//! Byte ranges over real HTTP (RFC 9110 §14): single ranges (first byte,
//! last byte, suffix, open), a suffix longer than the file, several ranges as
//! `multipart/byteranges`, 416 beyond the end, malformed ranges ignored,
//! `If-Range`, HEAD, and header names in any case.

use sitebox_tests as support;

use http::{Method, StatusCode};
use std::time::{Duration, SystemTime};
use support::Server;
use support::client::{self, Reply};

/// A 1000-byte file with a recognisable pattern.
const FILE: &str = "/numbers.txt";

fn contents() -> Vec<u8> {
    (0..1000).map(|i| b'0' + (i % 10) as u8).collect()
}

/// Written once: rewriting it would change its validators under a test.
/// Dated a day back, so that its `Last-Modified` is a strong validator.
fn ensure_file(server: &Server) {
    static WRITTEN: std::sync::Once = std::sync::Once::new();
    WRITTEN.call_once(|| {
        server.site.write(&FILE[1..], contents());
        let yesterday = SystemTime::now() - Duration::from_secs(86_400);
        set_modified(server, &FILE[1..], yesterday);
    });
}

fn set_modified(server: &Server, relative: &str, time: SystemTime) {
    let path = server.site.static_dir.join(relative);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(time).unwrap();
}

async fn range(server: &Server, value: &str, extra: &[(&str, &str)]) -> Reply {
    ensure_file(server);
    let mut headers = vec![("range", value)];
    headers.extend_from_slice(extra);
    client::request(server.addr, Method::GET, FILE, &headers).await
}

async fn single_ranges(server: &Server) {
    let all = contents();
    let cases = [
        ("bytes=0-0", 0, 0, "first byte"),
        ("bytes=999-999", 999, 999, "last byte"),
        ("bytes=-1", 999, 999, "last byte as a suffix"),
        ("bytes=-500", 500, 999, "suffix"),
        ("bytes=500-", 500, 999, "open"),
        ("bytes=10-19", 10, 19, "middle"),
        ("bytes=990-5000", 990, 999, "past the end is clipped"),
        ("bytes=-5000", 0, 999, "suffix longer than the file"),
    ];
    for (value, first, last, what) in cases {
        let reply = range(server, value, &[]).await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{what}");
        assert_eq!(
            reply.header("content-range"),
            format!("bytes {first}-{last}/1000"),
            "{what}"
        );
        assert_eq!(
            reply.header("content-length"),
            (last - first + 1).to_string(),
            "{what}"
        );
        assert_eq!(&reply.body[..], &all[first..=last], "{what}");
        assert_eq!(reply.header("content-type"), "text/plain; charset=utf-8");
        assert_eq!(reply.header("accept-ranges"), "bytes");
    }
}

async fn beyond_the_end_is_416(server: &Server) {
    for value in ["bytes=1000-", "bytes=1000-2000", "bytes=5000-6000, 7000-"] {
        let reply = range(server, value, &[]).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{value}");
        assert_eq!(reply.header("content-range"), "bytes */1000", "{value}");
    }
}

async fn malformed_ranges_are_ignored(server: &Server) {
    for value in [
        "bytes=500-100",
        "bytes=abc",
        "bytes=1-2-3",
        "lines=0-1",
        "bytes=--5",
        "bytes= 0-1x",
    ] {
        let reply = range(server, value, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{value}");
        assert_eq!(reply.body, contents(), "{value}");
        assert!(reply.headers.get("content-range").is_none(), "{value}");
    }
}

async fn several_ranges_are_multipart(server: &Server) {
    let all = contents();
    let reply = range(server, "bytes=0-9, 500-509, -5", &[]).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    let content_type = reply.header("content-type");
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    assert_eq!(reply.header("content-length"), reply.body.len().to_string());
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
    assert_eq!(
        parts.len(),
        5,
        "three parts between the delimiters: {text:?}"
    );
    assert_eq!(parts[4], "--\r\n", "the closing delimiter");
    for (part, (first, last)) in parts[1..4].iter().zip([(0, 9), (500, 509), (995, 999)]) {
        let (head, data) = part.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("Content-Type: text/plain; charset=utf-8"),
            "{head}"
        );
        assert!(
            head.contains(&format!("Content-Range: bytes {first}-{last}/1000")),
            "{head}"
        );
        assert_eq!(data.trim_end_matches("\r\n").as_bytes(), &all[first..=last]);
    }
    let merged = range(server, "bytes=0-9, 5-19", &[]).await;
    assert_eq!(
        merged.header("content-range"),
        "bytes 0-19/1000",
        "overlapping ranges merge"
    );
}

async fn if_range_picks_part_or_whole(server: &Server) {
    ensure_file(server);
    let plain = client::get(server.addr, FILE).await;
    let etag = plain.header("etag").to_owned();
    let modified = plain.header("last-modified").to_owned();
    for validator in [etag.as_str(), modified.as_str()] {
        let reply = range(server, "bytes=0-1", &[("if-range", validator)]).await;
        assert_eq!(
            reply.status,
            StatusCode::PARTIAL_CONTENT,
            "If-Range: {validator}"
        );
    }
    let weak = format!("W/{etag}");
    for stale in ["\"old\"", weak.as_str(), "Sat, 01 Jan 2000 00:00:00 GMT"] {
        let reply = range(server, "bytes=0-1", &[("if-range", stale)]).await;
        assert_eq!(
            (reply.status, reply.body.len()),
            (StatusCode::OK, 1000),
            "If-Range: {stale}"
        );
    }
}

/// A `Last-Modified` from the second of the answer's `Date` is weak (RFC
/// 9110 §8.8.2.2, §13.1.5): the file may change again within that second,
/// and a 206 would splice the new bytes onto the old (issue 32: it was a
/// 206). Tried until a request meets its file's second.
async fn if_range_with_a_date_of_this_second_sends_the_whole(server: &Server) {
    // One file per backend: they share the site.
    let name = format!("fresh-{:?}.txt", server.backend);
    for _ in 0..10 {
        // Written early in a second, to be asked within it; not at its very
        // start: the file system's clock may lag a few milliseconds behind
        // and date the file in the second before.
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        tokio::time::sleep(Duration::from_nanos(
            1_100_000_000 - u64::from(since_epoch.subsec_nanos()),
        ))
        .await;
        server.site.write(&name, "AAAAABBBBB");
        let target = format!("/{name}");
        let first = client::get(server.addr, &target).await;
        let modified = first.header("last-modified").to_owned();
        let headers = [("range", "bytes=5-"), ("if-range", modified.as_str())];
        let reply = client::request(server.addr, Method::GET, &target, &headers).await;
        if reply.header("date") != modified {
            continue; // the second ended first: try again
        }
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (StatusCode::OK, "AAAAABBBBB"),
            "If-Range: {modified} within that second"
        );
        return;
    }
    panic!("no request met its file's second in ten tries");
}

/// Range is defined for GET only; HEAD answers as a plain GET would.
async fn head_ignores_range(server: &Server) {
    ensure_file(server);
    let get = client::get(server.addr, FILE).await;
    let head = client::request(server.addr, Method::HEAD, FILE, &[("range", "bytes=0-9")]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    for name in ["content-length", "content-type", "etag", "accept-ranges"] {
        assert_eq!(head.headers.get(name), get.headers.get(name), "{name}");
    }
}

async fn header_names_in_any_case(server: &Server) {
    ensure_file(server);
    for name in ["range", "Range", "RANGE", "rAnGe"] {
        let (status, head, body) = client::raw(
            server.addr,
            &format!("GET {FILE} HTTP/1.1\r\nHost: test\r\n{name}: bytes=1-2"),
        );
        assert_eq!(status, 206, "{name}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-range: bytes 1-2/1000"),
            "{name}: {head}"
        );
        assert_eq!(body, b"12", "{name}");
    }
}

support::on_each_backend!(
    shared_server =>
    single_ranges,
    beyond_the_end_is_416,
    malformed_ranges_are_ignored,
    several_ranges_are_multipart,
    if_range_picks_part_or_whole,
    if_range_with_a_date_of_this_second_sends_the_whole,
    head_ignores_range,
    header_names_in_any_case,
);
