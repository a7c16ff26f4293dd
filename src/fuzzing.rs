//! The parsers that read attacker bytes, each behind one entry point that
//! takes arbitrary bytes and checks its invariants (a panic is a finding):
//! the cargo-fuzz targets in `fuzz/` call these, and the unit test below
//! replays the committed corpus `fuzz/corpus/<target>/` through them, so the
//! stable suite exercises every finding without nightly.

use crate::board::submission;
use crate::fs::FileMeta;
use crate::fs::memory::MemoryFs;
use crate::http::precompressed::{self, Choice, Coding};
use crate::http::range::{self, Ranges};
use crate::http::site_path::SitePath;
use crate::router::{self, Site};
use crate::rules::prepared::{self, Scope};
use crate::rules::{self, HEADERS_FILE, REDIRECTS_FILE, Routing, Source};
use crate::settings::Settings;
use crate::static_files::conditional::{self, Validators};
use crate::static_files::listing;
use crate::store::MemoryStore;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::{Duration, UNIX_EPOCH};

/// An entry point: arbitrary bytes in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its directories in `fuzz/`.
pub const TARGETS: [(&str, Target); 9] = [
    ("site_path", site_path),
    ("range", range),
    ("conditional", conditional),
    ("accept_encoding", accept_encoding),
    ("form", form),
    ("listing", listing),
    ("request", request),
    ("redirects", redirects),
    ("headers", headers),
];

/// A path either fails to parse or names only plain segments, and those
/// segments, percent-encoded again, parse back to the same path.
pub fn site_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = SitePath::parse(text) else {
        return;
    };
    for segment in path.segments() {
        assert!(!segment.is_empty() && segment != "." && segment != "..");
        assert!(!segment.contains(['/', '\\', '\0']), "{segment:?}");
    }
    let encoded: Vec<String> = path
        .segments()
        .iter()
        .map(|segment| utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string())
        .collect();
    let again = SitePath::parse(&format!("/{}", encoded.join("/")));
    assert_eq!(
        again.as_ref().map(SitePath::segments),
        Ok(path.segments()),
        "{text:?}"
    );
}

/// The first eight bytes are the length; partial ranges lie inside it,
/// ascending and disjoint.
pub fn range(data: &[u8]) {
    let (len, header) = split_u64(data);
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    if let Ranges::Partial(ranges) = range::resolve(header, len) {
        assert!(!ranges.is_empty());
        for &(first, last) in &ranges {
            assert!(
                first <= last && last < len,
                "{first}-{last} of {len}: {header:?}"
            );
        }
        assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "{ranges:?}");
    }
}

/// The conditional headers, one per line, against fixed validators: any
/// bytes give one of the three answers, never a panic.
pub fn conditional(data: &[u8]) {
    let meta = FileMeta {
        len: 1234,
        modified: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 5)),
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let validators = Validators::new(&meta, None, now);
    let names = [
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
    ];
    let mut headers = HeaderMap::new();
    for (line, name) in data.split(|&b| b == b'\n').zip(names.iter().cycle()) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(*name, value);
        }
    }
    for method in [Method::GET, Method::HEAD, Method::POST] {
        let _ = conditional::evaluate(&method, &headers, &validators);
    }
}

/// The first byte picks which sidecars exist; a chosen coding is one of them.
pub fn accept_encoding(data: &[u8]) {
    let Some((&mask, header)) = data.split_first() else {
        return;
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let available: Vec<Coding> = Coding::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, coding)| coding)
        .collect();
    if let Choice::Coded(coding) = precompressed::choose(Some(header), &available) {
        assert!(available.contains(&coding), "{coding:?} from {header:?}");
    }
}

/// A form body decodes strictly or is refused with a 4xx; what decodes is
/// what `form_urlencoded` (lenient) makes of it; a decoded message is checked
/// as the board checks it.
pub fn form(data: &[u8]) {
    match submission::parse_form(data) {
        Ok(fields) => {
            let lenient: Vec<(String, String)> =
                form_urlencoded::parse(data).into_owned().collect();
            assert_eq!(fields, lenient);
            for (_, value) in fields {
                if let Err(error) = submission::check_message(&value) {
                    assert!(error.status().is_client_error());
                }
            }
        }
        Err(error) => assert!(error.status().is_client_error()),
    }
}

