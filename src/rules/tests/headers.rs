//! `_headers`: blocks applied in order, lines in error skipped, removals,
//! placeholders; each answer checked against the prepared text as well
//! (which is why these tests sit beside `headers`, not under it).

use crate::rules::headers::*;
use crate::rules::prepared::{Scope, prepare};
use crate::rules::{HEADERS_FILE, Source};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::header::{HeaderMap, HeaderName, HeaderValue};

fn base() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
}

fn applied(text: &str, path: &str) -> HeaderMap {
    let mut headers = base();
    apply(Source::File(text), path, &mut headers);
    // Prepared as the runner hands it in, for the path's scope or all.
    let site_path = crate::http::site_path::SitePath::parse(path).unwrap();
    for scope in [Scope::of(&site_path), Scope::All] {
        let mut prepared = base();
        let text = prepare(HEADERS_FILE, text, &scope);
        apply(Source::Prepared(&text), path, &mut prepared);
        assert_eq!(headers, prepared, "{path}, {scope:?}");
    }
    headers
}

fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

const SITE: &str = "\
# Everything
/*
  X-Frame-Options: DENY
  Link: <https://fonts.example>; rel=preconnect

/assets/*
  Cache-Control: public, max-age=31536000, immutable
  X-Robots-Tag: noindex

/assets/public/*
  ! X-Robots-Tag
  ! X-Content-Type-Options

/api/*
  Access-Control-Allow-Origin: https://a.example
  Access-Control-Allow-Origin: https://b.example
";

#[test]
fn matching_blocks_add_up_in_order() {
    let home = applied(SITE, "/");
    assert_eq!(values(&home, "x-frame-options"), ["DENY"]);
    assert_eq!(
        values(&home, "link"),
        ["<https://fonts.example>; rel=preconnect"]
    );
    assert_eq!(
        values(&home, "cache-control"),
        ["max-age=3600"],
        "untouched"
    );
    let asset = applied(SITE, "/assets/app.js");
    assert_eq!(values(&asset, "x-frame-options"), ["DENY"]);
    assert_eq!(
        values(&asset, "cache-control"),
        ["public, max-age=31536000, immutable"],
        "a block's header replaces sitebox's"
    );
    assert_eq!(values(&asset, "x-robots-tag"), ["noindex"]);
    let api = applied(SITE, "/api/messages");
    assert_eq!(
        values(&api, "access-control-allow-origin"),
        ["https://a.example", "https://b.example"]
    );
}

#[test]
fn a_bang_removes_a_header_set_before_or_by_sitebox() {
    let public = applied(SITE, "/assets/public/logo.png");
    assert!(public.get("x-robots-tag").is_none());
    assert!(public.get(X_CONTENT_TYPE_OPTIONS).is_none());
    assert_eq!(values(&public, "x-frame-options"), ["DENY"]);
    let again = applied("/*\n ! X-A\n/*\n X-A: back\n", "/x");
    assert_eq!(values(&again, "x-a"), ["back"], "set after a removal");
}

#[test]
fn lines_in_error_are_skipped_and_the_rest_applies() {
    let text = "\
X-Before: any path
/*
  Content-Length: 1
  Transfer-Encoding: chunked
  not a header
  X-Bad: bell\u{7}
  Content-Type: text/plain; charset=utf-8
  X-Good: yes
https://example.com/*
  X-Host: no
/a b
  X-Extra: no
";
    let headers = applied(text, "/page");
    assert!(headers.get("x-before").is_none());
    assert!(headers.get("content-length").is_none());
    assert!(headers.get("transfer-encoding").is_none());
    assert_eq!(values(&headers, "x-good"), ["yes"]);
    assert_eq!(
        values(&headers, CONTENT_TYPE.as_str()),
        ["text/plain; charset=utf-8"]
    );
    assert!(headers.get("x-host").is_none() && headers.get("x-extra").is_none());
}

#[test]
fn header_lines_parse_or_say_why() {
    assert_eq!(
        entry("X-A:  spaced value ").unwrap(),
        Entry::Set(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("spaced value")
        )
    );
    assert_eq!(
        entry("! X-A").unwrap(),
        Entry::Remove(HeaderName::from_static("x-a"))
    );
    assert_eq!(
        entry("!X-A").unwrap(),
        Entry::Remove(HeaderName::from_static("x-a"))
    );
    for (line, needle) in [
        ("Content-Encoding: br", "frames the response"),
        ("! Connection", "frames the response"),
        ("Bad Name: x", "not a header name"),
        ("no colon", "neither"),
        ("X-A: \u{1}", "cannot carry"),
    ] {
        let error = entry(line).unwrap_err();
        assert!(error.contains(needle), "{line}: {error}");
    }
}

#[test]
fn blocks_past_the_limit_end_the_file() {
    let text: String = (0..MAX_BLOCKS + 3)
        .map(|i| format!("/p{i}\n  X-N: {i}\n"))
        .collect();
    let items: Vec<_> = items(&text).collect();
    assert_eq!(items.last().unwrap().1, Line::TooMany);
    assert_eq!(items.len(), 2 * MAX_BLOCKS + 1);
    let last = format!("/p{}", MAX_BLOCKS);
    assert!(applied(&text, &last).get("x-n").is_none());
    assert_eq!(values(&applied(&text, "/p0"), "x-n"), ["0"]);
}

/// Issue 31: both owners of the convention reject a header line without a
/// value (`test:`); sitebox sent an empty header and check-rules was silent.
#[test]
fn a_header_without_a_value_is_an_error() {
    assert!(entry("X-Test:").is_err());
    assert!(entry("X-Test:   ").is_err());
    assert!(entry("X-Test: 0").is_ok());
    let mut headers = HeaderMap::new();
    apply(
        Source::File("/*\n  X-Test:\n  X-Other: 1\n"),
        "/a",
        &mut headers,
    );
    assert!(headers.get("x-test").is_none());
    assert_eq!(headers["x-other"], "1");
}

/// Issue 31: Cloudflare Pages documents and tests `:name` and `:splat`
/// filled into header values; sitebox sent the literal text.
#[test]
fn placeholders_in_values_are_filled_in() {
    let text = "/movies/:title\n  X-Movie: You are watching \":title\"\n/assets/*\n  X-Asset: :splat\n  X-Time: 12:30, https://example.com, :unbound\n";
    let movie = applied(text, "/movies/Dune");
    assert_eq!(movie["x-movie"], "You are watching \"Dune\"");
    let spaced = applied(text, "/movies/The Thing");
    assert_eq!(spaced["x-movie"], "You are watching \"The%20Thing\"");
    let asset = applied(text, "/assets/css/site.css");
    assert_eq!(asset["x-asset"], "css/site.css");
    assert_eq!(asset["x-time"], "12:30, https://example.com, :unbound");
}
