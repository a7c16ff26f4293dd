//! Cloudflare Pages' cases: the tests of `cloudflare/workers-sdk`'s
//! `_redirects` and `_headers` parsers, and the examples of its
//! documentation.

use super::{Owned, assert_no_rule, assert_redirect, get, values};
use http::StatusCode;
use std::sync::OnceLock;

/// The rule lines, grouped by the test file they come from; a FROM is
/// renamed (and said so) where two tests share one, as one site holds them
/// all. `S| ` marks a line sitebox skips.
const REDIRECTS: &str = "\
# cloudflare/workers-sdk packages/workers-shared/utils/tests/parseRedirects.valid.test.ts
  # This is a comment
  /a /b 301
  # And one here too.
/c /d
/e /f 307 # third rule
# (FROM renamed from here on:)
/a2 /b?query=string 302
/ext https://some.domain:1234/route?q=string#anchor
/a3 /b#blah 302
/a4 /b##blah-1 302
/a5 https://example.com/b##blah-1 302
/a6 /b 200
/foo https://bar.com:123/index.html 302
/a7 /b 301 # redirect a to b
/a8 /b#section 301 # redirect to section
/a9 /b 301 #no space comment
/a10 /b #
# packages/workers-shared/utils/tests/parseRedirects.invalid.test.ts
S| /c?this=rejected /d 301
S|     /c2
S|     /d /e 302 !important
S|     /c3 /d 418
/dup /b
/dup /c
S| /some page /somewhere else
/some%20page /somewhere%20else
S| https://yeah.com https://nah.com
/nah https://yeah.com
S| yeah.com https://nah.com
S| /a11 https://example.com/b 200
# developers.cloudflare.com/pages/configuration/redirects/ (placeholders,
# splats):
/movies/:title /media/:title
/splat/* /moved/:splat 302
";

/// The header lines of `parseHeaders.valid.test.ts` and
/// `parseHeaders.invalid.test.ts` (`packages/workers-shared/utils/tests/`),
/// each under a path of its own (the lines before any path come first),
/// and the documentation's placeholder example.
const HEADERS: &str = "\
# cloudflare/workers-sdk packages/workers-shared/utils/tests/parseHeaders.invalid.test.ts
S|     c
S|     Access-Control-Allow-Origin: *
# parseHeaders.valid.test.ts
/a
  Name: Value
/excl
S|   !Name: Value
/trim
    Name         :           Value
/cookies
  Set-Cookie: test=cookie; expires=never
  Set-Cookie: another=cookie; magic!
S| https://example.com
S|     a: a
/unset
  Name: Value
  ! X-Content-Type-Options
# parseHeaders.invalid.test.ts
/b
S|   I'm invalid!
  !x-content-type
  But: I'm okay!
S|   ! Content-Type: application/json
S| /blog/*/posts/*
S|   x-custom: value
S| /blog/*/:splat
S|   x-custom: value
S| /blog/:splat
S|   x-custom: value
S| /some page with spaces
S|   valid: yup
/some%20page
  valid: yup
# developers.cloudflare.com/pages/configuration/headers/ (placeholders):
/movies/:title
  x-movie: You are watching \":title\"
";

fn site() -> &'static Owned {
    static SITE: OnceLock<Owned> = OnceLock::new();
    SITE.get_or_init(|| Owned::serve(REDIRECTS, HEADERS, &[("b", "<p>b</p>")]))
}

#[test]
fn check_rules_names_every_skipped_line() {
    site().assert_skipped_lines();
}

