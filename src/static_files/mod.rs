//! Static files over HTTP: a checked path to what it names (`lookup`), then
//! what a good static server does with a file — Content-Type, validators and
//! conditional requests (304/412), ranges (206/416), precompressed sidecars,
//! Cache-Control — and the site's own error pages. The area also owns the
//! directory `listing` and the `conditional` requests (their validators are
//! a file's).
//!
//! May use: `http`, the site as a trait (`fs`), `error`, `settings` and
//! `random`; never the board, its store or the site's rules (the router
//! applies those around it).

use crate::error::Error;
use crate::fs::{Entry, FileMeta, StaticFs};
use crate::http::html;
use crate::http::precompressed::Coding;
use crate::http::range::{self, Ranges};
use crate::http::response::{self, Body, Response, Segment};
use crate::http::site_path::SitePath;
use crate::random::{self, Random};
use crate::settings::Settings;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_RANGE, ETAG, HeaderName, HeaderValue,
    LAST_MODIFIED, LOCATION, RANGE, VARY,
};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode, Uri};
use jiff::fmt::rfc2822::DateTimePrinter;
use mime_guess::mime;
use std::time::SystemTime;

pub(crate) mod conditional;
pub(crate) mod listing;
mod lookup;
mod representation;

use conditional::{Precondition, Validators};
use lookup::{Found, HTML_SUFFIX, find};
pub use lookup::{Lookup, look_up};
use representation::representation;

pub const INDEX_FILE: &str = "index.html";

/// Marks a request whose URL a site rule rewrote: what it names is served,
/// never redirected to its clean URL (that is for the URL a client asked
/// for; it sent a single-page app's every deep link to `/`).
#[derive(Debug, Clone, Copy)]
pub struct Rewritten;
pub const NOT_FOUND_FILE: &str = "NotFound.html";

/// What an answer depends on besides the request and the files.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub settings: &'a Settings,
    /// Makes the boundary of a multi-range answer.
    pub random: Random,
    /// The time of the answer: no `Last-Modified` is later (RFC 9110
    /// §8.8.2.1), and one of the same second is weak.
    pub now: SystemTime,
}

/// Marks a file sent as it is to a client that refuses it so (its
/// `Accept-Encoding` says `identity;q=0`), for the host to compress: the
/// router turns it into a 406 unless the host will (`Compression::compresses`
/// on its final headers).
#[derive(Debug, Clone, Copy)]
pub struct ForTheHost;

/// The answer to `GET` (or `HEAD`) for a static path (the router calls
/// `get_after`, with what a site rule looked up).
#[cfg(test)]
pub fn get<R: StaticFs>(
    root: &R,
    request: &Parts,
    context: Context<'_>,
) -> Result<Response<R::File>, Error> {
    get_after(root, request, context, None)
}

/// `get`, with what a site rule looked up (`earlier`): used, not looked
/// up again, if it was for this path.
pub fn get_after<R: StaticFs>(
    root: &R,
    request: &Parts,
    context: Context<'_>,
    earlier: Option<Lookup<R::File>>,
) -> Result<Response<R::File>, Error> {
    let settings = context.settings;
    let path = SitePath::parse(request.uri.path())?;
    let found = earlier.and_then(|earlier| earlier.take_for(&path));
    match found.unwrap_or_else(|| find(root, &path, settings))? {
        Found::File { path, file, meta } => serve_file(root, request, context, &path, file, meta),
        // `/docs` is a directory: `/docs/`, so that relative links in its
        // index resolve.
        Found::Directory => Ok(redirect(&format!("{}/", path.encoded()), &request.uri)),
        Found::HtmlFile { clean, .. } if request.extensions.get::<Rewritten>().is_none() => {
            Ok(redirect(&clean.encoded(), &request.uri))
        }
        Found::HtmlFile {
            path, file, meta, ..
        } => serve_file(root, request, context, &path, file, meta),
        Found::Listing => listing::page(root, &path, request.uri.query(), settings),
    }
}

/// The site's own page for an error `status`, whole, with that status:
/// `404.html` (else `NotFound.html`) for a 404, `500.html` for a 500, and so
/// on; `None` when the site has none.
pub fn error_page<R: StaticFs>(root: &R, status: StatusCode) -> Option<Response<R::File>> {
    // Plain names at the root: visible whatever the settings.
    let own = SitePath::root().child(&format!("{}{HTML_SUFFIX}", status.as_str()));
    whole(root, &own, status).or_else(|| {
        (status == StatusCode::NOT_FOUND)
            .then(|| whole(root, &SitePath::root().child(NOT_FOUND_FILE), status))
            .flatten()
    })
}

