//! Netlify's cases: the fixtures of `netlify/build`'s redirect and headers
//! parsers, and the examples of its documentation.

use super::{Owned, assert_no_rule, assert_redirect, get, values};
use http::StatusCode;
use std::sync::OnceLock;

/// The rule lines, grouped by the file they come from; a FROM is renamed
/// (and said so) where two fixtures share one, as one site holds them all.
/// `S| ` marks a line sitebox skips.
const REDIRECTS: &str = "\
# netlify/build packages/redirect-parser/tests/fixtures/redirects_file/
# comment_full:
# this is just an old leftover
# comment_inline:
/blog/my-post.php  /blog/my-post # this is just an old leftover
# empty_line (a blank line between two rules):
/blog/my-post-x.php  /blog/my-post-x

/blog/my-post-two.php  /blog/my-post-two
# line_trim (and trailing white space):
  /home              /   \t
# multiple_lines:
/10thmagnitude   http://www.10thmagnitude.com/   301
/bananastand     http://eepurl.com/Lgde5         301
# simple_multiple (the first rule for a path wins):
/one /two
/one /four
# status, status_force (FROM renamed):
/test https://www.bitballoon.com/test=hello 301
/test-forced https://www.bitballoon.com/test=hello 301!
# to_anchor:
/blog/my-post-ads.php  /blog/my-post#ads # this is a valid anchor with a comment
# Skipped by sitebox, as query and condition matching are not supported:
# conditions_country, conditions_query, conditions_role, conditions_roles, query
S| /  /china 302 Country=ch,tw
S| /donate source=:source email=:email /donate/usa?source=:source&email=:email 302 Country=us
S| /admin/*  /admin/:splat 200 Role=admin
S| /member/*  /member/:splat 200 Role=admin,member
S| /      page=news      /news
S| /blog  post=:post_id  /blog/:post_id
# Skipped: host patterns (from_absolute_uri), proxies (proxy, signed), the
# forward rule without TO (to_path_forward):
S| http://hello.bitballoon.com/* http://www.hello.com/:splat
S| /api/*  https://api.bitballoon.com/*   200
S| /api/*   https://api.example.com/:splat   200!  Sign=API_SECRET
S| /admin/* 200
S| /admin/* 200!
# invalid_* (Netlify reports each; sitebox skips each but the first, as
# `/.netlify/` is nothing special here):
/.netlify/from /to
S| http://example.com/.netlify/from /to
S| /backup/*
S|     Basic-Auth: dev@terraeclipse.com:nud-feud-contour
S| /\tindex.html
S| /blog\tblog.html
S| /trt-therapy-san-diego\ttrt-therapy-san-diego.html
S| /m/scge/legal
S| /m/scge/legal source=:source
S| /swfobject.html?detectflash=false 301
S| /from /to not_a_status
S| http:// /to
# docs.netlify.com/routing/redirects/redirect-options/ (placeholders,
# splats, 404 pages) and rewrites-proxies/ (shadowing, force):
/news/:year/:month/:date/:slug  /blog/:year/:month/:date/:slug
/news/*  /blog/:splat
/ecommerce  /store-closed.html  404
/rewritten  /page.html  200
/sub/notes.txt  /page.html  302
/sub/index.html  /page.html  302!
";

/// Every `packages/headers-parser/tests/fixtures/headers_file/` fixture,
/// each under a path of its own (`invalid_for_order` must come first);
/// `S| ` marks a line sitebox skips.
const HEADERS: &str = "\
# netlify/build packages/headers-parser/tests/fixtures/headers_file/
# invalid_for_order (a header before any path):
S|   test: one
/path-order
# comment:
/path-comment
  # comment
  test: one
# duplicate (both blocks apply; Netlify keeps the later value):
/path-duplicate
  test: one

/path-duplicate
  test: three
# empty_line:
/path-empty-line

  test: one
# invalid_value_name, invalid_value_string, no_colon:
/path-invalid
S|   : one
S|   test:
S|   test = one
  valid: yes
# multiple_values (two fields; Netlify joins them: `one, two`):
/path-multiple
  test: one
  test: two
# trim_line_path (a block without headers), trim_line_values, trim_name,
# trim_value:
  /path-trim
/path-trim-values
test: one
/path-trim-name
  test : one
/path-trim-value
  test:   one
# Issue 32: names a wasi:http host refuses (wasmtime-wasi-http 48's
# DEFAULT_FORBIDDEN_HEADERS, jco's _forbiddenHeaders) are reserved.
/reserved/*
S|   Host: example.com
S|   Proxy-Authenticate: Basic
S|   Proxy-Authorization: Basic YTpi
S|   HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA
  X-Kept: yes
";

fn site() -> &'static Owned {
    static SITE: OnceLock<Owned> = OnceLock::new();
    SITE.get_or_init(|| {
        Owned::serve(
            REDIRECTS,
            HEADERS,
            &[("store-closed.html", "<p>store closed</p>")],
        )
    })
}

/// Every line sitebox skips, and no other, is named by `check-rules`.
#[test]
fn check_rules_names_every_skipped_line() {
    site().assert_skipped_lines();
}

#[tokio::test]
async fn redirects_parse_as_netlify_tests_them() {
    for &server in &site().servers {
        for (target, status, location) in [
            // Netlify's default status, where Cloudflare's is 302.
            ("/blog/my-post.php", 301, "/blog/my-post"),
            ("/blog/my-post-x.php", 301, "/blog/my-post-x"),
            ("/blog/my-post-two.php", 301, "/blog/my-post-two"),
            ("/home", 301, "/"),
            ("/10thmagnitude", 301, "http://www.10thmagnitude.com/"),
            ("/bananastand", 301, "http://eepurl.com/Lgde5"),
            ("/one", 301, "/two"),
            ("/test", 301, "https://www.bitballoon.com/test=hello"),
            ("/test-forced", 301, "https://www.bitballoon.com/test=hello"),
            ("/blog/my-post-ads.php", 301, "/blog/my-post#ads"),
            ("/blog/my-post-ads.php?x=1", 301, "/blog/my-post?x=1#ads"),
            // The documentation's placeholders and splat.
            (
                "/news/2024/02/12/my-story",
                301,
                "/blog/2024/02/12/my-story",
            ),
            ("/news/2004/01", 301, "/blog/2004/01"),
            // `/news/*` matches `/news`, as on Netlify (not on Cloudflare).
            ("/news", 301, "/blog/"),
            ("/sub/index.html", 302, "/page.html"),
            ("/.netlify/from", 301, "/to"),
        ] {
            assert_redirect(server, target, status, location).await;
        }
    }
}

#[tokio::test]
async fn skipped_rules_do_not_apply() {
    let owned = site();
    for &server in &owned.servers {
        // Query and condition rules: sitebox serves what is there.
        assert_no_rule(server, "/", StatusCode::OK).await;
        assert_no_rule(server, "/?page=news", StatusCode::OK).await;
        for target in [
            "/donate?source=a&email=b",
            "/blog?post=3",
            "/admin/x",
            "/member/x",
            "/backup/x",
            "/trt-therapy-san-diego",
            "/m/scge/legal",
            "/from",
            // Netlify would proxy these to api.bitballoon.com; sitebox
            // proxies nothing, and `/api/` is the board's.
            "/api/v1/users",
        ] {
            assert_no_rule(server, target, StatusCode::NOT_FOUND).await;
        }
    }
}

#[tokio::test]
async fn rewrites_not_found_pages_and_shadowing() {
    let owned = site();
    let page = String::from_utf8(owned.site.read("page.html")).unwrap();
    for &(backend, addr) in &owned.servers {
        let closed = get(addr, "/ecommerce").await;
        assert_eq!(closed.status, StatusCode::NOT_FOUND, "{backend:?}");
        assert_eq!(closed.text(), "<p>store closed</p>", "{backend:?}");
        let rewritten = get(addr, "/rewritten").await;
        assert_eq!(rewritten.status, StatusCode::OK, "{backend:?}");
        assert_eq!(rewritten.text(), page, "{backend:?}");
        // Shadowed by the file, unless forced (`/sub/index.html` above).
        let shadowed = assert_no_rule((backend, addr), "/sub/notes.txt", StatusCode::OK).await;
        assert_eq!(shadowed.text(), "notes", "{backend:?}");
    }
}

#[tokio::test]
async fn header_blocks_as_netlify_tests_them() {
    let owned = site();
    for &(backend, addr) in &owned.servers {
        for target in [
            "/path-comment",
            "/path-empty-line",
            "/path-trim-values",
            "/path-trim-name",
            "/path-trim-value",
        ] {
            let reply = get(addr, target).await;
            assert_eq!(values(&reply, "test"), ["one"], "{backend:?} {target}");
        }
        let duplicate = get(addr, "/path-duplicate").await;
        assert_eq!(values(&duplicate, "test"), ["one", "three"], "{backend:?}");
        let multiple = get(addr, "/path-multiple").await;
        assert_eq!(values(&multiple, "test"), ["one", "two"], "{backend:?}");
        let invalid = get(addr, "/path-invalid").await;
        assert!(invalid.headers.get("test").is_none(), "{backend:?}");
        assert_eq!(
            invalid.header("valid"),
            "yes",
            "{backend:?}: the rest applies"
        );
        let order = get(addr, "/path-order").await;
        assert!(order.headers.get("test").is_none(), "{backend:?}");
    }
}

/// Issue 32: each of these names made every matching answer a 500 (the host
/// refuses the response), and check-rules said nothing.
#[tokio::test]
async fn header_names_a_host_refuses_are_skipped() {
    let owned = site();
    for &(backend, addr) in &owned.servers {
        for target in ["/reserved/x", "/reserved/page.html"] {
            let reply = get(addr, target).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{backend:?} {target}");
            assert_eq!(reply.header("x-kept"), "yes", "{backend:?} {target}");
            assert!(reply.headers.get("proxy-authenticate").is_none());
        }
    }
}

/// `to_splat_force` and `to_splat_no_force`: catch-alls to another site,
/// the forced one narrowed to `/sub/*` so that both can be seen.
const CATCH_ALL: &str = "\
/sub/*  https://www.bitballoon.com/:splat 301!
/*  https://www.bitballoon.com/:splat 301
";

#[tokio::test]
async fn catch_alls_to_another_site() {
    let owned = Owned::serve(CATCH_ALL, "", &[]);
    let report = sitebox_runner::cli::check_rules(&owned.site.static_dir).unwrap();
    assert!(report.passed, "{:?}", report.problems);
    for &server in &owned.servers {
        let to = "https://www.bitballoon.com";
        assert_redirect(
            server,
            "/missing/x?a=1",
            301,
            &format!("{to}/missing/x?a=1"),
        )
        .await;
        assert_redirect(server, "/sub/notes.txt", 301, &format!("{to}/notes.txt")).await;
        // Files (and the board) shadow the rule that is not forced.
        assert_no_rule(server, "/index.css", StatusCode::OK).await;
        assert_no_rule(server, "/board", StatusCode::OK).await;
    }
}
