use super::*;
use crate::rules::{REDIRECTS_FILE, Routing, Source, route};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

fn redirects(text: &str, scope: Scope) -> String {
    prepare(REDIRECTS_FILE, text, &scope)
}

fn segment(name: &str) -> Scope {
    Scope::Segment(name.to_owned())
}

#[test]
fn a_preparation_holds_the_valid_rules_of_its_scope_in_order() {
    let text = "\
# moved
/old/*    /new/:splat   302
/blog/:year/* /posts/:year/:splat
/old/x /y 999
/*  /index.html  200
/old/a https://example.com/a 308!
";
    assert_eq!(
        redirects(text, segment("old")),
        "2 302 /old/* /new/:splat\n5 200 /* /index.html\n6 308! /old/a https://example.com/a\n",
        "line 4 is in error, line 3 is another scope's"
    );
    assert_eq!(
        redirects(text, segment("blog")),
        "3 301 /blog/:year/* /posts/:year/:splat\n5 200 /* /index.html\n"
    );
    assert_eq!(redirects(text, Scope::Other), "5 200 /* /index.html\n");
    assert_eq!(redirects(text, Scope::Root), "5 200 /* /index.html\n");
    assert_eq!(
        redirects("/old /new", segment("else")),
        "",
        "nothing applies"
    );
}

#[test]
fn a_rewrite_brings_in_the_rules_of_where_it_leads() {
    let text = "\
/app/* /shell/index.html 200
/shell/* /assets/shell.html 200
/assets/* /cdn/:splat 302
/docs/* /:splat 200
/elsewhere/x /y
";
    assert_eq!(
        redirects(text, segment("app")),
        "1 200 /app/* /shell/index.html\n2 200 /shell/* /assets/shell.html\n3 302 /assets/* /cdn/:splat\n",
        "app leads to shell, shell to assets; a redirect leads nowhere"
    );
    let docs = redirects(text, segment("docs"));
    assert_eq!(
        docs.lines().count(),
        5,
        "a placeholder in the first segment of TO can lead anywhere: {docs}"
    );
    assert_eq!(
        redirects("/a /caf%C3%A9/ 200\n/café/* /b 302\n/x /y", segment("a")),
        "1 200 /a /caf%C3%A9/\n2 302 /café/* /b\n",
        "a target's first segment is decoded as the path will be"
    );
    assert_eq!(
        redirects("/a /?x=1 200\n/ /home 302", segment("a")),
        "1 200 /a /?x=1\n2 302 / /home\n"
    );
}

#[test]
fn a_chain_of_rewrites_through_every_segment_is_followed_to_its_end() {
    // Each rule leads to the next segment, in the file's reverse order.
    let count = redirects::MAX_RULES;
    let text: String = (0..count)
        .rev()
        .map(|i| format!("/s{i}/* /s{}/:splat 200\n", i + 1))
        .collect();
    let prepared = redirects(&text, segment("s0"));
    assert_eq!(prepared.lines().count(), count);
    assert!(prepared.starts_with(&format!("1 200 /s{}/*", count - 1)));
    assert_eq!(redirects(&text, segment("s500")).lines().count(), 500);
}

#[test]
fn headers_hold_the_valid_entries_of_the_blocks_of_the_scope() {
    let text = "\
X-Before: 1
/*
  X-Frame-Options: DENY
  Content-Length: 3
  ! Server
/assets/*
  Cache-Control: public, max-age=60
/assets/fonts/*
  Bad Name: x
/other/*
  X-Other: 1
/assets/x y
  X-Broken-Pattern: 1
";
    assert_eq!(
        prepare(HEADERS_FILE, text, &segment("assets")),
        "/*\nx-frame-options:DENY\n!server\n/assets/*\ncache-control:public, max-age=60\n",
        "framing, a bad name, a block without entries and a broken pattern are left out"
    );
    assert_eq!(
        prepare(HEADERS_FILE, text, &Scope::Other),
        "/*\nx-frame-options:DENY\n!server\n"
    );
    assert_eq!(prepare(HEADERS_FILE, "/a\n  X-A: 1", &segment("b")), "");
    assert_eq!(
        prepare(HEADERS_FILE, "/*\n  X-Name: Zoë\n", &Scope::Root),
        "/*\nx-name:Zoë\n",
        "a value beyond ASCII (found by fuzzing)"
    );
}

#[test]
fn a_pattern_with_an_empty_first_segment_concerns_the_root() {
    // `//*` matches `/` as `/blog/*` matches `/blog` (found by fuzzing).
    let text = "//* /home 301";
    assert_eq!(redirects(text, Scope::Root), "1 301 //* /home\n");
    assert_eq!(redirects(text, segment("a")), "");
    let named = named_scopes(REDIRECTS_FILE, text);
    assert_eq!(named, [Scope::Root].into());
}

#[test]
fn the_scopes_a_file_names() {
    let named = named_scopes(
        REDIRECTS_FILE,
        "/a/b /c\n/ /d\n/:x /e\n/f* /g\n/h%20 /i\n/j/* /k 999",
    );
    let expected: HashSet<Scope> = [segment("a"), Scope::Root, segment("j")].into();
    assert_eq!(named, expected);
    let named = named_scopes(HEADERS_FILE, "/*\n  X-A: 1\n/assets/*\n  X-B: 2\n");
    assert_eq!(named, [segment("assets")].into());
}

#[test]
fn the_scope_of_a_request_is_its_first_segment_decoded() {
    assert_eq!(Scope::of_request("/"), Some(Scope::Root));
    assert_eq!(Scope::of_request("/caf%C3%A9/x"), Some(segment("café")));
    assert_eq!(Scope::of_request("/a/"), Some(segment("a")));
    assert_eq!(Scope::of_request("/a/../b"), None, "refused: no rules");
}

// Rules of a small vocabulary, so that FROMs, TOs and paths meet often.
fn pattern() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(vec!["a", "b", "c", ":p", "*", "b*", "%61", "x.html", ""]);
    proptest::collection::vec(segment, 0..3).prop_map(|segments| {
        let mut text = String::new();
        let mut splat = false;
        for (i, segment) in segments.into_iter().enumerate() {
            if segment.contains('*') && std::mem::replace(&mut splat, true) {
                continue;
            }
            text.push('/');
            text.push_str(&segment.replace(":p", &format!(":p{i}")));
        }
        if text.is_empty() {
            "/".to_owned()
        } else {
            text
        }
    })
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/a".to_owned()),
        Just("/b/c".to_owned()),
        Just("/c?q=2".to_owned()),
        Just("/".to_owned()),
        Just("/:splat".to_owned()),
        Just("/a/:splat".to_owned()),
        Just("/%61/b".to_owned()),
        Just("https://example.com/:splat".to_owned()),
    ]
}

fn rule() -> impl Strategy<Value = String> {
    let status = prop::sample::select(vec!["", "200", "200!", "404", "302", "301!", "999"]);
    (pattern(), target(), status).prop_map(|(from, to, status)| format!("{from} {to} {status}"))
}

fn block() -> impl Strategy<Value = String> {
    let entry = prop::sample::select(vec![
        "  X-A: 1",
        "  X-A: 2",
        "  X-B: 3",
        "  ! X-A",
        "  Cache-Control: no-cache",
        "  Content-Length: 1",
    ]);
    (pattern(), proptest::collection::vec(entry, 0..3))
        .prop_map(|(pattern, entries)| format!("{pattern}\n{}", entries.join("\n")))
}

fn path() -> impl Strategy<Value = SitePath> {
    let segment = prop::sample::select(vec!["a", "b", "c", "bb", "x.html"]);
    proptest::collection::vec(segment, 0..4).prop_map(|s| {
        SitePath::parse(&format!("/{}", s.join("/"))).unwrap_or_else(|_| SitePath::root())
    })
}

/// The runner's key for `scope`: itself if the file names it.
fn key(named: &HashSet<Scope>, scope: Scope) -> Scope {
    if named.contains(&scope) {
        scope
    } else {
        Scope::Other
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Routing by a preparation that holds the path — for its scope, the
    /// runner's key, or all — is routing by the file, rewrites to other
    /// scopes included.
    #[test]
    fn a_preparation_routes_as_the_whole_file(
        rules in proptest::collection::vec(rule(), 0..12),
        path in path(),
        odd in any::<bool>(),
    ) {
        let text = rules.join("\n");
        let named = named_scopes(REDIRECTS_FILE, &text);
        let exists = |at: &SitePath| (at.decoded().len() % 2 == 1) == odd;
        let prepared = |scope| redirects(&text, scope);
        let by = |prepared: &str| route(Source::Prepared(prepared), &path, None, exists);
        let file = route(Source::File(&text), &path, None, exists);
        prop_assert_eq!(&by(&prepared(Scope::All)), &file);
        prop_assert_eq!(&by(&prepared(Scope::of(&path))), &file);
        prop_assert_eq!(&by(&prepared(key(&named, Scope::of(&path)))), &file);
        if let Routing::Broken { line, .. } = file {
            prop_assert!(line >= 1 && line <= rules.len());
        }
    }

    /// The same for `_headers`: every preparation that holds the path sets
    /// the headers the file sets.
    #[test]
    fn a_preparation_sets_the_headers_of_the_whole_file(
        blocks in proptest::collection::vec(block(), 0..8),
        path in path(),
    ) {
        let text = blocks.join("\n");
        let named = named_scopes(HEADERS_FILE, &text);
        let applied = |source: Source<'_>| {
            let mut headers = HeaderMap::new();
            headers.insert("x-a", HeaderValue::from_static("0"));
            headers::apply(source, &path.decoded(), &mut headers);
            headers
        };
        let file = applied(Source::File(&text));
        for scope in [Scope::All, Scope::of(&path), key(&named, Scope::of(&path))] {
            let prepared = prepare(HEADERS_FILE, &text, &scope);
            prop_assert_eq!(&applied(Source::Prepared(&prepared)), &file);
        }
    }
}
