//! The router: one flat `match` from method and path to the code that answers,
//! and the one place errors become responses (JSON under `/api/`, HTML
//! elsewhere).

use crate::board::admin::Admin;
use crate::board::{api, api_error, form};
use crate::error::Error;
use crate::fs::StaticFs;
use crate::http::body::RequestBody;
use crate::http::html;
use crate::http::response::{self, Response};
use crate::http::security_headers;
use crate::http::site_path::SitePath;
use crate::random::Random;
use crate::rules::{self, HandedRules, Routing, SiteRules};
use crate::settings::Settings;
use crate::static_files;
use crate::static_files::{Context, ForTheHost, Lookup};
use crate::store::Store;
use http::header::{ALLOW, CACHE_CONTROL, HeaderValue, LOCATION};
use http::request::Parts;
use http::{Method, Request, StatusCode, Uri};
use jiff::Timestamp;

/// Everything a request may touch.
pub struct Site<R, S> {
    pub static_root: R,
    pub store: S,
    pub settings: Settings,
    /// The time, read only by the requests that need it (a post, a file's
    /// `Last-Modified`): the host's wall clock in the component, any clock in
    /// tests.
    pub clock: fn() -> Timestamp,
    /// Randomness, likewise (a multi-range answer's boundary, the board
    /// form's one-time token).
    pub random: Random,
    /// The site's rules files as the host handed them in, if it did.
    pub handed_rules: HandedRules,
}

/// Methods this server knows: a 405 where a path does not take them; any
/// other method is a 501.
const KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// The methods a path answers: what `OPTIONS` lists and a 405 names.
fn allowed(path: &str) -> &'static str {
    match path {
        "*" => "GET, HEAD, POST, DELETE, OPTIONS",
        _ => own_route(path).unwrap_or("GET, HEAD, OPTIONS"),
    }
}

/// The methods of the component's own paths (the board, its API); `None` for
/// the paths of the site's files.
fn own_route(path: &str) -> Option<&'static str> {
    match path {
        "/board" => Some("GET, HEAD, POST, OPTIONS"),
        "/board/clear" | "/board/delete" => Some("POST, OPTIONS"),
        "/api/messages" => Some("GET, HEAD, POST, DELETE, OPTIONS"),
        p if p.starts_with("/api/messages/") => Some("GET, HEAD, DELETE, OPTIONS"),
        _ => None,
    }
}

