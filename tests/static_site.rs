//! The default site over real HTTP: files, types, lengths, HEAD, directory
//! indexes and redirects, the 404 page and 405, on the runner and on
//! `wasmtime serve`.

use sitebox_tests as support;

use http::{Method, StatusCode};
use support::client::{self, get, head, request};
use support::{Server, TestSite};

async fn assert_serves_file(server: &Server, target: &str, file: &str, content_type: &str) {
    client::assert_serves(server.addr, target, &server.site.read(file), content_type).await;
}

async fn index_css_and_logo(server: &Server) {
    assert_serves_file(server, "/", "index.html", "text/html; charset=utf-8").await;
    assert_serves_file(
        server,
        "/index.html",
        "index.html",
        "text/html; charset=utf-8",
    )
    .await;
    assert_serves_file(server, "/index.css", "index.css", "text/css; charset=utf-8").await;
    assert_serves_file(server, "/logo.png", "logo.png", "image/png").await;
    assert_serves_file(
        server,
        "/page.html",
        "page.html",
        "text/html; charset=utf-8",
    )
    .await;
    assert_serves_file(
        server,
        "/blob.unknownext",
        "blob.unknownext",
        "application/octet-stream",
    )
    .await;
}

async fn the_default_site_is_what_it_should_be(server: &Server) {
    let index = get(server.addr, "/").await.text();
    for needle in [
        "href=\"index.css\"",
        "src=\"logo.png\"",
        "href=\"page.html\"",
        "href=\"/board\"",
    ] {
        assert!(index.contains(needle), "index.html lacks {needle}");
    }
    assert!(
        get(server.addr, "/index.css")
            .await
            .text()
            .contains("h1 { color: red; }")
    );
    let logo = get(server.addr, "/logo.png").await.body;
    assert!(logo.starts_with(b"\x89PNG\r\n\x1a\n"), "logo.png is a PNG");
}

async fn head_matches_get_without_a_body(server: &Server) {
    for target in ["/", "/index.css", "/logo.png", "/no-such-page", "/sub"] {
        let get = get(server.addr, target).await;
        let head = head(server.addr, target).await;
        assert_eq!(head.status, get.status, "HEAD {target}");
        for name in ["content-type", "content-length", "location"] {
            assert_eq!(
                head.headers.get(name),
                get.headers.get(name),
                "HEAD {target}: {name}"
            );
        }
        assert!(head.body.is_empty(), "HEAD {target} has no body");
    }
}

async fn query_strings_do_not_affect_lookup(server: &Server) {
    assert_serves_file(
        server,
        "/index.css?v=1&x=%2e%2e",
        "index.css",
        "text/css; charset=utf-8",
    )
    .await;
    assert_serves_file(server, "/?page=2", "index.html", "text/html; charset=utf-8").await;
}

async fn percent_encoded_paths_are_decoded(server: &Server) {
    assert_serves_file(
        server,
        "/my%20page.html",
        "my page.html",
        "text/html; charset=utf-8",
    )
    .await;
    assert_serves_file(
        server,
        "/index%2Ecss",
        "index.css",
        "text/css; charset=utf-8",
    )
    .await;
}

async fn directories_serve_index_html(server: &Server) {
    assert_serves_file(
        server,
        "/sub/",
        "sub/index.html",
        "text/html; charset=utf-8",
    )
    .await;
    assert_serves_file(
        server,
        "/sub/notes.txt",
        "sub/notes.txt",
        "text/plain; charset=utf-8",
    )
    .await;
    let no_index = get(server.addr, "/noindex/").await;
    assert_eq!(no_index.status, StatusCode::NOT_FOUND);
}

async fn directory_without_slash_redirects(server: &Server) {
    let reply = get(server.addr, "/sub?lang=en").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.header("location"), "/sub/?lang=en");
    assert_eq!(reply.header("content-length"), "0");
}

async fn missing_files_get_the_not_found_page(server: &Server) {
    let expected = server.site.read("NotFound.html");
    for target in [
        "/no-such-page",
        "/sub/missing.html",
        "/index.css/",
        "/a/b/c/d",
    ] {
        let reply = get(server.addr, target).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{target}");
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(reply.header("content-length"), expected.len().to_string());
        assert_eq!(reply.body, expected, "{target}");
    }
}

