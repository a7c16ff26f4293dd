//! `_redirects`, `_headers`, error pages and the default security headers,
//! through the whole router.

use super::*;

const INDEX: &str = "<script src=/app.js></script>";

fn site_with(files: &[(&str, &str)]) -> Site<MemoryFs, MemoryStore> {
    let mut root = MemoryFs::default()
        .with("index.html", INDEX)
        .with("app.js", "render()")
        .with("NotFound.html", "lost");
    for (name, contents) in files {
        root = root.with(name, *contents);
    }
    Site {
        static_root: root,
        ..site()
    }
}

fn get(site: &Site<MemoryFs, MemoryStore>, target: &str) -> Response<Vec<u8>> {
    handle(request(Method::GET, target), site)
}

fn text(response: &Response<Vec<u8>>) -> String {
    let bytes = match response.body() {
        Body::Bytes(bytes) => bytes.clone(),
        Body::File { file, offset, len } => {
            file[*offset as usize..(*offset + *len) as usize].to_vec()
        }
        other => panic!("unexpected body {other:?}"),
    };
    String::from_utf8(bytes).unwrap()
}

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn a_single_page_app_gets_its_index_at_every_deep_link() {
    let site = site_with(&[("_redirects", "/* /index.html 200\n")]);
    for target in ["/users/42", "/users/42/edit?tab=1", "/missing.png"] {
        let response = get(&site, target);
        assert_eq!(response.status(), StatusCode::OK, "{target}");
        assert_eq!(text(&response), INDEX, "{target}");
    }
    assert_eq!(
        text(&get(&site, "/app.js")),
        "render()",
        "files are not shadowed"
    );
    let board = get(&site, "/board");
    assert!(
        text(&board).contains("Message Board"),
        "the board is not swallowed"
    );
    let api = get(&site, "/api/messages");
    assert_eq!(header(&api, "content-type"), Some("application/json"));
    let unknown_api = get(&site, "/api/nothing");
    assert_eq!(
        unknown_api.status(),
        StatusCode::NOT_FOUND,
        "/api/ is the component's"
    );
}

#[test]
fn redirects_answer_with_their_status_and_location() {
    let site = site_with(&[(
        "_redirects",
        "/old /new 301\n/tmp/* /t/:splat 302\n/see /other 303\n/keep /kept 307\n/perm https://example.com/ 308\n",
    )]);
    for (target, status, location) in [
        ("/old?x=1", 301, "/new?x=1"),
        ("/tmp/a/b", 302, "/t/a/b"),
        ("/see", 303, "/other"),
        ("/keep", 307, "/kept"),
        ("/perm", 308, "https://example.com/"),
    ] {
        let response = get(&site, target);
        assert_eq!(response.status().as_u16(), status, "{target}");
        assert_eq!(header(&response, "location"), Some(location), "{target}");
        assert_eq!(header(&response, "content-length"), Some("0"));
    }
    let post = handle(request(Method::POST, "/keep"), &site);
    assert_eq!(post.status(), StatusCode::TEMPORARY_REDIRECT, "any method");
}

#[test]
fn a_rewrite_can_reach_the_board_and_not_the_rules_files() {
    let site = site_with(&[(
        "_redirects",
        "/guestbook /board 200\n/rules /_redirects 200\n/hidden /.env 200\n",
    )]);
    let board = get(&site, "/guestbook");
    assert!(text(&board).contains("Message Board"));
    assert_eq!(header(&board, "cache-control"), Some("no-store"));
    for target in ["/rules", "/_redirects", "/_headers"] {
        let response = get(&site, target);
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{target}");
        assert_eq!(text(&response), "lost");
    }
}

#[test]
fn a_not_found_rule_serves_its_page_with_404() {
    let site = site_with(&[
        (
            "_redirects",
            "/shop/* /shop/gone.html 404\n/lost/* /nowhere.html 404\n",
        ),
        ("shop/gone.html", "sold out"),
        ("shop/item.html", "an item"),
    ]);
    let gone = get(&site, "/shop/anything");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(text(&gone), "sold out");
    assert_eq!(text(&get(&site, "/shop/item.html")), "an item", "shadowed");
    let fallback = get(&site, "/lost/x");
    assert_eq!(fallback.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        text(&fallback),
        "lost",
        "the site's 404 page when the target is missing"
    );
}

