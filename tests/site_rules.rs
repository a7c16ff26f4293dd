//! The site's own rules over real HTTP, on the runner and `wasmtime serve`:
//! `_redirects` (each status, splats and placeholders, shadowing and force,
//! rewrites, a single-page app, 404 pages, loops), `_headers` (blocks that
//! add up and remove), the default security headers, the rules files never
//! served, error pages by status, and clean URLs.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::SiteSettings;
use std::net::SocketAddr;
use std::sync::OnceLock;
use support::client::{self, Reply};
use support::{Backend, TestSite};

const REDIRECTS: &str = "\
# The test site's rules; line numbers matter to the loop test.
/old-page /page.html 301
/found /page.html 302
/see-other /page.html 303
/temporary /page.html 307
/permanent /page.html 308
/external https://example.com/landing 302
/blog/* /posts/:splat 301
/users/:id/posts/:post /people/:id?post=:post 302
/index.css /shadowed.css 302
/sub/notes.txt /page.html 302!
/app/* /app/index.html 200
/guestbook /board 200
/shop/* /shop/sold-out.html 404
/config /_redirects 200
/loop-a /loop-b 200
/loop-b /loop-a 200
/malformed line with too many tokens
/after-malformed /page.html 302
/gone* /:splat 301
/u/:user/* /:splat/:user 302
/frag/ /page2/#fragment 301
/trailing2 /trailing2/ 301
";

const HEADERS: &str = "\
/*
  X-Frame-Options: DENY
/sub/*
  X-Sub: yes
  X-Sub: twice
/sub/notes.txt
  ! X-Frame-Options
  ! X-Content-Type-Options
  Cache-Control: public, max-age=60
/board
  X-Board: yes
/*
  Content-Length: 1
";

const SPA_INDEX: &str =
    "<!doctype html><title>app</title><div id=app></div><script src=/app/app.js></script>";

/// The runner and `wasmtime serve` over one site with rules.
fn servers() -> &'static [(Backend, SocketAddr)] {
    static SERVERS: OnceLock<Vec<(Backend, SocketAddr)>> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
        site.write("_redirects", REDIRECTS);
        site.write("_headers", HEADERS);
        site.write("app/index.html", SPA_INDEX);
        site.write(
            "app/app.js",
            "document.getElementById('app').textContent = location.pathname;",
        );
        site.write("shop/sold-out.html", "<p>sold out</p>");
        site.write("shop/open.html", "<p>open</p>");
        support::start_servers(site, SiteSettings::default())
    })
}

async fn get(addr: SocketAddr, target: &str) -> Reply {
    client::get(addr, target).await
}

#[tokio::test]
async fn redirects_answer_with_each_status_and_location() {
    for &(backend, addr) in servers() {
        for (target, status, location) in [
            ("/old-page", 301, "/page.html"),
            ("/old-page/", 301, "/page.html"),
            ("/old-page?ref=mail", 301, "/page.html?ref=mail"),
            ("/found", 302, "/page.html"),
            ("/see-other", 303, "/page.html"),
            ("/temporary", 307, "/page.html"),
            ("/permanent", 308, "/page.html"),
            ("/external", 302, "https://example.com/landing"),
            ("/blog/2024/07/a%20post", 301, "/posts/2024/07/a%20post"),
            ("/users/ada/posts/first", 302, "/people/ada?post=first"),
            ("/after-malformed", 302, "/page.html"),
            // Issue 31: filled-in targets stay on this site (they were
            // `//evil.example`, which a browser follows to another site),
            // and the query goes before the fragment.
            ("/gone/evil.example", 301, "/evil.example"),
            ("/u/evil.com", 302, "/evil.com"),
            ("/frag/?q=1", 301, "/page2/?q=1#fragment"),
            ("/trailing2", 301, "/trailing2/"),
        ] {
            let reply = get(addr, target).await;
            assert_eq!(reply.status.as_u16(), status, "{backend:?} {target}");
            assert_eq!(reply.header("location"), location, "{backend:?} {target}");
            assert_eq!(
                reply.header("x-frame-options"),
                "DENY",
                "{backend:?}: headers apply to redirects"
            );
        }
        let post = client::request(addr, Method::POST, "/temporary", &[]).await;
        assert_eq!(post.status, StatusCode::TEMPORARY_REDIRECT, "{backend:?}");
    }
}

/// Issue 31: matching ignores a trailing slash, so `/trailing2 /trailing2/`
/// redirected `/trailing2/` to itself, forever.
#[tokio::test]
async fn no_url_is_redirected_to_itself() {
    for &(backend, addr) in servers() {
        let itself = get(addr, "/trailing2/").await;
        assert_eq!(itself.status, StatusCode::NOT_FOUND, "{backend:?}");
    }
}

#[tokio::test]
async fn files_shadow_rules_unless_forced() {
    for &(backend, addr) in servers() {
        let css = get(addr, "/index.css").await;
        assert_eq!(css.status, StatusCode::OK, "{backend:?}: the file wins");
        assert!(css.text().contains("h1 { color: red; }"));
        let forced = get(addr, "/sub/notes.txt").await;
        assert_eq!(
            forced.status,
            StatusCode::FOUND,
            "{backend:?}: forced over the file"
        );
        assert_eq!(forced.header("location"), "/page.html");
    }
}

#[tokio::test]
async fn a_single_page_app_serves_its_index_at_deep_links() {
    for &(backend, addr) in servers() {
        for target in ["/app/", "/app/users/42", "/app/settings/profile?tab=2"] {
            let reply = get(addr, target).await;
            assert_eq!(reply.status, StatusCode::OK, "{backend:?} {target}");
            assert_eq!(reply.text(), SPA_INDEX, "{backend:?} {target}");
            assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        }
        let script = get(addr, "/app/app.js").await;
        assert!(
            script.text().contains("getElementById"),
            "{backend:?}: its script is a file"
        );
        let guestbook = get(addr, "/guestbook").await;
        assert!(
            guestbook.text().contains("Message Board"),
            "{backend:?}: a rewrite to the board"
        );
    }
}

#[tokio::test]
async fn not_found_rules_and_loops() {
    for &(backend, addr) in servers() {
        let sold = get(addr, "/shop/anything").await;
        assert_eq!(sold.status, StatusCode::NOT_FOUND, "{backend:?}");
        assert_eq!(sold.text(), "<p>sold out</p>");
        let open = get(addr, "/shop/open.html").await;
        assert_eq!(
            open.status,
            StatusCode::OK,
            "{backend:?}: shadowed by the file"
        );
        let looped = get(addr, "/loop-a").await;
        assert_eq!(
            looped.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{backend:?}"
        );
        assert!(
            looped.text().contains("rule on line 17 rewrites in a loop"),
            "{backend:?}: {}",
            looped.text()
        );
    }
}

#[tokio::test]
async fn the_rules_files_are_never_served() {
    for &(backend, addr) in servers() {
        for target in ["/_redirects", "/_headers", "/%5Fredirects", "/config"] {
            let reply = get(addr, target).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{backend:?} {target}");
            assert!(!reply.text().contains("/old-page"), "{backend:?} {target}");
        }
    }
}

#[tokio::test]
async fn header_blocks_add_up_and_remove() {
    for &(backend, addr) in servers() {
        let page = get(addr, "/page.html").await;
        assert_eq!(page.header("x-frame-options"), "DENY", "{backend:?}");
        assert_eq!(page.header("x-content-type-options"), "nosniff");
        assert_eq!(
            page.header("content-length"),
            page.body.len().to_string(),
            "framing kept"
        );
        let sub = get(addr, "/sub/").await;
        let values: Vec<&str> = sub
            .headers
            .get_all("x-sub")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(values, ["yes", "twice"], "{backend:?}");
        let mut notes = client::Connection::open(addr).await;
        let notes = notes.send(Method::GET, "/sub/other.txt", &[]).await;
        assert_eq!(notes.status, StatusCode::NOT_FOUND);
        assert_eq!(notes.header("x-sub"), "yes", "{backend:?}: error pages too");
        let board = get(addr, "/board").await;
        assert_eq!(board.header("x-board"), "yes", "{backend:?}");
    }
}

#[tokio::test]
async fn security_headers_by_default() {
    for &(backend, addr) in servers() {
        let file = get(addr, "/index.css").await;
        assert_eq!(
            file.header("x-content-type-options"),
            "nosniff",
            "{backend:?}"
        );
        assert!(
            file.headers.get("content-security-policy").is_none(),
            "{backend:?}"
        );
        for target in ["/board", "/%2e%2e/x", "/loop-a"] {
            let page = get(addr, target).await;
            let policy = page.header("content-security-policy");
            assert!(
                policy.starts_with("default-src 'none'"),
                "{backend:?} {target}: {policy}"
            );
            assert!(policy.contains("frame-ancestors 'none'"));
            assert_eq!(
                page.header("referrer-policy"),
                "same-origin",
                "{backend:?} {target}"
            );
            assert_eq!(page.header("x-content-type-options"), "nosniff");
        }
    }
}

#[tokio::test]
async fn error_pages_come_from_the_site_by_status() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    site.write("404.html", "<p>our 404</p>");
    site.write("403.html", "<p>our 403</p>");
    site.write("405.html", "<p>our 405</p>");
    for (backend, addr) in support::start_servers(site, SiteSettings::default()) {
        for (target, status, page) in [
            ("/missing", 404, "<p>our 404</p>"),
            ("/escape.txt", 403, "<p>our 403</p>"),
        ] {
            let reply = get(addr, target).await;
            assert_eq!(reply.status.as_u16(), status, "{backend:?} {target}");
            assert_eq!(reply.text(), page, "{backend:?} {target}");
            assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        }
        let post = client::request(addr, Method::PUT, "/page.html", &[]).await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED, "{backend:?}");
        assert_eq!(post.text(), "<p>our 405</p>");
        assert_eq!(post.header("allow"), "GET, HEAD, OPTIONS");
    }
    let fallback: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    for (backend, addr) in support::start_servers(fallback, SiteSettings::default()) {
        let reply = get(addr, "/missing").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(
            reply.text(),
            String::from_utf8(fallback.read("NotFound.html")).unwrap(),
            "{backend:?}: NotFound.html without a 404.html"
        );
    }
}

#[tokio::test]
async fn clean_urls_when_enabled() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    let clean = SiteSettings {
        clean_urls: true,
        ..SiteSettings::default()
    };
    let page = String::from_utf8(site.read("page.html")).unwrap();
    let index = String::from_utf8(site.read("index.html")).unwrap();
    // Issue 31: a rewrite serves its target, never its clean URL's redirect
    // (the one-line single-page app sent every deep link to `/`).
    site.write(
        "_redirects",
        "/rewrite /page.html 200\n/app/* /index.html 200\n",
    );
    for (backend, addr) in support::start_servers(site, clean) {
        for (target, body) in [("/rewrite", &page), ("/app/users/42", &index)] {
            let reply = get(addr, target).await;
            assert_eq!(reply.status, StatusCode::OK, "{backend:?} {target}");
            assert_eq!(&reply.text(), body, "{backend:?} {target}");
        }
        let reply = get(addr, "/page").await;
        assert_eq!(reply.status, StatusCode::OK, "{backend:?}");
        assert_eq!(reply.text(), page);
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        for (target, location) in [
            ("/page.html", "/page"),
            ("/page.html?x=1", "/page?x=1"),
            ("/index.html", "/"),
            ("/sub/index.html", "/sub/"),
            ("/my%20page.html", "/my%20page"),
        ] {
            let reply = get(addr, target).await;
            assert_eq!(
                reply.status,
                StatusCode::PERMANENT_REDIRECT,
                "{backend:?} {target}"
            );
            assert_eq!(reply.header("location"), location, "{backend:?} {target}");
        }
        assert_eq!(
            get(addr, "/my%20page").await.text(),
            "<p>spaces in the name</p>"
        );
        assert_eq!(get(addr, "/index.css").await.status, StatusCode::OK);
    }
    for &(backend, addr) in servers() {
        assert_eq!(
            get(addr, "/page").await.status,
            StatusCode::NOT_FOUND,
            "{backend:?}: off by default"
        );
    }
}