#[tokio::test]
async fn redirects_parse_as_cloudflare_tests_them() {
    for &server in &site().servers {
        for (target, status, location) in [
            ("/a", 301, "/b"),
            // sitebox's default status is Netlify's 301, not Cloudflare's 302.
            ("/c", 301, "/d"),
            ("/e", 307, "/f"),
            ("/a2", 302, "/b?query=string"),
            ("/a2?mine=1", 302, "/b?query=string"),
            (
                "/ext",
                301,
                "https://some.domain:1234/route?q=string#anchor",
            ),
            ("/a3", 302, "/b#blah"),
            ("/a3?q=1", 302, "/b?q=1#blah"),
            ("/a4", 302, "/b##blah-1"),
            ("/a5", 302, "https://example.com/b##blah-1"),
            ("/foo", 302, "https://bar.com:123/index.html"),
            ("/a7", 301, "/b"),
            ("/a8", 301, "/b#section"),
            ("/a9", 301, "/b"),
            ("/a10", 301, "/b"),
            // Cloudflare reports the second `/dup` and ignores it; sitebox
            // applies the first rule that matches, which comes to the same.
            ("/dup", 301, "/b"),
            ("/some%20page", 301, "/somewhere%20else"),
            // As written: Cloudflare would send `https://yeah.com/`.
            ("/nah", 301, "https://yeah.com"),
            ("/movies/dune", 301, "/media/dune"),
            ("/splat/a/b", 302, "/moved/a/b"),
            // Cloudflare's `/splat/*` does not match `/splat`; sitebox
            // follows Netlify.
            ("/splat", 302, "/moved/"),
        ] {
            assert_redirect(server, target, status, location).await;
        }
    }
}

#[tokio::test]
async fn skipped_and_rewritten() {
    for &(backend, addr) in &site().servers {
        // Cloudflare reads `/c?this=rejected` as `/c`, dropping the query;
        // sitebox skips the line (so `/c`'s own rule answers), as it skips
        // `yeah.com` (Cloudflare: `/yeah.com`).
        assert_redirect((backend, addr), "/c?this=rejected", 301, "/d?this=rejected").await;
        for target in ["/c2", "/d", "/c3", "/yeah.com", "/a11", "/some"] {
            assert_no_rule((backend, addr), target, StatusCode::NOT_FOUND).await;
        }
        let rewritten = get(addr, "/a6").await;
        assert_eq!(rewritten.status, StatusCode::OK, "{backend:?}");
        assert_eq!(rewritten.text(), "<p>b</p>", "{backend:?}");
    }
}

#[tokio::test]
async fn header_blocks_as_cloudflare_tests_them() {
    for &(backend, addr) in &site().servers {
        for target in ["/a", "/trim"] {
            let reply = get(addr, target).await;
            assert_eq!(values(&reply, "name"), ["Value"], "{backend:?} {target}");
        }
        let excl = get(addr, "/excl").await;
        assert!(excl.headers.get("name").is_none(), "{backend:?}");
        // Two fields: Cloudflare joins them with `, `, which breaks cookies.
        let cookies = get(addr, "/cookies").await;
        assert_eq!(
            values(&cookies, "set-cookie"),
            ["test=cookie; expires=never", "another=cookie; magic!"],
            "{backend:?}"
        );
        let unset = get(addr, "/unset").await;
        assert_eq!(unset.header("name"), "Value", "{backend:?}");
        assert!(unset.headers.get("x-content-type-options").is_none());
        // `!x-content-type` removes x-content-type (a note of check-rules;
        // Cloudflare rejects the line); `But: I'm okay!` applies.
        let b = get(addr, "/b").await;
        assert_eq!(b.header("but"), "I'm okay!", "{backend:?}");
        for target in ["/blog/a/posts/b", "/blog/x/y", "/blog/x"] {
            let reply = get(addr, target).await;
            assert!(
                reply.headers.get("x-custom").is_none(),
                "{backend:?} {target}"
            );
        }
        let spaced = get(addr, "/some%20page").await;
        assert_eq!(spaced.header("valid"), "yup", "{backend:?}");
        let movie = get(addr, "/movies/dune").await;
        assert_eq!(
            movie.header("x-movie"),
            "You are watching \"dune\"",
            "{backend:?}"
        );
    }
}
