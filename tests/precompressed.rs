//! Precompressed sidecars over real HTTP: `x.js.br`, `.zst`, `.gz` beside
//! `x.js` are sent when `Accept-Encoding` allows (q-values, `*`,
//! `identity;q=0`), with `Content-Encoding`, the original's type, their own
//! length and ETag, and `Vary: Accept-Encoding` on every response for the file.

use sitebox_tests as support;

use http::{Method, StatusCode};
use support::Server;
use support::client::{self, Reply};

const PLAIN: &[u8] = b"console.log('the plain file, longest of all');";
const BROTLI: &[u8] = b"brotli bytes";
const ZSTD: &[u8] = b"zstd bytes!";
const GZIP: &[u8] = b"gzip bytes, a few more";

/// Sidecar contents are markers, not real compression: the server never
/// decodes them, it only picks one.
fn ensure_files(server: &Server) {
    static WRITTEN: std::sync::Once = std::sync::Once::new();
    WRITTEN.call_once(|| {
        server.site.write("app.js", PLAIN);
        server.site.write("app.js.br", BROTLI);
        server.site.write("app.js.zst", ZSTD);
        server.site.write("app.js.gz", GZIP);
        server.site.write("gzonly.css", "body{}");
        server.site.write("gzonly.css.gz", "gz");
        server
            .site
            .write("long.txt", "a line of plain text\n".repeat(200));
    });
}

async fn get(server: &Server, target: &str, accept: Option<&str>) -> Reply {
    ensure_files(server);
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
    client::request(server.addr, Method::GET, target, &headers).await
}

async fn the_accepted_sidecar_is_sent(server: &Server) {
    let cases: [(Option<&str>, &[u8], Option<&str>); 10] = [
        (None, PLAIN, None),
        (Some("br"), BROTLI, Some("br")),
        (Some("gzip, deflate, br, zstd"), BROTLI, Some("br")),
        (Some("zstd"), ZSTD, Some("zstd")),
        (Some("gzip"), GZIP, Some("gzip")),
        (Some("br;q=0.1, gzip;q=0.9"), GZIP, Some("gzip")),
        (Some("br;q=0, zstd;q=0, gzip;q=0"), PLAIN, None),
        (Some("deflate"), PLAIN, None),
        (Some("gzip;q=0.5, identity"), PLAIN, None),
        (Some("*"), BROTLI, Some("br")),
    ];
    for (accept, body, coding) in cases {
        let reply = get(server, "/app.js", accept).await;
        assert_eq!(reply.status, StatusCode::OK, "{accept:?}");
        assert_eq!(&reply.body[..], body, "{accept:?}");
        assert_eq!(
            reply.header("content-length"),
            body.len().to_string(),
            "{accept:?}"
        );
        assert_eq!(
            reply
                .headers
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            coding,
            "{accept:?}"
        );
        assert_eq!(
            reply.header("content-type"),
            "text/javascript; charset=utf-8",
            "{accept:?}"
        );
        assert_eq!(reply.header("vary"), "Accept-Encoding", "{accept:?}");
    }
}

async fn each_representation_has_its_own_etag(server: &Server) {
    let mut tags = Vec::new();
    for accept in [None, Some("br"), Some("zstd"), Some("gzip")] {
        let reply = get(server, "/app.js", accept).await;
        let etag = reply.header("etag").to_owned();
        assert!(!tags.contains(&etag), "{accept:?} shares an ETag");
        let headers: Vec<(&str, &str)> = accept
            .map(|a| ("accept-encoding", a))
            .into_iter()
            .chain([("if-none-match", etag.as_str())])
            .collect();
        let revalidated = client::request(server.addr, Method::GET, "/app.js", &headers).await;
        assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "{accept:?}");
        assert_eq!(
            revalidated.header("vary"),
            "Accept-Encoding",
            "{accept:?}: Vary on the 304 too"
        );
        tags.push(etag);
    }
}

async fn identity_can_be_refused(server: &Server) {
    let gzip = get(server, "/gzonly.css", Some("gzip, identity;q=0")).await;
    assert_eq!((gzip.status, gzip.text().as_str()), (StatusCode::OK, "gz"));
    let refused = get(server, "/gzonly.css", Some("br, identity;q=0")).await;
    assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
    let star = get(server, "/gzonly.css", Some("*;q=0")).await;
    assert_eq!(star.status, StatusCode::NOT_ACCEPTABLE);
    // Issue 32: a 406 said nothing of what it depended on.
    for reply in [&refused, &star] {
        assert_eq!(reply.header("vary"), "Accept-Encoding");
    }
    // No sidecar, and a text the runner compresses on the fly: the runner
    // sends it in gzip; `wasmtime serve` sends bytes as they are, so 406.
    let long = get(server, "/long.txt", Some("gzip, identity;q=0")).await;
    assert_eq!(long.header("vary"), "Accept-Encoding");
    if server.backend.is_wasmtime_serve() {
        assert_eq!(long.status, StatusCode::NOT_ACCEPTABLE);
    } else {
        assert_eq!(
            (long.status, long.header("content-encoding")),
            (StatusCode::OK, "gzip")
        );
    }
    let plain = get(server, "/gzonly.css", Some("br")).await;
    assert_eq!(
        (plain.status, plain.text().as_str()),
        (StatusCode::OK, "body{}")
    );
}