/// A file whose name is the data: the listing shows it without adding any
/// markup, so its page has as many `<`, `>` and `"` as the page for a plain
/// name.
pub fn listing(data: &[u8]) {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    // Not listed at all (`names_a_request_cannot_name_are_not_listed`).
    if SitePath::root().entry(name).is_none() {
        return;
    }
    let (Some(page), Some(plain)) = (listing_of(name), listing_of("plain")) else {
        return;
    };
    let markup = |page: &str| ['<', '>', '"'].map(|c| page.matches(c).count());
    assert_eq!(markup(&page), markup(&plain), "{name:?}: {page}");
}

/// The listing of a directory holding one file, `name`.
fn listing_of(name: &str) -> Option<String> {
    let root = MemoryFs::default().with(&format!("dir/{name}"), "x");
    let settings = Settings {
        listing: true,
        dotfiles: true,
        ..Settings::default()
    };
    let directory = SitePath::parse("/dir/").expect("a plain path");
    let response = listing::page(&root, &directory, None, &settings).ok()?;
    let crate::http::response::Body::Bytes(page) = response.into_body() else {
        panic!("a listing is HTML bytes");
    };
    Some(String::from_utf8(page).expect("a listing is UTF-8"))
}

/// A whole request through the router, over a small site and board: the
/// first line is `METHOD TARGET`, then header lines, a blank line, the body.
/// Whatever it is, the answer is never a 500.
pub fn request(data: &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let mut words = first.splitn(2, |&b| b == b' ');
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return;
    };
    let Ok(method) = Method::from_bytes(method) else {
        return;
    };
    let mut builder = Request::builder().method(method).uri(target);
    for line in lines {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            builder = builder.header(&line[..colon], trim(&line[colon + 1..]));
        }
    }
    let Ok(request) = builder.body(body.to_vec()) else {
        return;
    };
    let site = Site {
        static_root: MemoryFs::default()
            .with("index.html", "<p>home</p>")
            .with("NotFound.html", "lost")
            .with("a.css", "body{}")
            .with("a.css.gz", "gz")
            .with("docs/readme.txt", "text")
            // Rules that cannot loop, so a 500 is still a finding.
            .with(
                REDIRECTS_FILE,
                "/old /a.css 301\n/spa/* /index.html 200\n/u/:id /docs/:id 302\n/shop/* /missing.html 404\n/api/* /nowhere 302!\n",
            )
            .with(HEADERS_FILE, "/*\n  X-Frame-Options: DENY\n/docs/*\n  ! X-Content-Type-Options\n"),
        store: MemoryStore::default(),
        settings: Settings {
            listing: true,
            // Clearing then checks whatever `Authorization` the input sends.
            admin_password_hash: Some(crate::board::admin::testing::HASH.clone()),
            ..Settings::default()
        },
        clock: jiff::Timestamp::now,
        // Fixed, so a finding replays the same.
        random: |bytes| {
            bytes.fill(0x5a);
            Ok(())
        },
        handed_rules: rules::HandedRules::default(),
    };
    let response = router::handle(request, &site);
    assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// Paths worth routing for a rules file: a few fixed ones and every token
/// of the file that parses as a path (so FROMs are hit).
fn paths_for(text: &str) -> Vec<SitePath> {
    let fixed = ["/", "/a", "/a/b/c", "/index.html", "/caf%C3%A9/x.html"];
    fixed
        .into_iter()
        .chain(text.split_ascii_whitespace())
        .filter_map(|token| SitePath::parse(token).ok())
        .take(64)
        .collect()
}