#[test]
fn a_not_found_rule_reaches_only_what_a_request_could() {
    let rules = "/a /.pages/gone.html 404\n/b /_headers 404\n";
    let mut site = site_with(&[
        ("_redirects", rules),
        ("_headers", "/*\n  X-A: 1"),
        (".pages/gone.html", "gone"),
    ]);
    assert_eq!(text(&get(&site, "/a")), "lost", "hidden");
    assert_eq!(text(&get(&site, "/b")), "lost", "a rules file");
    site.settings.dotfiles = true;
    let shown = get(&site, "/a");
    assert_eq!(
        (shown.status(), text(&shown).as_str()),
        (StatusCode::NOT_FOUND, "gone")
    );
    assert_eq!(text(&get(&site, "/b")), "lost");
}

#[test]
fn a_loop_is_a_500_that_names_the_rule() {
    let site = site_with(&[("_redirects", "# loops\n/a /b 200\n/b /a 200\n")]);
    let response = get(&site, "/a");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text(&response).contains("rule on line 3 rewrites in a loop"));
    let own = site_with(&[("_redirects", "/a /a 200!"), ("500.html", "our fault")]);
    let response = get(&own, "/a");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(text(&response), "our fault", "the site's own 500 page");
}

#[test]
fn error_pages_come_from_the_site_by_status() {
    let site = site_with(&[("404.html", "four-oh-four"), ("405.html", "not like that")]);
    let missing = get(&site, "/missing");
    assert_eq!(
        (missing.status(), text(&missing).as_str()),
        (StatusCode::NOT_FOUND, "four-oh-four")
    );
    let post = handle(request(Method::POST, "/index.html"), &site);
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(text(&post), "not like that");
    assert_eq!(
        header(&post, "allow"),
        Some("GET, HEAD, OPTIONS"),
        "and the error's headers"
    );
    let bad = get(&site, "/%2e%2e/x");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(text(&bad).contains("400 Bad Request"), "no 400.html: ours");
}

#[test]
fn security_headers_by_default() {
    let site = site_with(&[]);
    let file = get(&site, "/app.js");
    assert_eq!(header(&file, "x-content-type-options"), Some("nosniff"));
    assert_eq!(
        header(&file, "content-security-policy"),
        None,
        "the site's files are its own"
    );
    for response in [
        get(&site, "/board"),
        get(&site, "/%2e%2e/x"),
        get(&site, "/missing-but-ours?"),
    ] {
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        if header(&response, "content-type") == Some("text/html; charset=utf-8")
            && text(&response) != "lost"
        {
            let policy = header(&response, "content-security-policy").unwrap();
            assert!(policy.contains("frame-ancestors 'none'"));
            assert_eq!(header(&response, "referrer-policy"), Some("same-origin"));
        }
    }
    let api = get(&site, "/api/messages");
    assert_eq!(header(&api, "x-content-type-options"), Some("nosniff"));
}

#[test]
fn header_blocks_apply_to_every_answer_by_the_requested_path() {
    let site = site_with(&[
        ("_redirects", "/old /new\n/spa/* /index.html 200\n"),
        (
            "_headers",
            "/*\n  X-Frame-Options: DENY\n/spa/*\n  X-Spa: yes\n/index.html\n  X-Index: yes\n/app.js\n  ! X-Content-Type-Options\n  Cache-Control: immutable\n",
        ),
    ]);
    for target in [
        "/",
        "/old",
        "/missing",
        "/board",
        "/api/messages",
        "/spa/deep",
    ] {
        let response = get(&site, target);
        assert_eq!(
            header(&response, "x-frame-options"),
            Some("DENY"),
            "{target}"
        );
    }
    let deep = get(&site, "/spa/deep");
    assert_eq!(header(&deep, "x-spa"), Some("yes"));
    assert_eq!(
        header(&deep, "x-index"),
        None,
        "blocks match the URL, not the rewrite"
    );
    let app = get(&site, "/app.js");
    assert_eq!(header(&app, "x-content-type-options"), None);
    assert_eq!(header(&app, "cache-control"), Some("immutable"));
    let head = handle(request(Method::HEAD, "/app.js"), &site);
    assert_eq!(head.headers(), app.headers());
}