async fn files_without_sidecars_have_no_vary(server: &Server) {
    let reply = get(server, "/index.css", Some("gzip, br")).await;
    assert!(reply.headers.get("vary").is_none());
    assert!(reply.headers.get("content-encoding").is_none());
}

async fn ranges_apply_to_the_chosen_representation(server: &Server) {
    ensure_files(server);
    let headers = [("accept-encoding", "gzip"), ("range", "bytes=0-3")];
    let reply = client::request(server.addr, Method::GET, "/app.js", &headers).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&reply.body[..], &GZIP[..4]);
    assert_eq!(
        reply.header("content-range"),
        format!("bytes 0-3/{}", GZIP.len())
    );
    assert_eq!(reply.header("content-encoding"), "gzip");
}

/// A 416 carries no representation: the `Content-Range` names the length of
/// the one selected (the sidecar), and nothing claims a coding, validators or
/// a freshness lifetime for its HTML page (issue 32: it said
/// `Content-Encoding: gzip` over plain HTML, with the sidecar's `ETag`).
async fn a_416_of_a_sidecar_describes_no_representation(server: &Server) {
    ensure_files(server);
    let headers = [("accept-encoding", "gzip"), ("range", "bytes=1000-")];
    let reply = client::request(server.addr, Method::GET, "/app.js", &headers).await;
    assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        reply.header("content-range"),
        format!("bytes */{}", GZIP.len())
    );
    for name in ["content-encoding", "etag", "last-modified"] {
        assert!(
            reply.headers.get(name).is_none(),
            "{name} on a 416: {:?}",
            reply.headers
        );
    }
    assert!(
        !reply
            .headers
            .get("cache-control")
            .is_some_and(|value| value.to_str().unwrap().contains("max-age")),
        "a 416 is not fresh for an hour: {:?}",
        reply.headers
    );
    assert!(reply.text().contains("416"), "{}", reply.text());
    assert_eq!(
        reply.header("vary"),
        "Accept-Encoding",
        "its range was of what Accept-Encoding chose"
    );
}

/// Several ranges of a file with sidecars come from the plain file: a
/// multipart body is not gzip, and one `Content-Encoding` cannot describe
/// its parts (issue 32: `curl --compressed` failed on it, exit 61).
async fn several_ranges_of_a_sidecar_come_from_the_plain_file(server: &Server) {
    ensure_files(server);
    let headers = [("accept-encoding", "gzip"), ("range", "bytes=0-1, 4-5")];
    let reply = client::request(server.addr, Method::GET, "/app.js", &headers).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert!(
        reply.headers.get("content-encoding").is_none(),
        "{:?}",
        reply.headers
    );
    assert_eq!(reply.header("vary"), "Accept-Encoding");
    let plain = get(server, "/app.js", None).await;
    assert_eq!(
        reply.header("etag"),
        plain.header("etag"),
        "the plain file's"
    );
    let text = reply.text();
    for (first, last) in [(0, 1), (4, 5)] {
        let head = format!(
            "Content-Range: bytes {first}-{last}/{}\r\n\r\n",
            PLAIN.len()
        );
        let data = std::str::from_utf8(&PLAIN[first..=last]).unwrap();
        assert!(text.contains(&format!("{head}{data}\r\n")), "{text:?}");
    }
    // Refusing the plain file, the client gets the sidecar whole: a server
    // may ignore a Range (RFC 9110 §14.2).
    let refused = [
        ("accept-encoding", "gzip, identity;q=0"),
        ("range", "bytes=0-1, 4-5"),
    ];
    let reply = client::request(server.addr, Method::GET, "/app.js", &refused).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.body[..], GZIP);
    assert_eq!(reply.header("content-encoding"), "gzip");
    // One range is of the sidecar's bytes, as before.
    let one = [("accept-encoding", "gzip"), ("range", "bytes=0-1, 2-3")];
    let reply = client::request(server.addr, Method::GET, "/app.js", &one).await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&reply.body[..], &GZIP[..4], "merged into one range");
    assert_eq!(reply.header("content-encoding"), "gzip");
}

async fn head_matches_get(server: &Server) {
    let get = get(server, "/app.js", Some("zstd")).await;
    ensure_files(server);
    let head = client::request(
        server.addr,
        Method::HEAD,
        "/app.js",
        &[("accept-encoding", "zstd")],
    )
    .await;
    for name in [
        "content-length",
        "content-encoding",
        "etag",
        "vary",
        "content-type",
    ] {
        assert_eq!(head.headers.get(name), get.headers.get(name), "{name}");
    }
}

support::on_each_backend!(
    shared_server =>
    the_accepted_sidecar_is_sent,
    each_representation_has_its_own_etag,
    identity_can_be_refused,
    files_without_sidecars_have_no_vary,
    ranges_apply_to_the_chosen_representation,
    a_416_of_a_sidecar_describes_no_representation,
    several_ranges_of_a_sidecar_come_from_the_plain_file,
    head_matches_get,
);
