//! The same component on workerd (Cloudflare's Workers runtime), as
//! `deploy/workerd/` deploys it: the site embedded read-only with its files'
//! mtimes, the board in wasi:keyvalue over a SQLite-backed Durable Object.
//! Over real HTTP: files, types and the 404 page; the board by form and by
//! the JSON API, escaped; a site's own `_redirects` and `_headers`; and the
//! board after workerd is SIGKILLed and started again on the same storage.
//! Needs `cd deploy/workerd && npm ci`.

use sitebox_tests as support;

use http::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use support::board::{clear_as_admin, clear_by_api, create, listed, post_form, shown};
use support::client;
use support::workerd::{Workerd, object_files, worker};

fn static_file(name: &str) -> Vec<u8> {
    std::fs::read(support::repo_root().join("static").join(name)).unwrap()
}

/// workerd on a fresh, empty board in `dir`; `None` when the tests are skipped.
async fn start(dir: &Path) -> Option<Workerd> {
    let worker = worker()?;
    Some(Workerd::start(worker, &dir.join("storage")).await)
}

async fn assert_serves(addr: SocketAddr, target: &str, file: &str, content_type: &str) {
    let expected = static_file(file);
    let reply = client::assert_serves(addr, target, &expected, content_type).await;
    // The file's own mtime, not the in-memory filesystem's 0: ETags and
    // Last-Modified change when the file does.
    let modified = std::fs::metadata(support::repo_root().join("static").join(file))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        reply.header("last-modified"),
        httpdate::fmt_http_date(modified),
        "GET {target}"
    );
    let etag = reply.header("etag").to_owned();
    let revalidated = client::request(addr, Method::GET, target, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "GET {target}");
    let head = client::head(addr, target).await;
    assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
    assert_eq!(head.header("content-length"), expected.len().to_string());
}

#[tokio::test]
async fn the_site_with_types_mtimes_and_the_404_page() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    let addr = workerd.addr;
    assert_serves(addr, "/", "index.html", "text/html; charset=utf-8").await;
    assert_serves(
        addr,
        "/index.html",
        "index.html",
        "text/html; charset=utf-8",
    )
    .await;
    assert_serves(addr, "/index.css", "index.css", "text/css; charset=utf-8").await;
    assert_serves(addr, "/logo.png", "logo.png", "image/png").await;
    assert_serves(addr, "/page.html", "page.html", "text/html; charset=utf-8").await;
    assert!(
        client::get(addr, "/logo.png")
            .await
            .body
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );

    let not_found = static_file("NotFound.html");
    for target in [
        "/no-such-page",
        "/index.css/",
        "/a/b/c",
        "/%2e%2e/Cargo.toml",
    ] {
        let reply = client::get(addr, target).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{target}");
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(reply.body, not_found, "{target}");
    }
    let reply = client::request(addr, Method::PUT, "/index.css", &[]).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_board_by_form_and_by_the_json_api() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    let addr = workerd.addr;
    assert!(shown(addr).await.is_empty());

    post_form(addr, "/board", &[("message", "Hello, workerd! café ☕")]).await;
    post_form(addr, "/board", &[("message", "<script>alert(1)</script>")]).await;
    let page = client::get(addr, "/board").await.text();
    assert!(!page.contains("<script>alert"), "markup is escaped");
    assert_eq!(
        shown(addr).await,
        [
            "Hello, workerd! café ☕",
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        ]
    );

    let created = create(addr, "from the API <b>").await;
    let location = format!("/api/messages/{}", created["id"]);
    let fetched = client::get(addr, &location).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), created);
    assert_eq!(
        listed(addr).await,
        [
            json!("Hello, workerd! café ☕"),
            json!("<script>alert(1)</script>"),
            json!("from the API <b>")
        ]
    );
    assert_eq!(
        shown(addr).await[2],
        "from the API &lt;b&gt;",
        "API messages are on the page too"
    );

    let refused = client::post_form(addr, "/board/clear", String::new()).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
    assert_eq!(
        shown(addr).await.len(),
        3,
        "nothing cleared without the admin"
    );
    clear_as_admin(addr).await;
    assert!(shown(addr).await.is_empty());
    assert!(listed(addr).await.is_empty());

    let doomed = create(addr, "doomed").await;
    assert!(
        doomed["id"].as_u64() > created["id"].as_u64(),
        "ids are not reused"
    );
    clear_by_api(addr).await;
    assert!(listed(addr).await.is_empty());
    let gone = client::get(addr, &format!("/api/messages/{}", doomed["id"])).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(
        !workerd.log().contains("the component failed"),
        "{}",
        workerd.log()
    );
}

#[tokio::test]
async fn the_board_survives_sigkill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut workerd) = start(dir.path()).await else {
        return;
    };
    let addr = workerd.addr;
    post_form(addr, "/board", &[("message", "before the crash")]).await;
    let second = create(addr, "acknowledged, so durable").await;

    workerd.restart().await;
    assert_eq!(
        shown(addr).await,
        ["before the crash", "acknowledged, so durable"]
    );
    assert_eq!(
        listed(addr).await,
        [json!("before the crash"), json!("acknowledged, so durable")]
    );
    let after = create(addr, "after the restart").await;
    assert!(
        after["id"].as_u64() > second["id"].as_u64(),
        "the id counter survived too"
    );

    // A workerd on another storage directory has its own, empty board.
    workerd.kill();
    let other = start(&dir.path().join("other")).await.unwrap();
    assert!(listed(other.addr).await.is_empty());
}