async fn other_methods_are_not_allowed(server: &Server) {
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE"] {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for target in ["/", "/index.css", "/missing"] {
            let reply = request(server.addr, method.clone(), target, &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {target}"
            );
            assert_eq!(
                reply.header("allow"),
                "GET, HEAD, OPTIONS",
                "{method} {target}"
            );
            assert!(
                reply.text().contains("405"),
                "{method} {target} explains itself"
            );
        }
    }
}

async fn options_and_unknown_methods(server: &Server) {
    for (target, allow) in [
        ("/", "GET, HEAD, OPTIONS"),
        ("/index.css", "GET, HEAD, OPTIONS"),
        ("/board", "GET, HEAD, POST, OPTIONS"),
        ("/api/messages", "GET, HEAD, POST, DELETE, OPTIONS"),
    ] {
        let reply = request(server.addr, Method::OPTIONS, target, &[]).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "OPTIONS {target}");
        assert_eq!(reply.header("allow"), allow, "OPTIONS {target}");
        assert!(reply.body.is_empty());
    }
    let (status, head, _) = client::raw(server.addr, "OPTIONS * HTTP/1.1\r\nHost: test");
    assert_eq!(status, 204, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("allow: get, head, post, delete, options"),
        "{head}"
    );
    for method in ["BREW", "PROPFIND", "FOO"] {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for target in ["/", "/board", "/api/messages"] {
            let reply = request(server.addr, method.clone(), target, &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_IMPLEMENTED,
                "{method} {target}"
            );
        }
    }
}

async fn symlinks_inside_the_root_are_followed(server: &Server) {
    assert_serves_file(
        server,
        "/inside-link.css",
        "index.css",
        "text/css; charset=utf-8",
    )
    .await;
}

support::on_each_backend!(
    shared_server =>
    index_css_and_logo,
    the_default_site_is_what_it_should_be,
    head_matches_get_without_a_body,
    query_strings_do_not_affect_lookup,
    percent_encoded_paths_are_decoded,
    directories_serve_index_html,
    directory_without_slash_redirects,
    missing_files_get_the_not_found_page,
    other_methods_are_not_allowed,
    options_and_unknown_methods,
    symlinks_inside_the_root_are_followed,
);

/// A site without `NotFound.html` still answers 404, with a page of ours.
#[tokio::test]
async fn builtin_not_found_page_when_the_site_has_none() {
    let site = Box::leak(Box::new(TestSite::bare()));
    let mut addrs = vec![support::start_runner(site.config())];
    addrs.extend(support::start_wasmtime_serve(
        site,
        support::embedded_component(),
    ));
    for addr in addrs {
        let reply = get(addr, "/missing").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        assert!(reply.text().contains("404 Not Found"));
        assert_eq!(get(addr, "/").await.text(), "<p>bare</p>");
    }
}

/// HTTP/1.0 may omit Host (the runner fills it in); HTTP/1.1 may not.
#[tokio::test]
async fn requests_without_host() {
    let server = support::shared_server(support::Backend::Runner).unwrap();
    let (status, _, body) = client::raw(server.addr, "GET /index.css HTTP/1.0");
    assert_eq!(status, 200);
    assert_eq!(body, server.site.read("index.css"));
    let (status, _, _) = client::raw(server.addr, "GET /index.css HTTP/1.1");
    assert_eq!(status, 400);
}

/// A host that preopens one directory as `/` with the site in `static/`
/// under it, as Spin does with an app's `files` (it copies them into one
/// directory): the site and the board on files are found under `/` (every
/// file was a 500: "the host did not preopen /static"). Both components.
#[tokio::test]
async fn the_site_and_the_board_under_a_preopen_of_the_root() {
    for component in [support::embedded_component(), support::p3_component()] {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("static/docs")).unwrap();
        std::fs::create_dir(root.path().join("data")).unwrap();
        std::fs::write(root.path().join("static/index.html"), "home under /").unwrap();
        std::fs::write(root.path().join("static/docs/a.txt"), "a").unwrap();
        let Some(addr) = support::start_wasmtime_serve_on(&[(root.path(), "/")], component) else {
            return;
        };
        assert_eq!(get(addr, "/").await.text(), "home under /");
        assert_eq!(get(addr, "/docs/a.txt").await.text(), "a");
        assert_eq!(get(addr, "/missing").await.status, StatusCode::NOT_FOUND);
        let posted = client::post_json(addr, "/api/messages", r#"{"text":"on files"}"#).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text());
        let messages = std::fs::read_dir(root.path().join("data/board/messages")).unwrap();
        assert_eq!(messages.count(), 1, "the board is in data/ under /");
    }
}