/// A `_redirects` file: `check` reports lines in order and within the file;
/// its preparation for a path's scope (the component's) and for the runner's
/// key route as all its rules do; following it from any path, with and
/// without files there, ends in a
/// `Location` a header can carry or a target that is a valid request
/// target, never a panic.
pub fn redirects(data: &[u8]) {
    let problems = rules::check(REDIRECTS_FILE, data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.lines().count();
    assert!(problems.windows(2).all(|w| w[0].line < w[1].line));
    assert!(problems.iter().all(|p| p.line <= lines));
    let named = prepared::named_scopes(REDIRECTS_FILE, text);
    let everything = prepared::prepare(REDIRECTS_FILE, text, &Scope::All);
    for path in paths_for(text) {
        let scope = Scope::of(&path);
        // Prepared for the path's scope and for the runner's key.
        let own = prepared::prepare(REDIRECTS_FILE, text, &scope);
        let key = if named.contains(&scope) {
            scope
        } else {
            Scope::Other
        };
        let handed = prepared::prepare(REDIRECTS_FILE, text, &key);
        // Nothing, everything, or every other path exists.
        let exist: [fn(&SitePath) -> bool; 3] =
            [|_| false, |_| true, |at| at.decoded().len() % 2 == 0];
        for exists in exist {
            let route = |rules| rules::route(rules, &path, Some("q=1"), exists);
            let routing = route(Source::File(text));
            for prepared in [&own, &handed, &everything] {
                let by_preparation = route(Source::Prepared(prepared));
                assert_eq!(routing, by_preparation, "{path:?}, {key:?}: {prepared:?}");
            }
            match routing {
                Routing::Redirect { status, location } => {
                    assert!(status.is_redirection());
                    // Issue 31: a redirect on this site stays on it.
                    let absolute =
                        location.starts_with("https://") || location.starts_with("http://");
                    assert!(
                        absolute
                            || (location.starts_with('/')
                                && !location.starts_with("//")
                                && !location.starts_with("/\\")),
                        "{location:?}"
                    );
                    assert!(
                        HeaderValue::try_from(location.as_str()).is_ok(),
                        "{location:?}"
                    );
                }
                Routing::Serve(Some(target)) => {
                    assert!(
                        target.parse::<http::uri::PathAndQuery>().is_ok(),
                        "{target:?}"
                    );
                    let path = target.split('?').next().unwrap_or_default();
                    assert!(SitePath::parse(path).is_ok(), "{target:?}");
                }
                Routing::Serve(None) | Routing::NotFound(_) | Routing::Broken { .. } => {}
            }
        }
    }
}

/// A `_headers` file applied for any path: the headers that frame a
/// response are never touched, every preparation that holds the path gives
/// the same headers, and `check` reports lines in order.
pub fn headers(data: &[u8]) {
    let problems = rules::check(HEADERS_FILE, data);
    assert!(problems.windows(2).all(|w| w[0].line < w[1].line));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let named = prepared::named_scopes(HEADERS_FILE, text);
    let everything = prepared::prepare(HEADERS_FILE, text, &Scope::All);
    for path in paths_for(text) {
        let scope = Scope::of(&path);
        let key = if named.contains(&scope) {
            scope.clone()
        } else {
            Scope::Other
        };
        let preparations = [
            prepared::prepare(HEADERS_FILE, text, &scope),
            prepared::prepare(HEADERS_FILE, text, &key),
            everything.clone(),
        ];
        let sources = std::iter::once(Source::File(text)).chain(
            preparations
                .iter()
                .map(|prepared| Source::Prepared(prepared)),
        );
        let mut applied = Vec::new();
        for source in sources {
            let mut headers = HeaderMap::new();
            headers.insert("content-length", HeaderValue::from_static("42"));
            headers.insert("content-type", HeaderValue::from_static("text/plain"));
            rules::headers::apply(source, &path.decoded(), &mut headers);
            applied.push(headers);
        }
        assert!(
            applied.windows(2).all(|w| w[0] == w[1]),
            "{path:?}: the file and its preparations differ"
        );
        let headers = &applied[0];
        assert_eq!(headers.get_all("content-length").iter().count(), 1);
        assert_eq!(headers["content-length"], "42");
        for framing in ["transfer-encoding", "content-encoding", "connection", "te"] {
            assert!(headers.get(framing).is_none(), "{framing}");
        }
    }
}

fn split_u64(data: &[u8]) -> (u64, &[u8]) {
    if data.len() < 8 {
        return (0, data);
    }
    let (len, rest) = data.split_at(8);
    (u64::from_le_bytes(len.try_into().unwrap()), rest)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests;