/// The split: the stateless worker answers the site itself (files, the 404
/// page, methods, the API's own 404, a wrong admin password), so the Durable
/// Object never runs for them; the board's requests go through it.
#[tokio::test]
async fn only_the_boards_requests_reach_the_durable_object() {
    let dir = tempfile::tempdir().unwrap();
    let Some(workerd) = start(dir.path()).await else {
        return;
    };
    let addr = workerd.addr;
    let storage = dir.path().join("storage");
    assert_serves(addr, "/", "index.html", "text/html; charset=utf-8").await;
    assert_serves(addr, "/logo.png", "logo.png", "image/png").await;
    for (method, target, status) in [
        (Method::GET, "/no-such-page", StatusCode::NOT_FOUND),
        (Method::GET, "/api/no-such-thing", StatusCode::NOT_FOUND),
        (Method::GET, "/board/clear", StatusCode::METHOD_NOT_ALLOWED),
        (Method::OPTIONS, "/board", StatusCode::NO_CONTENT),
        (Method::DELETE, "/api/messages", StatusCode::UNAUTHORIZED),
    ] {
        let reply = client::request(addr, method.clone(), target, &[]).await;
        assert_eq!(reply.status, status, "{method} {target}");
    }
    // A wrong admin password is refused before the board is asked for: its
    // argon2 check never holds up the object.
    let wrong = [("authorization", "Bearer not the password")];
    let reply = client::request(addr, Method::DELETE, "/api/messages", &wrong).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(object_files(&storage), Vec::<PathBuf>::new());

    post_form(addr, "/board", &[("message", "through the object")]).await;
    assert_eq!(shown(addr).await, ["through the object"]);
    assert_eq!(listed(addr).await, [json!("through the object")]);
    assert_eq!(object_files(&storage).len(), 1, "the board's object ran");
}

/// `deploy/workerd/src/kv.js` on its own (node's test runner, on a stand-in
/// for the Durable Object's storage): counters, batches, buckets, errors.
#[test]
fn the_key_value_module_passes_its_own_tests() {
    if support::workerd::worker().is_none() {
        return;
    }
    let output = std::process::Command::new("node")
        .args(["--test", "test/"])
        .current_dir(support::repo_root().join("deploy/workerd"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "node --test failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The site's rules travel with it: a site with `_redirects` and `_headers`
/// built into a worker gets its redirects, its single-page-app rewrite and
/// its header blocks from the component on workerd too, and the rules files
/// stay unreachable.
#[tokio::test]
async fn the_sites_rules_apply_on_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("app")).unwrap();
    std::fs::write(site.join("index.html"), "home").unwrap();
    // What `Workerd::start` asks for until it is answered.
    std::fs::write(site.join("index.css"), "body {}").unwrap();
    let app = "<!doctype html><div id=app></div><script src=/app/app.js></script>";
    std::fs::write(site.join("app/index.html"), app).unwrap();
    std::fs::write(site.join("app/app.js"), "render()").unwrap();
    std::fs::write(
        site.join("_redirects"),
        "/old/* /app/:splat 301\n/app/* /app/index.html 200\n/x y\n",
    )
    .unwrap();
    std::fs::write(
        site.join("_headers"),
        "/*\n  X-Frame-Options: DENY\n/app/*\n  X-App: yes\n  ! X-Content-Type-Options\n",
    )
    .unwrap();
    let Some(worker) = support::workerd::worker_for(&site) else {
        return;
    };
    let workerd = Workerd::start(&worker, &dir.path().join("storage")).await;
    let addr = workerd.addr;

    let deep = client::get(addr, "/app/users/42?tab=2").await;
    assert_eq!(deep.status, StatusCode::OK);
    assert_eq!(deep.body, app.as_bytes(), "the app's index at a deep link");
    assert_eq!(deep.header("x-app"), "yes");
    assert_eq!(deep.header("x-frame-options"), "DENY");
    assert!(deep.headers.get("x-content-type-options").is_none());
    let script = client::get(addr, "/app/app.js").await;
    assert_eq!(
        (script.status, &script.body[..]),
        (StatusCode::OK, &b"render()"[..])
    );

    let moved = client::get(addr, "/old/users/42?tab=2").await;
    assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(moved.header("location"), "/app/users/42?tab=2");
    assert_eq!(moved.header("x-frame-options"), "DENY");
    let home = client::get(addr, "/").await;
    assert_eq!(
        (home.status, &home.body[..]),
        (StatusCode::OK, &b"home"[..])
    );
    assert_eq!(home.header("x-content-type-options"), "nosniff");
    for file in ["/_redirects", "/_headers"] {
        assert_eq!(
            client::get(addr, file).await.status,
            StatusCode::NOT_FOUND,
            "{file}"
        );
    }
}

/// Issue 32: the admin deletes one message on the Durable Object's board:
/// it is gone from the page and the API, its id is not reused, and the
/// deletion survives a restart.
#[tokio::test]
async fn the_admin_deletes_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut workerd) = start(dir.path()).await else {
        return;
    };
    let addr = workerd.addr;
    for text in ["one", "two", "three"] {
        create(addr, text).await;
    }
    let (name, login) = support::admin_login();
    let delete = |id: u64, login: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = login.iter().map(|(n, v)| (*n, v.as_str())).collect();
        client::request(
            addr,
            Method::DELETE,
            &format!("/api/messages/{id}"),
            &headers,
        )
        .await
    };
    assert_eq!(delete(2, vec![]).await.status, StatusCode::UNAUTHORIZED);
    let deleted = delete(2, vec![(name, login.clone())]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert_eq!(
        delete(2, vec![(name, login.clone())]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client::get(addr, "/api/messages/2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(listed(addr).await, [json!("one"), json!("three")]);
    assert_eq!(shown(addr).await, ["one", "three"]);
    assert_eq!(create(addr, "four").await["id"], 4);
    workerd.restart().await;
    assert_eq!(shown(addr).await, ["one", "three", "four"]);
}
