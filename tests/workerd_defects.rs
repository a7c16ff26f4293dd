//! Defects of the workerd deployment (`deploy/workerd/`), each reproduced over
//! real HTTP on local workerd: precompressed files compressed twice, posts
//! behind a TLS-terminating proxy refused, methods outside wasi:http's list
//! trapping, `_headers` values beyond Latin-1, bodies buffered whole before the
//! 64 KiB limit (and a cap of its own in `serve.js` that must not be below
//! the component's), the bucket's name in two places, `build.mjs` deleting
//! files it did not write and leaving out symlinked directories; the board's
//! storage in `storage`. Needs
//! `cd deploy/workerd && npm ci`.

use sitebox_tests as support;

use http::{Method, StatusCode};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use support::client;
use support::proxy::{Kind, Proxy};
use support::workerd::{Worker, Workerd};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "workerd_defects/storage.rs"]
mod storage;

const GZIP_SIDECAR: &[u8] = b"\x1f\x8b\x08\x00 stands for app.js, gzipped";
const BROTLI_SIDECAR: &[u8] = b"stands for app.js, brotli";

/// The site of these tests, and its worker, built once.
fn site() -> &'static (TempDir, Option<Worker>) {
    static SITE: OnceLock<(TempDir, Option<Worker>)> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let write = |name: &str, contents: &[u8]| {
            std::fs::create_dir_all(site.join(name).parent().unwrap()).unwrap();
            std::fs::write(site.join(name), contents).unwrap();
        };
        write("index.html", b"home");
        write("index.css", b"body {}");
        write("app.js", b"render()");
        write("app.js.gz", GZIP_SIDECAR);
        write("app.js.br", BROTLI_SIDECAR);
        write("note.html", b"<p>note</p>");
        write("_headers", "/note.html\n  X-Note: 日本\n".as_bytes());
        write("sub/index.html", b"sub home");
        write("sub/page.txt", b"a page");
        std::os::unix::fs::symlink("sub", site.join("alias")).unwrap();
        std::os::unix::fs::symlink(".", site.join("sub/loop")).unwrap();
        let worker = support::workerd::worker_for(&site);
        (dir, worker)
    })
}

fn site_dir() -> PathBuf {
    site().0.path().join("site")
}

async fn start(dir: &Path) -> Option<Workerd> {
    let worker = site().1.as_ref()?;
    Some(Workerd::start(worker, &dir.join("storage")).await)
}

/// A sidecar already has its coding: workerd must send its bytes as they
/// are, not gzip them again (a browser would get gzip bytes for JS).
#[tokio::test]
async fn precompressed_files_go_out_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    for (accept, coding, sidecar) in [("gzip", "gzip", GZIP_SIDECAR), ("br", "br", BROTLI_SIDECAR)]
    {
        let reply = client::request(
            workerd.addr,
            Method::GET,
            "/app.js",
            &[("accept-encoding", accept)],
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{accept}");
        assert_eq!(reply.header("content-encoding"), coding);
        assert_eq!(
            &reply.body[..],
            sidecar,
            "{accept}: the sidecar's own bytes"
        );
    }
    let plain = client::get(workerd.addr, "/app.js").await;
    assert_eq!(&plain.body[..], b"render()");
    assert!(plain.headers.get("content-encoding").is_none());
}

/// Behind a proxy that terminates TLS the browser's `Origin` is `https://`:
/// the board's same-origin check must see the scheme the proxy names.
#[tokio::test]
async fn a_post_through_a_tls_terminating_proxy_is_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    for kind in [Kind::Nginx, Kind::Haproxy] {
        let Some(proxy) = Proxy::start(kind, workerd.addr) else {
            return;
        };
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &proxy.origin()),
        ];
        let body = format!("message=through+{kind:?}");
        let reply = proxy.request(Method::POST, "/board", &headers, body).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "{kind:?}: {}",
            reply.text()
        );
    }
    // Straight to workerd, an `https://` origin is still another origin.
    let origin = format!("https://{}", workerd.addr);
    let direct = client::Connection::open(workerd.addr)
        .await
        .send_body(
            Method::POST,
            "/board",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", &origin),
            ],
            "message=direct",
        )
        .await;
    assert_eq!(direct.status, StatusCode::FORBIDDEN);
}

/// The runner answers methods it does not know with 501; on workerd they
/// must not trap the component (a 500 and a stack trace in the log).
#[tokio::test]
async fn methods_outside_wasi_http_are_501() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    for method in ["PROPFIND", "MKCOL", "QUERY", "BREW"] {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = client::request(workerd.addr, method.clone(), "/", &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED, "{method}");
    }
    assert!(
        !workerd.log().contains("the component failed"),
        "{}",
        workerd.log()
    );
}

/// A `_headers` value in UTF-8 goes out as its bytes, as the runner sends it
/// (JS headers are Latin-1 strings: decoding the bytes as UTF-8 made them
/// unsendable and the page a 500).
#[tokio::test]
async fn a_header_value_beyond_latin1_gets_the_runners_answer() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    let runner = support::start_runner(sitebox_runner::Config::new(
        site_dir(),
        dir.path().join("data"),
    ));
    for addr in [runner, workerd.addr] {
        let reply = client::get(addr, "/note.html").await;
        assert_eq!(reply.status, StatusCode::OK, "{addr}: {}", reply.text());
        assert_eq!(
            reply.headers["x-note"].as_bytes(),
            "日本".as_bytes(),
            "{addr}"
        );
    }
}