/// Answers one request; never fails (errors become error pages). The site's
/// `_redirects` decides first where the request goes; its `_headers` has the
/// last word on the answer's headers.
pub fn handle<R: StaticFs, S: Store, B: RequestBody>(
    request: Request<B>,
    site: &Site<R, S>,
) -> Response<R::File> {
    let (mut parts, body) = request.into_parts();
    // What the rules match: the decoded path (a path that does not decode
    // is a 400 in any case, and meets no rules).
    let request_path = SitePath::parse(parts.uri.path()).ok();
    let rules = match &request_path {
        Some(_) => SiteRules::load(&site.static_root, &site.handed_rules),
        None => SiteRules::default(),
    };
    // The last path a rule looked up, kept for serving it.
    let mut looked_up = None;
    let routing = match (rules.redirects(), &request_path) {
        (Some(redirects), Some(path)) => rules::route(redirects, path, parts.uri.query(), |path| {
            exists(site, path, &mut looked_up)
        }),
        _ => Routing::Serve(None),
    };
    let result = match routing {
        Routing::Serve(None) => dispatch(&parts, body, site, looked_up),
        Routing::Serve(Some(target)) => with_target(&parts.uri, &target).and_then(|uri| {
            parts.uri = uri;
            parts.extensions.insert(static_files::Rewritten);
            dispatch(&parts, body, site, looked_up)
        }),
        Routing::Redirect { status, location } => redirect(status, location),
        Routing::NotFound(page) => static_files::page(
            &site.static_root,
            &page,
            StatusCode::NOT_FOUND,
            &site.settings,
        )
        .ok_or(Error::NotFound),
        Routing::Broken { line, reason } => Err(Error::SiteRule { line, reason }),
    };
    let result = result.and_then(|response| {
        // A file the client takes only compressed, sent plain for the host
        // to compress: a 406 unless the host will, by its headers once the
        // site's `_headers` had their say (a `no-transform` keeps it plain).
        if response.extensions().get::<ForTheHost>().is_none() {
            return Ok(response);
        }
        let mut headers = response.headers().clone();
        if let (Some(rules), Some(path)) = (rules.headers(), &request_path) {
            rules::headers::apply(rules, &path.decoded(), &mut headers);
        }
        let host = site.settings.host_compression.as_ref();
        match host.is_some_and(|host| host.compresses(&parts.headers, &headers)) {
            true => Ok(response),
            false => Err(Error::NotAcceptable),
        }
    });
    let path = parts.uri.path();
    let api = api_error::answers_in_json(path);
    let mut response = result.unwrap_or_else(|error| error_response(site, &error, api));
    // The board and its API change with every post: never reuse them.
    if api || path.starts_with("/board") {
        response
            .headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    security_headers::for_every_answer(response.headers_mut());
    if let (Some(headers), Some(path)) = (rules.headers(), &request_path) {
        rules::headers::apply(headers, &path.decoded(), response.headers_mut());
    }
    if parts.method == Method::HEAD {
        response::head(response)
    } else {
        response
    }
}

/// The flat match from method and path to the code that answers.
fn dispatch<R: StaticFs, S: Store, B: RequestBody>(
    parts: &Parts,
    body: B,
    site: &Site<R, S>,
    looked_up: Option<Lookup<R::File>>,
) -> Result<Response<R::File>, Error> {
    let store = &site.store;
    let admin = Admin {
        password_hash: site.settings.admin_password_hash.as_deref(),
    };
    let path = parts.uri.path();
    let api = path.starts_with("/api/");
    let board_api = path == "/api/messages" || path.starts_with("/api/messages/");
    match (&parts.method, path) {
        (&Method::OPTIONS, _) => Ok(options(allowed(path))),
        (method, _) if !KNOWN_METHODS.contains(method) => Err(Error::NotImplemented),
        (&Method::GET | &Method::HEAD, "/board") => form::show(store, &parts.uri, site.random),
        (&Method::POST, "/board") => {
            form::post(store, admin, parts, body, (site.clock)(), site.random)
        }
        (&Method::POST, "/board/clear") => form::clear(store, admin, parts),
        (&Method::POST, "/board/delete") => form::delete(store, admin, parts, body, (site.clock)()),
        (&Method::GET | &Method::HEAD, "/api/messages") => api::list(store, &parts.uri),
        (&Method::POST, "/api/messages") => api::create(store, parts, body, (site.clock)()),
        (&Method::DELETE, "/api/messages") => api::clear(store, admin, parts),
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/api/messages/") => api::get(store, p),
        (&Method::DELETE, p) if p.starts_with("/api/messages/") => {
            api::delete(store, admin, parts, (site.clock)())
        }
        (_, _) if api && !board_api => Err(Error::NotFound),
        (&Method::GET | &Method::HEAD, p) if !matches!(p, "/board/clear" | "/board/delete") => {
            let context = Context {
                settings: &site.settings,
                random: site.random,
                now: (site.clock)().into(),
            };
            static_files::get_after(&site.static_root, parts, context, looked_up)
        }
        (_, p) => Err(Error::MethodNotAllowed { allow: allowed(p) }),
    }
}

/// Whether something answers at `path`, so that a rule not forced leaves it
/// be: a path of the component's own (all of `/api/`), or a file (whose
/// lookup goes to `looked_up`).
fn exists<R: StaticFs, S>(
    site: &Site<R, S>,
    path: &SitePath,
    looked_up: &mut Option<Lookup<R::File>>,
) -> bool {
    let decoded = path.decoded();
    if own_route(&decoded).is_some() || decoded == "/api" || decoded.starts_with("/api/") {
        return true;
    }
    let lookup = static_files::look_up(&site.static_root, path, &site.settings);
    let exists = lookup.exists();
    *looked_up = Some(lookup);
    exists
}

/// The request's URI with a rewrite's `path?query` (scheme and authority
/// kept, for the board's same-origin check).
fn with_target(uri: &Uri, target: &str) -> Result<Uri, Error> {
    let mut parts = uri.clone().into_parts();
    let bad = |_| Error::Internal(format!("a rewrite made a bad target: {target}"));
    parts.path_and_query = Some(target.parse().map_err(bad)?);
    Uri::from_parts(parts)
        .map_err(|_| Error::Internal(format!("a rewrite made a bad URI: {target}")))
}

/// A `_redirects` redirect.
fn redirect<F>(status: StatusCode, location: String) -> Result<Response<F>, Error> {
    let location = HeaderValue::try_from(location)
        .map_err(|error| Error::Internal(format!("a redirect's Location: {error}")))?;
    let mut response = response::empty(status);
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// `OPTIONS`: 204 and the methods the path answers.
fn options<F>(allow: &'static str) -> Response<F> {
    let mut response = response::empty(StatusCode::NO_CONTENT);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// The answer for `error`: JSON under `/api/`, else the site's own page for
/// the status or ours; with the error's headers.
fn error_response<R: StaticFs, S>(
    site: &Site<R, S>,
    error: &Error,
    api: bool,
) -> Response<R::File> {
    // Goes to the host's log (stderr); the client sees a generic page.
    match error {
        Error::Internal(detail) => eprintln!("sitebox: internal error: {detail}"),
        Error::Unavailable(detail) => eprintln!("sitebox: unavailable: {detail}"),
        Error::SiteRule { .. } => eprintln!("sitebox: {}", error.public_message()),
        _ => {}
    }
    let status = error.status();
    let mut response = if api {
        api::error_response(error)
    } else {
        let page = static_files::error_page(&site.static_root, status);
        let mut page = page.unwrap_or_else(|| {
            response::html(status, html::error_page(status, &error.public_message()))
        });
        page.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        page
    };
    for (name, value) in error.headers() {
        response.headers_mut().append(name, value);
    }
    response
}

#[cfg(test)]
mod tests;
