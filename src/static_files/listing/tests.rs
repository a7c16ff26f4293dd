use super::*;
use crate::fs::memory::MemoryFs;
use crate::http::response::Body;

fn listing_at(root: &MemoryFs, path: &str, query: Option<&str>, dotfiles: bool) -> String {
    let settings = Settings {
        listing: true,
        dotfiles,
        ..Settings::default()
    };
    let response = page(root, &SitePath::parse(path).unwrap(), query, &settings).unwrap();
    assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
    let Body::Bytes(bytes) = response.into_body() else {
        panic!()
    };
    String::from_utf8(bytes).unwrap()
}

fn listing(root: &MemoryFs, path: &str, dotfiles: bool) -> String {
    listing_at(root, path, None, dotfiles)
}

#[test]
fn entries_are_sorted_escaped_and_encoded() {
    let root = MemoryFs::default()
        .with("files/b.txt", "bb")
        .with("files/a <b>&.txt", "a")
        .with("files/zdir/x", "x")
        .with("files/.secret", "s")
        .with("files/big.bin", vec![0; 3 * 1024 * 1024]);
    let html = listing(&root, "/files/", false);
    assert!(html.contains("<title>Index of /files/</title>"));
    assert!(html.contains("<a href=\"../\">"));
    assert!(html.contains("<a href=\"a%20%3Cb%3E%26.txt\">a &lt;b&gt;&amp;.txt</a>"));
    assert!(html.contains("<a href=\"zdir/\">zdir/</a>"));
    assert!(html.contains("3.0 MiB") && html.contains("2 B"));
    assert!(!html.contains(".secret"));
    assert!(!html.contains("Next page"), "one page");
    let order: Vec<usize> = ["zdir/", "a%20", "b.txt", "big.bin"]
        .iter()
        .map(|n| html.find(n).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "directories first, then by name"
    );
    assert!(listing(&root, "/files/", true).contains(".secret"));
}

/// What is served is listed: the top-level `/.well-known/` (RFC 8615)
/// shows, as it is served; one below the top does not, as it is not.
#[test]
fn hidden_entries_follow_the_serving_rule() {
    let root = MemoryFs::default()
        .with(".well-known/security.txt", "Contact: x")
        .with(".git/config", "[core]")
        .with("a/.well-known/x", "x")
        .with("a/b.txt", "b")
        .with("_redirects", "/a /b")
        .with("a/_redirects", "listed: not the site's rules file");
    let top = listing(&root, "/", false);
    assert!(top.contains("href=\".well-known/\"") && !top.contains(".git"));
    assert!(
        !top.contains("_redirects"),
        "the rules files are not served"
    );
    let a = listing(&root, "/a/", false);
    assert!(!a.contains(".well-known") && a.contains("href=\"_redirects\""));
}

/// Issue 32: a name a request path cannot carry was listed, and its link
/// answered 400.
#[test]
fn names_a_request_cannot_name_are_not_listed() {
    let root = MemoryFs::default()
        .with("d/tab\there", "x")
        .with("d/esc\u{1b}[31m", "x")
        .with("d/back\\slash", "x")
        .with("d/nel\u{85}", "x")
        .with("d/plain ü.txt", "x");
    let html = listing(&root, "/d/", false);
    assert!(html.contains("plain%20%C3%BC.txt"), "{html}");
    assert_eq!(
        html.matches("<tr>").count(),
        3,
        "header, ../ and one: {html}"
    );
}

/// Issue 32: a big directory was built as one page and ran the guest out of
/// memory. Pages of `PAGE_ENTRIES`, each linking to the next, list every
/// entry once, in order.
#[test]
fn a_big_directory_is_listed_in_pages() {
    let mut root = MemoryFs::default();
    let files = PAGE_ENTRIES * 2 + 10;
    for i in 0..files {
        root = root.with(&format!("big/f{i:05}"), "x");
    }
    root = root.with("big/sub/x", "x");
    let mut seen = Vec::new();
    let mut query: Option<String> = None;
    let mut pages = 0;
    loop {
        let html = listing_at(&root, "/big/", query.as_deref(), false);
        pages += 1;
        let names: Vec<&str> = html
            .split("<td><a href=\"")
            .skip(1)
            .filter_map(|row| row.split('"').next())
            .filter(|href| *href != "../")
            .collect();
        assert!(names.len() <= PAGE_ENTRIES);
        seen.extend(names.iter().map(|n| n.to_string()));
        assert_eq!(html.contains("First page"), query.is_some());
        match html.split("<a href=\"?after=").nth(1) {
            Some(rest) => {
                let next = rest.split('"').next().unwrap();
                assert_eq!(
                    next,
                    *names.last().unwrap(),
                    "the next page starts after the last"
                );
                query = Some(format!("after={next}"));
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = vec!["sub/".to_owned()];
    expected.extend((0..files).map(|i| format!("f{i:05}")));
    assert_eq!(seen, expected);
}

#[test]
fn a_malformed_after_is_a_400() {
    let root = MemoryFs::default().with("d/a", "x");
    let settings = Settings {
        listing: true,
        ..Settings::default()
    };
    let path = SitePath::parse("/d/").unwrap();
    for query in ["after=%zz", "after=%ff"] {
        let error = page(&root, &path, Some(query), &settings).err().unwrap();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let past_the_end = listing_at(&root, "/d/", Some("x=1&after=zzz"), false);
    assert!(!past_the_end.contains("href=\"a\""));
}

#[test]
fn sizes() {
    assert_eq!(size(0), "0 B");
    assert_eq!(size(1023), "1023 B");
    assert_eq!(size(1536), "1.5 KiB");
    assert_eq!(size(5 << 30), "5.0 GiB");
}
