//! Routing by `_redirects` (redirects, rewrites, not-found pages, loops),
//! the rules files read from the root or handed in; `check`'s reports and
//! `_headers` have their own files.

use super::*;

mod check;
mod headers;

fn path(text: &str) -> SitePath {
    SitePath::parse(text).unwrap()
}

/// Routes `target` (a path and maybe a query) with `existing` as the paths
/// where something exists.
fn route_in(redirects: &str, target: &str, existing: &[&str]) -> Routing {
    let (p, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let path = path(p);
    let exists = |at: &SitePath| existing.contains(&at.decoded().as_str());
    let from_file = route(Source::File(redirects), &path, query, exists);
    // As the runner hands it in, prepared for the path's scope.
    let prepared = prepared::prepare(REDIRECTS_FILE, redirects, &prepared::Scope::of(&path));
    let from_prepared = route(Source::Prepared(&prepared), &path, query, exists);
    assert_eq!(from_file, from_prepared, "{target}");
    from_file
}

fn redirect(status: u16, location: &str) -> Routing {
    Routing::Redirect {
        status: StatusCode::from_u16(status).unwrap(),
        location: location.to_owned(),
    }
}

fn rewrite(to: &str) -> Routing {
    Routing::Serve(Some(to.to_owned()))
}

#[test]
fn a_single_page_app_is_one_line() {
    let spa = "/* /index.html 200";
    let existing = ["/", "/index.html", "/app.js"];
    assert_eq!(
        route_in(spa, "/users/42/edit", &existing),
        rewrite("/index.html")
    );
    assert_eq!(
        route_in(spa, "/deep?tab=2", &existing),
        rewrite("/index.html?tab=2")
    );
    assert_eq!(
        route_in(spa, "/app.js", &existing),
        Routing::Serve(None),
        "files win"
    );
    assert_eq!(route_in(spa, "/", &existing), Routing::Serve(None));
}

#[test]
fn redirects_fill_in_placeholders_and_keep_the_query() {
    let rules = "\
/old /new
/blog/* /posts/:splat 302
/users/:id /u/:id 307
/go https://example.com/landing?src=site 308
/keep /elsewhere?mine=1
";
    assert_eq!(route_in(rules, "/old", &[]), redirect(301, "/new"));
    assert_eq!(
        route_in(rules, "/old/", &[]),
        redirect(301, "/new"),
        "a trailing slash matches"
    );
    assert_eq!(
        route_in(rules, "/old?a=1&b=2", &[]),
        redirect(301, "/new?a=1&b=2")
    );
    assert_eq!(
        route_in(rules, "/blog/2024/a%20b", &[]),
        redirect(302, "/posts/2024/a%20b")
    );
    assert_eq!(route_in(rules, "/blog", &[]), redirect(302, "/posts/"));
    assert_eq!(
        route_in(rules, "/users/caf%C3%A9", &[]),
        redirect(307, "/u/caf%C3%A9")
    );
    assert_eq!(
        route_in(rules, "/go?x=1", &[]),
        redirect(308, "https://example.com/landing?src=site"),
        "TO's own query wins"
    );
    assert_eq!(
        route_in(rules, "/keep?x=1", &[]),
        redirect(301, "/elsewhere?mine=1")
    );
    assert_eq!(route_in(rules, "/other", &[]), Routing::Serve(None));
}

#[test]
fn the_first_rule_that_applies_wins_and_files_shadow_unforced_rules() {
    let rules = "\
/page /first 302
/page /second 302
/forced /target 302!
/* /fallback 302
";
    assert_eq!(route_in(rules, "/page", &[]), redirect(302, "/first"));
    let existing = ["/page", "/forced"];
    assert_eq!(
        route_in(rules, "/page", &existing),
        Routing::Serve(None),
        "the file is served: every unforced rule is shadowed"
    );
    assert_eq!(
        route_in(rules, "/forced", &existing),
        redirect(302, "/target")
    );
    assert_eq!(
        route_in(rules, "/missing", &existing),
        redirect(302, "/fallback")
    );
}

#[test]
fn rewrites_start_over_at_their_target() {
    let rules = "\
/a /b 200
/b /c 200
/c/* /d 200
/x/:name /y/:name 200
";
    assert_eq!(
        route_in(rules, "/a", &[]),
        rewrite("/d"),
        "/c/* matches /c too"
    );
    assert_eq!(
        route_in(rules, "/a", &["/b"]),
        rewrite("/b"),
        "stops at a file"
    );
    assert_eq!(
        route_in(rules, "/x/some%20thing?q=1", &[]),
        rewrite("/y/some%20thing?q=1")
    );
    let then_redirect = "/a /b 200\n/b /c 301";
    assert_eq!(route_in(then_redirect, "/a", &[]), redirect(301, "/c"));
}

#[test]
fn a_not_found_rule_names_its_page() {
    let rules = "/shop/* /shop/missing.html 404";
    assert_eq!(
        route_in(rules, "/shop/nothing", &[]),
        Routing::NotFound(path("/shop/missing.html"))
    );
    assert_eq!(
        route_in(rules, "/shop/item", &["/shop/item"]),
        Routing::Serve(None)
    );
}

#[test]
fn loops_are_stopped_with_the_rule_that_closed_them() {
    let broken = |line| Routing::Broken {
        line,
        reason: "rewrites in a loop",
    };
    assert_eq!(route_in("/a /a 200!", "/a", &[]), broken(1));
    assert_eq!(route_in("/a /b 200\n/b /a 200", "/a", &[]), broken(2));
    assert_eq!(
        route_in("/* /index.html 200!", "/x", &["/index.html"]),
        broken(1)
    );
    let chain: String = (0..=MAX_REWRITES)
        .map(|i| format!("/p{i} /p{} 200\n", i + 1))
        .collect();
    assert_eq!(route_in(&chain, "/p0", &[]), broken(MAX_REWRITES + 1));
    let short: String = (0..MAX_REWRITES)
        .map(|i| format!("/p{i} /p{} 200\n", i + 1))
        .collect();
    assert_eq!(
        route_in(&short, "/p0", &[]),
        rewrite(&format!("/p{MAX_REWRITES}"))
    );
}

#[test]
fn malformed_rules_are_skipped_where_they_stand() {
    let rules = "/a\n/a /b 999\n/a /c 302";
    assert_eq!(route_in(rules, "/a", &[]), redirect(302, "/c"));
}

#[test]
fn handed_rules_stand_for_the_files_even_when_empty() {
    use crate::fs::memory::MemoryFs;
    let root = MemoryFs::default()
        .with(REDIRECTS_FILE, "/a /b")
        .with(HEADERS_FILE, "/*\n  X-A: 1");
    let handed = HandedRules {
        redirects: Some("1 301 /c /d\n".to_owned()),
        headers: Some(String::new()),
    };
    let rules = SiteRules::load(&root, &handed);
    assert_eq!(rules.redirects(), Some(Source::Prepared("1 301 /c /d\n")));
    assert_eq!(
        rules.headers(),
        None,
        "handed in empty: no rules, the file unread"
    );
    let only_headers = HandedRules {
        headers: Some("/x\nx-b:2\n".to_owned()),
        ..HandedRules::default()
    };
    let rules = SiteRules::load(&root, &only_headers);
    assert_eq!(
        rules.redirects(),
        Some(Source::File("/a /b")),
        "not handed: read"
    );
    assert_eq!(rules.headers(), Some(Source::Prepared("/x\nx-b:2\n")));
}

#[test]
fn usable_text_is_utf8_within_the_limit() {
    assert_eq!(usable_text(b"/a /b".to_vec()).as_deref(), Some("/a /b"));
    assert_eq!(usable_text(vec![0xff]), None);
    assert_eq!(usable_text(vec![b'#'; MAX_FILE_BYTES as usize + 1]), None);
    assert!(usable_text(vec![b'#'; MAX_FILE_BYTES as usize]).is_some());
}

#[test]
fn rules_files_are_read_from_the_root_when_usable() {
    use crate::fs::memory::MemoryFs;
    let root = MemoryFs::default()
        .with(REDIRECTS_FILE, "/a /b")
        .with(HEADERS_FILE, vec![0xff, 0xfe]);
    let none = HandedRules::default();
    let rules = SiteRules::load(&root, &none);
    assert_eq!(rules.redirects(), Some(Source::File("/a /b")));
    assert_eq!(rules.headers(), None, "not UTF-8");
    let large = MemoryFs::default().with(REDIRECTS_FILE, vec![b'#'; MAX_FILE_BYTES as usize + 1]);
    assert_eq!(SiteRules::load(&large, &none).redirects(), None);
    assert!(is_rules_file(&path("/_redirects")) && is_rules_file(&path("/_headers")));
    assert!(!is_rules_file(&path("/sub/_headers")));
}

/// Issue 31: a splat or placeholder that expands to nothing, or to a value
/// starting with `/`, made `//evil.example`: a browser goes to another site.
#[test]
fn an_expanded_redirect_stays_on_this_site() {
    let cases = [
        (
            "/old* /:splat 301",
            "/old/evil.example",
            301,
            "/evil.example",
        ),
        (
            "/old/* /:splat 301",
            "/old/evil.example",
            301,
            "/evil.example",
        ),
        (
            "/u/:user/* /:splat/:user 302",
            "/u/evil.com",
            302,
            "/evil.com",
        ),
        ("/a/* /:splat/x 302", "/a/", 302, "/x"),
        ("/x/* /:splat 302", "/x/", 302, "/"),
    ];
    for (rules, target, status, location) in cases {
        assert_eq!(
            route_in(rules, target, &[]),
            redirect(status, location),
            "{rules}"
        );
    }
    let absolute = "/go/* https://example.com/:splat 302";
    assert_eq!(
        route_in(absolute, "/go/a/b", &[]),
        redirect(302, "https://example.com/a/b")
    );
}

/// Issue 31: the request's query goes before the target's `#fragment`.
#[test]
fn the_query_goes_before_the_fragment() {
    let rules = "/page/ /page2/#fragment 301";
    assert_eq!(
        route_in(rules, "/page/?q=1", &[]),
        redirect(301, "/page2/?q=1#fragment")
    );
    assert_eq!(
        route_in(rules, "/page/", &[]),
        redirect(301, "/page2/#fragment")
    );
    let with_query = "/a /b?x=1#top 302";
    assert_eq!(
        route_in(with_query, "/a?q=1", &[]),
        redirect(302, "/b?x=1#top")
    );
}

/// Issue 31: matching ignores a trailing slash, so `/trailing2 /trailing2/`
/// answered `/trailing2/` with a redirect to itself, forever. A rule whose
/// target is the URL asked for does not apply (as on Netlify); the next
/// one may.
#[test]
fn a_redirect_to_the_url_asked_for_does_not_apply() {
    let rules = "/trailing2 /trailing2/ 301";
    assert_eq!(route_in(rules, "/trailing2/", &[]), Routing::Serve(None));
    assert_eq!(
        route_in(rules, "/trailing2", &[]),
        redirect(301, "/trailing2/")
    );
    let then = "/a/ /a/#top 301\n/a/ /b 302";
    assert_eq!(route_in(then, "/a/", &[]), redirect(302, "/b"));
    let query = "/s /s?x=1 302";
    assert_eq!(route_in(query, "/s?x=1", &[]), Routing::Serve(None));
    assert_eq!(route_in(query, "/s", &[]), redirect(302, "/s?x=1"));
    let splat = "/docs/* /docs/:splat 301";
    assert_eq!(route_in(splat, "/docs/a%20b", &[]), Routing::Serve(None));
    // Nor after a rewrite: back to where the client is.
    let back = "/a /b 200\n/b /a 301";
    assert_eq!(
        route_in(back, "/a", &[]),
        Routing::Serve(Some("/b".to_owned()))
    );
}