/// Sends a POST head to `addr`, then `body` (if any) on a task, and returns
/// the status line of the answer, or `None` if none came within `wait`.
async fn post_head(addr: std::net::SocketAddr, head: &str, endless: bool) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let sender = tokio::spawn(async move {
        // An endless chunked body: 64 KiB chunks until the server stops reading.
        let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
        while endless && writer.write_all(chunk.as_bytes()).await.is_ok() {}
        writer
    });
    let mut answer = Vec::new();
    let read = async {
        let mut buffer = [0; 4096];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let answered = tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .is_ok();
    sender.abort();
    let line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .map(str::to_owned);
    line.filter(|_| answered)
}

/// A body over the component's 64 KiB is refused without being read whole:
/// at once by its `Content-Length`, and when streamed, after the first bytes
/// over the limit (workerd used to buffer 300 MB before the limit applied).
#[tokio::test]
async fn a_huge_body_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    let host = workerd.addr;
    let form = "Content-Type: application/x-www-form-urlencoded";
    let declared = format!(
        "POST /board HTTP/1.1\r\nHost: {host}\r\n{form}\r\nContent-Length: 300000000\r\n\r\n"
    );
    let answer = post_head(workerd.addr, &declared, false).await;
    assert_eq!(
        answer.as_deref(),
        Some("HTTP/1.1 413 Payload Too Large"),
        "by Content-Length"
    );
    let chunked = format!(
        "POST /api/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let answer = post_head(workerd.addr, &chunked, true).await;
    assert_eq!(
        answer.as_deref(),
        Some("HTTP/1.1 413 Payload Too Large"),
        "chunked"
    );
    // And the site still answers.
    assert_eq!(client::get(workerd.addr, "/").await.status, StatusCode::OK);
}

/// The bucket has one name: a worker built with `--bucket board` whose
/// config has no `SITEBOX_BUCKET` binding (as a Wrangler config without that
/// var) still finds its board (the key-value opened `board` while the
/// component asked for its default, `sitebox`: every board request a 503).
#[tokio::test]
async fn the_bucket_is_named_in_one_place() {
    if site().1.is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let built = support::workerd::build(&site_dir(), &out, &["--bucket", "board"]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let config = std::fs::read_to_string(out.join("config.capnp")).unwrap();
    let without: String = config
        .lines()
        .filter(|line| !line.contains("\"SITEBOX_BUCKET\""))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without, config, "the config names the bucket");
    let edited = out.join("without-bucket.capnp");
    std::fs::write(&edited, without).unwrap();
    let workerd = Workerd::start_config(&edited, &dir.path().join("storage")).await;
    let reply = client::post_form(workerd.addr, "/board", "message=one+name").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert!(
        client::get(workerd.addr, "/board")
            .await
            .text()
            .contains("one name")
    );
}

/// `build.mjs` refuses an `--out` that overlaps the site or holds files it
/// did not write, and a rebuild deletes only what the last build wrote.
#[test]
fn the_build_deletes_only_what_it_wrote() {
    if !support::workerd::tools_found() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("sub")).unwrap();
    std::fs::write(site.join("index.html"), "home").unwrap();
    std::fs::write(site.join("sub/page.html"), "page").unwrap();
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("worker.js"), "their worker").unwrap();
    std::fs::write(theirs.join("other.wasm"), "their wasm").unwrap();
    let before = |path: &Path| std::fs::read(path).unwrap();
    let kept = [
        site.join("index.html"),
        site.join("sub/page.html"),
        theirs.join("worker.js"),
        theirs.join("other.wasm"),
    ]
    .map(|path| (before(&path), path));

    for (out, why) in [
        (site.clone(), "the site itself"),
        (site.join("sub"), "inside the site"),
        (dir.path().to_owned(), "holding the site"),
        (theirs.clone(), "files the build did not write"),
    ] {
        let output = support::workerd::build(&site, &out, &[]);
        assert!(!output.status.success(), "--out {why} was taken");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--out"),
            "{why}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        for (contents, path) in &kept {
            assert_eq!(&std::fs::read(path).unwrap(), contents, "{why}: {path:?}");
        }
    }

    let out = dir.path().join("out");
    assert!(support::workerd::build(&site, &out, &[]).status.success());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("extra.wasm"), "mine").unwrap();
    std::fs::remove_file(site.join("sub/page.html")).unwrap();
    let rebuilt = support::workerd::build(&site, &out, &[]);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    assert_eq!(std::fs::read(out.join("extra.wasm")).unwrap(), b"mine");
    assert!(
        !out.join("site/1.bin").exists(),
        "the last build's file is gone"
    );
    assert!(out.join("site/0.bin").exists());
}

/// A symlink to a directory inside the site serves it, as on the runner
/// (`build.mjs` left it out: 404); one that loops back is left out.
#[tokio::test]
async fn a_symlinked_directory_serves_as_on_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    for (target, body) in [
        ("/sub/", "sub home"),
        ("/alias/", "sub home"),
        ("/alias/page.txt", "a page"),
    ] {
        let reply = client::get(workerd.addr, target).await;
        assert_eq!(
            (reply.status, reply.text()),
            (StatusCode::OK, body.to_owned()),
            "{target}"
        );
    }
    let looped = client::get(workerd.addr, "/sub/loop/page.txt").await;
    assert_eq!(looped.status, StatusCode::NOT_FOUND);
}

/// `serve.js` caps a body before the component sees it (so a huge one is
/// never buffered whole); the cap must let through every body the component
/// takes: a post of exactly its limit is stored.
#[tokio::test]
async fn a_body_at_the_components_limit_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    let json = r#"{"text":"at the limit"}"#;
    let limit = sitebox::board::MAX_BODY_BYTES;
    let padded = format!("{json}{}", " ".repeat(limit - json.len()));
    let reply = client::post_json(workerd.addr, "/api/messages", padded.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let over = format!("{padded} ");
    let reply = client::post_json(workerd.addr, "/api/messages", over).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}
