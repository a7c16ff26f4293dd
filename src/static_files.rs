//! Static files: a checked path to a file below the root (a directory to its
//! `index.html`), its Content-Type, and the site's own 404 page.

use crate::error::Error;
use crate::fs::{Entry, FileMeta, StaticFs};
use crate::html;
use crate::response::{self, Body, Response, TEXT_HTML};
use crate::site_path::SitePath;
use http::header::{HeaderValue, LOCATION};
use http::{StatusCode, Uri};
use mime_guess::mime;

pub const INDEX_FILE: &str = "index.html";
pub const NOT_FOUND_FILE: &str = "NotFound.html";

/// The `GET` answer for the request target `uri`.
pub fn get<R: StaticFs>(root: &R, uri: &Uri) -> Result<Response<R::File>, Error> {
    let path = SitePath::parse(uri.path())?;
    match root.open(&path)? {
        // `/page.html/` names a directory that is a file: nothing there.
        Entry::File { .. } if path.has_trailing_slash() => Err(Error::NotFound),
        Entry::File { file, meta } => Ok(file_response(
            StatusCode::OK,
            file,
            meta,
            content_type(path.file_name()),
        )),
        Entry::Directory if !path.has_trailing_slash() => Ok(redirect_to_directory(uri)),
        Entry::Directory => match root.open(&path.child(INDEX_FILE))? {
            Entry::File { file, meta } => Ok(file_response(
                StatusCode::OK,
                file,
                meta,
                HeaderValue::from_static(TEXT_HTML),
            )),
            Entry::Directory => Err(Error::NotFound),
        },
    }
}

/// The 404 answer: the site's `NotFound.html` when it has one, else ours.
pub fn not_found<R: StaticFs>(root: &R) -> Response<R::File> {
    match root.open(&SitePath::root().child(NOT_FOUND_FILE)) {
        Ok(Entry::File { file, meta }) => file_response(
            StatusCode::NOT_FOUND,
            file,
            meta,
            HeaderValue::from_static(TEXT_HTML),
        ),
        _ => response::html(
            StatusCode::NOT_FOUND,
            html::error_page(StatusCode::NOT_FOUND, &Error::NotFound.public_message()),
        ),
    }
}

fn file_response<F>(
    status: StatusCode,
    file: F,
    meta: FileMeta,
    content_type: HeaderValue,
) -> Response<F> {
    let body = Body::File {
        file,
        offset: 0,
        len: meta.len,
    };
    response::with_body(status, content_type, body)
}

/// `/docs` is a directory: send the client to `/docs/` (query kept) so that
/// relative links in its index resolve. 308 keeps the method, and the
/// `Location` is a path on this site: `SitePath::parse` already refused `//`,
/// so it can never read as `//other.host`.
fn redirect_to_directory<F>(uri: &Uri) -> Response<F> {
    let location = match uri.query() {
        Some(query) => format!("{}/?{query}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut response = response::empty(StatusCode::PERMANENT_REDIRECT);
    let location = HeaderValue::try_from(location).expect("a valid URI path is a valid header");
    response.headers_mut().insert(LOCATION, location);
    response
}

/// The Content-Type for a file name, by extension; textual types say UTF-8.
pub fn content_type(file_name: Option<&str>) -> HeaderValue {
    let guess = file_name
        .and_then(|name| mime_guess::from_path(name).first())
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let textual = guess.type_() == mime::TEXT
        || matches!(
            guess.essence_str(),
            "application/javascript" | "application/xml" | "image/svg+xml"
        );
    let value = if textual && guess.get_param(mime::CHARSET).is_none() {
        format!("{}; charset=utf-8", guess.essence_str())
    } else {
        guess.to_string()
    };
    HeaderValue::try_from(value).expect("a MIME type is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::memory::MemoryFs;
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE};

    fn site() -> MemoryFs {
        MemoryFs::default()
            .with("index.html", "<h1>home</h1>")
            .with("index.css", "h1 { color: red; }")
            .with("my page.html", "spaces")
            .with("docs/index.html", "docs")
            .with("empty/readme.txt", "no index here")
            .with("NotFound.html", "custom 404")
    }

    fn get_path(root: &MemoryFs, target: &str) -> Result<Response<Vec<u8>>, Error> {
        get(root, &target.parse().unwrap())
    }

    fn body(response: &Response<Vec<u8>>) -> &[u8] {
        match response.body() {
            Body::File {
                file,
                offset: 0,
                len,
            } => {
                assert_eq!(*len as usize, file.len());
                file
            }
            Body::Bytes(bytes) => bytes,
            other => panic!("unexpected body {other:?}"),
        }
    }

    fn header(response: &Response<Vec<u8>>, name: http::header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn root_serves_index_html() {
        let response = get_path(&site(), "/").unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, CONTENT_TYPE), "text/html; charset=utf-8");
        assert_eq!(header(&response, CONTENT_LENGTH), "13");
        assert_eq!(body(&response), b"<h1>home</h1>");
    }

    #[test]
    fn files_get_their_type_and_length() {
        let response = get_path(&site(), "/index.css?v=3").unwrap();
        assert_eq!(header(&response, CONTENT_TYPE), "text/css; charset=utf-8");
        assert_eq!(header(&response, CONTENT_LENGTH), "18");
        assert_eq!(body(&response), b"h1 { color: red; }");
    }

    #[test]
    fn percent_encoded_names_are_found() {
        let response = get_path(&site(), "/my%20page.html").unwrap();
        assert_eq!(body(&response), b"spaces");
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
        assert_eq!(header(&response, LOCATION), "/docs/?lang=en");
        assert_eq!(header(&response, CONTENT_LENGTH), "0");
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
    fn not_found_uses_the_site_page_or_ours() {
        let custom = not_found(&site());
        assert_eq!(custom.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(&custom), b"custom 404");
        assert_eq!(header(&custom, CONTENT_TYPE), "text/html; charset=utf-8");

        let builtin = not_found(&MemoryFs::default());
        assert_eq!(builtin.status(), StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(body(&builtin)).contains("404 Not Found"));
    }

    #[test]
    fn content_types() {
        let cases = [
            (Some("a.html"), "text/html; charset=utf-8"),
            (Some("a.css"), "text/css; charset=utf-8"),
            (Some("a.js"), "text/javascript; charset=utf-8"),
            (Some("a.svg"), "image/svg+xml; charset=utf-8"),
            (Some("logo.png"), "image/png"),
            (Some("a.wasm"), "application/wasm"),
            (Some("a.json"), "application/json"),
            (Some("archive.unknownext"), "application/octet-stream"),
            (Some("Makefile"), "application/octet-stream"),
            (None, "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(name), expected, "{name:?}");
        }
    }
}