/// The file at `path` served whole with `status` (a `_redirects` 404
/// target); `None` when there is no such file, or none that a request could
/// be served (hidden, a rules file).
pub fn page<R: StaticFs>(
    root: &R,
    path: &SitePath,
    status: StatusCode,
    settings: &Settings,
) -> Option<Response<R::File>> {
    if !settings.shows(path) {
        return None;
    }
    whole(root, path, status)
}

/// The file at `path` served whole with `status`, revalidated on every use.
fn whole<R: StaticFs>(root: &R, path: &SitePath, status: StatusCode) -> Option<Response<R::File>> {
    let Ok(Entry::File { file, meta }) = root.open(path) else {
        return None;
    };
    let body = Body::File {
        file,
        offset: 0,
        len: meta.len,
    };
    let mut response = response::with_body(status, content_type(path.file_name()), body);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// One file, as the request's preconditions, ranges and accepted codings
/// select it: the representation (the file or a sidecar), the headers every
/// answer about it carries, a 304 or 412 if the preconditions say so, else
/// its body, whole or in ranges.
fn serve_file<R: StaticFs>(
    root: &R,
    request: &Parts,
    context: Context<'_>,
    path: &SitePath,
    file: R::File,
    meta: FileMeta,
) -> Result<Response<R::File>, Error> {
    let content_type = content_type(path.file_name());
    let chosen = representation(root, request, context.settings, path, file, meta)?;
    let coding = chosen.coding.map(Coding::token);
    let validators = Validators::new(&chosen.meta, coding, context.now);
    let mut headers =
        representation_headers(&validators, &content_type, context.settings, chosen.varies);
    let range = match conditional::evaluate(&request.method, &request.headers, &validators) {
        Precondition::NotModified => {
            let mut response = http::Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            *response.headers_mut() = headers;
            return Ok(response);
        }
        Precondition::Failed => return Err(Error::PreconditionFailed),
        // Range handling is defined for GET only (RFC 9110 §14.2). What the
        // host is to compress goes whole: a range would be of the plain
        // bytes, which the client refuses.
        Precondition::Proceed { range } => {
            range && request.method == Method::GET && !chosen.for_the_host
        }
    };
    let ranges = match request.headers.get(RANGE).and_then(|v| v.to_str().ok()) {
        Some(header) if range => range::resolve(header, chosen.meta.len),
        _ => Ranges::Full,
    };
    let ranges = match ranges {
        // Several ranges of a sidecar: the client refuses the plain file
        // (else `representation` took it), so it gets the sidecar whole (a
        // server may ignore a Range, RFC 9110 §14.2).
        Ranges::Partial(parts) if parts.len() > 1 && coding.is_some() => Ranges::Full,
        ranges => ranges,
    };
    if ranges == Ranges::Unsatisfiable {
        // A 416 carries no representation (RFC 9110 §15.5.17): its page is
        // neither in the sidecar's coding nor fresh for `max-age`, and has no
        // validators; it says only the selected one's length (its
        // `Content-Range`) and what selected it (`Vary`).
        headers = match headers.remove(VARY) {
            Some(vary) => HeaderMap::from_iter([(VARY, vary)]),
            None => HeaderMap::new(),
        };
    } else if let Some(coding) = coding {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let len = chosen.meta.len;
    let mut response = body(chosen.file, len, ranges, content_type, context.random)?;
    response.headers_mut().extend(headers);
    if chosen.for_the_host {
        response.extensions_mut().insert(ForTheHost);
    }
    Ok(response)
}

/// What every answer about a representation carries, 304s included.
fn representation_headers(
    validators: &Validators,
    content_type: &HeaderValue,
    settings: &Settings,
    varies: bool,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ETAG, validators.etag_header());
    if let Some(modified) = validators.last_modified.and_then(http_date) {
        headers.insert(LAST_MODIFIED, modified);
    }
    headers.insert(CACHE_CONTROL, cache_control(content_type, settings));
    if varies {
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    headers
}

/// The body of a `len`-byte file, whole (200), one range (206), several
/// (206, multipart) or none that fits (416).
fn body<F>(
    file: F,
    len: u64,
    ranges: Ranges,
    content_type: HeaderValue,
    random: Random,
) -> Result<Response<F>, Error> {
    Ok(match ranges {
        Ranges::Full => response::with_body(
            StatusCode::OK,
            content_type,
            Body::File {
                file,
                offset: 0,
                len,
            },
        ),
        Ranges::Partial(parts) if parts.len() == 1 => {
            let (first, last) = parts[0];
            let body = Body::File {
                file,
                offset: first,
                len: last - first + 1,
            };
            let mut response = response::with_body(StatusCode::PARTIAL_CONTENT, content_type, body);
            set(
                response.headers_mut(),
                CONTENT_RANGE,
                format!("bytes {first}-{last}/{len}"),
            );
            response
        }
        Ranges::Partial(parts) => multipart(file, &parts, len, &content_type, random)?,
        Ranges::Unsatisfiable => {
            let page = html::error_page(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested range is not in the file.",
            );
            let mut response = response::html(StatusCode::RANGE_NOT_SATISFIABLE, page);
            set(
                response.headers_mut(),
                CONTENT_RANGE,
                format!("bytes */{len}"),
            );
            response
        }
    })
}

/// Several ranges as `multipart/byteranges` (RFC 9110 §14.6): each part with
/// its own `Content-Type` and `Content-Range`, the data spliced from the file.
fn multipart<F>(
    file: F,
    parts: &[(u64, u64)],
    len: u64,
    content_type: &HeaderValue,
    random: Random,
) -> Result<Response<F>, Error> {
    let random = random::hex::<12>(random)
        .map_err(|reason| Error::Internal(format!("no randomness: {reason}")))?;
    let boundary = format!("sitebox-{random}");
    let content_type = content_type.to_str().expect("built from ASCII");
    let mut segments = Vec::with_capacity(parts.len() * 2 + 1);
    for (i, &(first, last)) in parts.iter().enumerate() {
        let separator = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{separator}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {first}-{last}/{len}\r\n\r\n"
        );
        segments.push(Segment::Bytes(head.into_bytes()));
        segments.push(Segment::File {
            offset: first,
            len: last - first + 1,
        });
    }
    segments.push(Segment::Bytes(
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ));
    let multipart_type =
        HeaderValue::try_from(format!("multipart/byteranges; boundary={boundary}"))
            .expect("a boundary of hex digits");
    Ok(response::with_body(
        StatusCode::PARTIAL_CONTENT,
        multipart_type,
        Body::Multipart { file, segments },
    ))
}

/// HTML is revalidated on every use (it names the other assets); other
/// files may be cached for the configured time.
fn cache_control(content_type: &HeaderValue, settings: &Settings) -> HeaderValue {
    if content_type.as_bytes().starts_with(b"text/html") {
        HeaderValue::from_static("no-cache")
    } else {
        let mut value = String::from("max-age=");
        value.push_str(itoa::Buffer::new().format(settings.max_age));
        HeaderValue::try_from(value).expect("digits are header-safe")
    }
}

/// `Last-Modified`'s IMF-fixdate, printed by jiff (no `core::fmt`: see
/// `Validators::new`).
fn http_date(time: SystemTime) -> Option<HeaderValue> {
    let time = jiff::Timestamp::try_from(time).ok()?;
    let text = DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&time)
        .ok()?;
    HeaderValue::try_from(text).ok()
}

/// A header whose value is made per response (constants use `from_static`).
fn set(headers: &mut HeaderMap, name: HeaderName, value: String) {
    headers.insert(
        name,
        HeaderValue::try_from(value).expect("built from header-safe text"),
    );
}

/// A 308 to `path` on this site, the query kept (308 keeps the method). The
/// `Location` is a path of our own making: `SitePath` refused `//`, so it
/// can never read as `//other.host`.
fn redirect<F>(path: &str, uri: &Uri) -> Response<F> {
    let location = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut response = response::empty(StatusCode::PERMANENT_REDIRECT);
    set(response.headers_mut(), LOCATION, location);
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
    if textual && guess.get_param(mime::CHARSET).is_none() {
        let mut value = String::from(guess.essence_str());
        value.push_str("; charset=utf-8");
        HeaderValue::try_from(value)
    } else {
        HeaderValue::from_str(guess.as_ref())
    }
    .expect("a MIME type is a valid header value")
}

#[cfg(test)]
mod tests;
