//! Static files end to end on an in-memory tree: lookup, redirects, hidden
//! and forbidden entries, listings, the 404 page; the HTTP semantics
//! (validators, conditionals, ranges, sidecars, types) are in `semantics`.

mod semantics;

use super::*;
use crate::fs::memory::{MODIFIED_SECS, MemoryFs};
use http::Request;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LAST_MODIFIED};

fn site() -> MemoryFs {
    MemoryFs::default()
        .with("index.html", "<h1>home</h1>")
        .with("index.css", "h1 { color: red; }")
        .with("app.js", "console.log('plain');")
        .with("app.js.br", "BR")
        .with("app.js.gz", "GZIP!")
        .with("my page.html", "spaces")
        .with("docs/index.html", "docs")
        .with("empty/readme.txt", "no index here")
        .with("NotFound.html", "custom 404")
        .with(".env", "SECRET=1")
        .with(".well-known/security.txt", "Contact: x")
        .with("digits.txt", "0123456789")
}

fn settings() -> Settings {
    Settings::default()
}

fn request(method: Method, target: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn get_with(
    root: &MemoryFs,
    target: &str,
    headers: &[(&str, &str)],
    settings: &Settings,
) -> Result<Response<Vec<u8>>, Error> {
    get(
        root,
        &request(Method::GET, target, headers),
        context(settings),
    )
}

/// A day after the in-memory files were modified.
fn context(settings: &Settings) -> Context<'_> {
    Context {
        settings,
        random: counting,
        now: std::time::UNIX_EPOCH + std::time::Duration::from_secs(MODIFIED_SECS + 86_400),
    }
}

/// Randomness that is not: 0, 1, 2, … so answers are the same every run.
fn counting(bytes: &mut [u8]) -> Result<(), String> {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = i as u8;
    }
    Ok(())
}

fn exists(root: &MemoryFs, path: &SitePath, settings: &Settings) -> bool {
    look_up(root, path, settings).exists()
}

#[test]
fn a_multi_range_boundary_comes_from_the_randomness_handed_in() {
    let root = MemoryFs::default().with("a.txt", "0123456789");
    let response = get_with(&root, "/a.txt", &[("range", "bytes=0-0,5-5")], &settings()).unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        response.headers()["content-type"],
        "multipart/byteranges; boundary=sitebox-000102030405060708090a0b"
    );
    let broken = |_: &mut [u8]| Err("no entropy".to_owned());
    let request = request(Method::GET, "/a.txt", &[("range", "bytes=0-0,5-5")]);
    let settings = settings();
    let context = Context {
        random: broken,
        ..context(&settings)
    };
    let error = get(&root, &request, context).unwrap_err();
    assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

fn get_path(root: &MemoryFs, target: &str) -> Result<Response<Vec<u8>>, Error> {
    get_with(root, target, &[], &settings())
}

/// The bytes the body would send.
fn body(response: &Response<Vec<u8>>) -> Vec<u8> {
    match response.body() {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) => bytes.clone(),
        Body::File { file, offset, len } => {
            file[*offset as usize..(*offset + *len) as usize].to_vec()
        }
        Body::Multipart { file, segments } => segments
            .iter()
            .flat_map(|segment| match segment {
                Segment::Bytes(bytes) => bytes.clone(),
                Segment::File { offset, len } => {
                    file[*offset as usize..(*offset + *len) as usize].to_vec()
                }
            })
            .collect(),
    }
}

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    response.headers()[name].to_str().unwrap()
}

#[test]
fn root_serves_index_html() {
    let response = get_path(&site(), "/").unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&response, "content-length"), "13");
    assert_eq!(body(&response), b"<h1>home</h1>");
}

#[test]
fn files_get_their_type_and_length() {
    let response = get_path(&site(), "/index.css?v=3").unwrap();
    assert_eq!(response.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(response.headers()[CONTENT_LENGTH], "18");
    assert_eq!(body(&response), b"h1 { color: red; }");
}

#[test]
fn percent_encoded_names_are_found() {
    assert_eq!(
        body(&get_path(&site(), "/my%20page.html").unwrap()),
        b"spaces"
    );
}

#[test]
fn directories_serve_their_index() {
    assert_eq!(body(&get_path(&site(), "/docs/").unwrap()), b"docs");
    assert_eq!(get_path(&site(), "/empty/").unwrap_err(), Error::NotFound);
}

#[test]
fn directory_without_slash_redirects_keeping_the_query() {
    let response = get_path(&site(), "/docs?lang=en").unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&response, "location"), "/docs/?lang=en");
    assert_eq!(header(&response, "content-length"), "0");
}

#[test]
fn missing_and_misnamed_paths_are_not_found() {
    assert_eq!(
        get_path(&site(), "/nope.html").unwrap_err(),
        Error::NotFound
    );
    assert_eq!(
        get_path(&site(), "/index.css/").unwrap_err(),
        Error::NotFound
    );
}

#[test]
fn hostile_paths_are_bad_requests() {
    for target in [
        "/../secret",
        "/%2e%2e/secret",
        "/..%2fsecret",
        "//etc/passwd",
    ] {
        let error = get_path(&site(), target).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{target}");
    }
}

#[test]
fn forbidden_entries_stay_forbidden() {
    let root = site().with("link", "outside").forbid("link");
    assert_eq!(
        get_path(&root, "/link").unwrap_err().status(),
        StatusCode::FORBIDDEN
    );
}