#[test]
fn rules_the_host_hands_in_stand_for_the_files() {
    let mut site = site_with(&[
        ("_redirects", "/a /index.html 302"),
        ("_headers", "/*\n  X-File: 1"),
    ]);
    site.handed_rules = HandedRules {
        redirects: Some("1 301 /b /app.js\n".to_owned()),
        headers: Some("/*\nx-handed:1\n".to_owned()),
    };
    assert_eq!(
        get(&site, "/a").status(),
        StatusCode::NOT_FOUND,
        "the file's rule is not read"
    );
    let moved = get(&site, "/b");
    assert_eq!(moved.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&moved, "location"), Some("/app.js"));
    assert_eq!(header(&moved, "x-handed"), Some("1"));
    assert_eq!(header(&moved, "x-file"), None);
    assert_eq!(get(&site, "/_redirects").status(), StatusCode::NOT_FOUND);
    site.handed_rules.redirects = Some(String::new());
    assert_eq!(
        get(&site, "/b").status(),
        StatusCode::NOT_FOUND,
        "handed in empty: no rules"
    );
}

#[test]
fn a_file_looked_up_for_a_rule_is_served_without_a_second_lookup() {
    let mut plain = site_with(&[]);
    plain.handed_rules.redirects = Some(String::new());
    plain.handed_rules.headers = Some(String::new());
    get(&plain, "/app.js");
    let mut site = site_with(&[]);
    site.handed_rules.redirects = Some("1 200 /* /index.html\n".to_owned());
    site.handed_rules.headers = Some(String::new());
    let served = get(&site, "/app.js");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(text(&served), "render()");
    assert_eq!(
        site.static_root.opened(),
        plain.static_root.opened(),
        "the lookup that shadows the rule is the one served"
    );
    let deep = get(&site, "/deep/link");
    assert_eq!(text(&deep), INDEX, "the rewrite's target is looked up anew");
}

/// Issue 31: with clean URLs, the redirect from `x.html` to `x` is for the
/// URL the client asked for; a rewrite serves its target's content. It
/// answered every deep link of `/* /index.html 200` with `308 /`.
#[test]
fn clean_urls_redirect_what_was_asked_for_not_a_rewrite_target() {
    let rules = "/rewrite /page.html 200\n/* /index.html 200\n";
    let mut site = site_with(&[("_redirects", rules), ("page.html", "the page")]);
    site.settings.clean_urls = true;
    for (target, body) in [
        ("/users/42", INDEX),
        ("/users/42/edit?tab=1", INDEX),
        ("/rewrite", "the page"),
        ("/page", "the page"),
    ] {
        let response = get(&site, target);
        assert_eq!(response.status(), StatusCode::OK, "{target}");
        assert_eq!(text(&response), body, "{target}");
    }
    let asked = get(&site, "/page.html");
    assert_eq!(asked.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&asked, "location"), Some("/page"));
    let index = get(&site, "/index.html");
    assert_eq!(header(&index, "location"), Some("/"));
}

#[test]
fn a_refused_plain_file_is_a_406_where_the_sites_headers_keep_it_plain() {
    let long = "p { margin: 0 }\n".repeat(100);
    let mut site = site_with(&[
        ("style.css", &long),
        ("raw/style.css", &long),
        ("_headers", "/raw/*\n  Cache-Control: no-transform\n"),
    ]);
    site.settings.host_compression = Some(crate::compression::Compression::default());
    let refusing = |target: &str| {
        let request = Request::get(target)
            .header("accept-encoding", "gzip, identity;q=0")
            .body(())
            .unwrap();
        handle(request, &site)
    };
    let compressed = refusing("/style.css");
    assert_eq!(
        compressed.status(),
        StatusCode::OK,
        "the host compresses it"
    );
    let kept = refusing("/raw/style.css");
    assert_eq!(kept.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(header(&kept, "vary"), Some("Accept-Encoding"));
    let small = refusing("/app.js");
    assert_eq!(
        small.status(),
        StatusCode::NOT_ACCEPTABLE,
        "too small to compress"
    );
}