#[test]
fn dotfiles_are_hidden_unless_allowed() {
    assert_eq!(get_path(&site(), "/.env").unwrap_err(), Error::NotFound);
    assert_eq!(
        body(&get_path(&site(), "/.well-known/security.txt").unwrap()),
        b"Contact: x"
    );
    let allowed = Settings {
        dotfiles: true,
        ..settings()
    };
    assert_eq!(
        body(&get_with(&site(), "/.env", &[], &allowed).unwrap()),
        b"SECRET=1"
    );
}

#[test]
fn listings_only_when_enabled() {
    assert_eq!(get_path(&site(), "/empty/").unwrap_err(), Error::NotFound);
    let listing = Settings {
        listing: true,
        ..settings()
    };
    let response = get_with(&site(), "/empty/", &[], &listing).unwrap();
    assert!(
        String::from_utf8(body(&response))
            .unwrap()
            .contains("readme.txt")
    );
    let index = get_with(&site(), "/docs/", &[], &listing).unwrap();
    assert_eq!(body(&index), b"docs", "an index.html wins over the listing");
}

#[test]
fn error_pages_come_from_the_site_by_status() {
    let page = |root: &MemoryFs, status: u16| {
        let response = error_page(root, StatusCode::from_u16(status).unwrap())?;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, "cache-control"), "no-cache");
        Some(String::from_utf8(body(&response)).unwrap())
    };
    assert_eq!(
        page(&site(), 404).as_deref(),
        Some("custom 404"),
        "NotFound.html"
    );
    let own = site()
        .with("404.html", "four-oh-four")
        .with("500.html", "broken")
        .with("403.html", "forbidden");
    assert_eq!(
        page(&own, 404).as_deref(),
        Some("four-oh-four"),
        "404.html first"
    );
    assert_eq!(page(&own, 500).as_deref(), Some("broken"));
    assert_eq!(page(&own, 403).as_deref(), Some("forbidden"));
    assert_eq!(page(&own, 503), None, "no 503.html: ours");
    assert_eq!(page(&MemoryFs::default(), 404), None);
}

#[test]
fn the_rules_files_are_never_served_or_listed() {
    let root = site()
        .with("_redirects", "/a /b")
        .with("_headers", "/*\n  X-A: 1")
        .with("sub/_redirects", "an ordinary file below the root");
    for target in ["/_redirects", "/_headers"] {
        assert_eq!(
            get_with(&root, target, &[], &settings()).unwrap_err(),
            Error::NotFound
        );
        assert!(!exists(
            &root,
            &SitePath::parse(target).unwrap(),
            &settings()
        ));
        assert!(
            page(
                &root,
                &SitePath::parse(target).unwrap(),
                StatusCode::NOT_FOUND,
                &settings()
            )
            .is_none()
        );
    }
    let below = get_with(&root, "/sub/_redirects", &[], &settings()).unwrap();
    assert_eq!(body(&below), b"an ordinary file below the root");
    let listing = Settings {
        listing: true,
        ..settings()
    };
    let root = root.with("empty/_headers", "listed: not the root's");
    let top = get_with(&root, "/empty/../", &[], &listing);
    assert!(top.is_err(), "dot segments are refused");
    let root = root.without("index.html");
    let top = get_with(&root, "/", &[], &listing).unwrap();
    let top = String::from_utf8(body(&top)).unwrap();
    assert!(top.contains("index.css") && !top.contains("_redirects") && !top.contains("_headers"));
    let empty = get_with(&root, "/empty/", &[], &listing).unwrap();
    assert!(
        String::from_utf8(body(&empty))
            .unwrap()
            .contains("_headers")
    );
}

#[test]
fn clean_urls_serve_pages_without_html_and_redirect_to_that() {
    let clean = Settings {
        clean_urls: true,
        ..settings()
    };
    let root = site()
        .with("about.html", "about us")
        .with("about-dir/index.html", "x");
    let about = get_with(&root, "/about", &[], &clean).unwrap();
    assert_eq!(about.status(), StatusCode::OK);
    assert_eq!(body(&about), b"about us");
    assert_eq!(header(&about, "content-type"), "text/html; charset=utf-8");
    for (target, location) in [
        ("/about.html", "/about"),
        ("/about.html?x=1", "/about?x=1"),
        ("/my%20page.html", "/my%20page"),
        ("/index.html", "/"),
        ("/docs/index.html", "/docs/"),
    ] {
        let response = get_with(&root, target, &[], &clean).unwrap();
        assert_eq!(
            response.status(),
            StatusCode::PERMANENT_REDIRECT,
            "{target}"
        );
        assert_eq!(header(&response, "location"), location, "{target}");
    }
    assert_eq!(
        body(&get_with(&root, "/my%20page", &[], &clean).unwrap()),
        b"spaces"
    );
    assert_eq!(
        get_with(&root, "/missing.html", &[], &clean).unwrap_err(),
        Error::NotFound
    );
    assert_eq!(
        get_with(&root, "/about/", &[], &clean).unwrap_err(),
        Error::NotFound
    );
    assert_eq!(
        get_with(&root, "/about", &[], &settings()).unwrap_err(),
        Error::NotFound,
        "off by default"
    );
    let served = get_with(&root, "/about.html", &[], &settings()).unwrap();
    assert_eq!(served.status(), StatusCode::OK, "off: served by its name");
    assert!(exists(&root, &SitePath::parse("/about").unwrap(), &clean));
    assert!(!exists(
        &root,
        &SitePath::parse("/about").unwrap(),
        &settings()
    ));
}
