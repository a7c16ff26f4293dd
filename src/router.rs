//! The router: one flat `match` from method and path to the code that answers,
//! and the one place errors become responses (JSON under `/api/`, HTML
//! elsewhere).

use crate::admin::Admin;
use crate::body::RequestBody;
use crate::error::Error;
use crate::fs::StaticFs;
use crate::random::Random;
use crate::response::{self, Response};
use crate::settings::Settings;
use crate::store::Store;
use crate::{api, board, html, static_files};
use http::header::{ALLOW, CACHE_CONTROL, HeaderValue};
use http::{Method, Request, StatusCode};
use jiff::Timestamp;

/// Everything a request may touch.
pub struct Site<R, S> {
    pub static_root: R,
    pub store: S,
    pub settings: Settings,
    /// The time, read only by the requests that need it (a post): the host's
    /// wall clock in the component, any clock in tests.
    pub clock: fn() -> Timestamp,
    /// Randomness, likewise (a multi-range answer's boundary).
    pub random: Random,
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
        "/board" => "GET, HEAD, POST, OPTIONS",
        "/board/clear" => "POST, OPTIONS",
        "/api/messages" => "GET, HEAD, POST, DELETE, OPTIONS",
        p if p.starts_with("/api/messages/") => "GET, HEAD, OPTIONS",
        _ => "GET, HEAD, OPTIONS",
    }
}

/// Answers one request; never fails (errors become error pages).
pub fn handle<R: StaticFs, S: Store, B: RequestBody>(
    request: Request<B>,
    site: &Site<R, S>,
) -> Response<R::File> {
    let (parts, body) = request.into_parts();
    let store = &site.store;
    let admin = Admin {
        password_hash: site.settings.admin_password_hash.as_deref(),
    };
    let path = parts.uri.path();
    let api = path.starts_with("/api/");
    let board_api = path == "/api/messages" || path.starts_with("/api/messages/");
    let result = match (&parts.method, path) {
        (&Method::OPTIONS, _) => Ok(options(allowed(path))),
        (method, _) if !KNOWN_METHODS.contains(method) => Err(Error::NotImplemented),
        (&Method::GET | &Method::HEAD, "/board") => board::show(store, &parts.uri),
        (&Method::POST, "/board") => board::post(store, admin, &parts, body, (site.clock)()),
        (&Method::POST, "/board/clear") => board::clear(store, admin, &parts),
        (&Method::GET | &Method::HEAD, "/api/messages") => api::list(store, &parts.uri),
        (&Method::POST, "/api/messages") => api::create(store, &parts, body, (site.clock)()),
        (&Method::DELETE, "/api/messages") => api::clear(store, admin, &parts),
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/api/messages/") => api::get(store, p),
        (_, _) if api && !board_api => Err(Error::NotFound),
        (&Method::GET | &Method::HEAD, p) if p != "/board/clear" => {
            static_files::get(&site.static_root, &parts, &site.settings, site.random)
        }
        (_, p) => Err(Error::MethodNotAllowed { allow: allowed(p) }),
    };
    let mut response = result.unwrap_or_else(|error| {
        // Goes to the host's log (stderr); the client sees a generic page.
        match &error {
            Error::Internal(detail) => eprintln!("sitebox: internal error: {detail}"),
            Error::Unavailable(detail) => eprintln!("sitebox: unavailable: {detail}"),
            _ => {}
        }
        let mut response = if api {
            api::error_response(&error)
        } else {
            html_error(site, &error)
        };
        for (name, value) in error.headers() {
            response.headers_mut().append(name, value);
        }
        response
    });
    // The board and its API change with every post: never reuse them.
    if api || path.starts_with("/board") {
        response
            .headers_mut()
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    if parts.method == Method::HEAD {
        response::head(response)
    } else {
        response
    }
}

/// `OPTIONS`: 204 and the methods the path answers.
fn options<F>(allow: &'static str) -> Response<F> {
    let mut response = response::empty(StatusCode::NO_CONTENT);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn html_error<R: StaticFs, S>(site: &Site<R, S>, error: &Error) -> Response<R::File> {
    if *error == Error::NotFound {
        return static_files::not_found(&site.static_root);
    }
    response::html(
        error.status(),
        html::error_page(error.status(), &error.public_message()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::memory::MemoryFs;
    use crate::response::Body;
    use crate::store::MemoryStore;
    use http::StatusCode;
    use http::header::{CONTENT_LENGTH, RETRY_AFTER};

    fn site() -> Site<MemoryFs, MemoryStore> {
        Site {
            static_root: MemoryFs::default()
                .with("index.html", "home")
                .with("NotFound.html", "lost"),
            store: MemoryStore::default(),
            settings: Settings::default(),
            clock: Timestamp::now,
            random: crate::random::os,
        }
    }

    fn request(method: Method, target: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(target)
            .body(())
            .unwrap()
    }

    #[test]
    fn head_keeps_headers_and_drops_the_body() {
        let get = handle(request(Method::GET, "/"), &site());
        let head = handle(request(Method::HEAD, "/"), &site());
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers(), get.headers());
        assert_eq!(head.headers()[CONTENT_LENGTH], "4");
        assert!(matches!(head.body(), Body::Empty));
    }

    #[test]
    fn other_methods_are_not_allowed() {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let response = handle(request(method.clone(), "/"), &site());
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method}"
            );
            assert_eq!(response.headers()[ALLOW], "GET, HEAD, OPTIONS");
        }
    }

    #[test]
    fn options_lists_the_methods_and_unknown_methods_are_501() {
        for (target, allow) in [
            ("/", "GET, HEAD, OPTIONS"),
            ("/index.css", "GET, HEAD, OPTIONS"),
            ("/board", "GET, HEAD, POST, OPTIONS"),
            ("/api/messages", "GET, HEAD, POST, DELETE, OPTIONS"),
            ("*", "GET, HEAD, POST, DELETE, OPTIONS"),
        ] {
            let response = handle(request(Method::OPTIONS, target), &site());
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{target}");
            assert_eq!(response.headers()[ALLOW], allow, "{target}");
            assert!(
                response.headers().get("content-length").is_none(),
                "204 has no Content-Length"
            );
        }
        for target in ["/", "/board", "/api/messages"] {
            let brew = Method::from_bytes(b"BREW").unwrap();
            let response = handle(request(brew, target), &site());
            assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED, "{target}");
        }
    }

    #[test]
    fn missing_files_get_the_site_404_page() {
        let response = handle(request(Method::GET, "/missing"), &site());
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(matches!(response.body(), Body::File { file, .. } if file == b"lost"));
        let head = handle(request(Method::HEAD, "/missing"), &site());
        assert_eq!(head.status(), StatusCode::NOT_FOUND);
        assert_eq!(head.headers()[CONTENT_LENGTH], "4");
    }

    #[test]
    fn a_failing_store_is_a_503_with_retry_after_and_files_still_serve() {
        use crate::kv_store::{KvStore, memory::MemoryBucket};
        let site = Site {
            static_root: MemoryFs::default().with("index.html", "home"),
            store: KvStore::new(MemoryBucket::default()),
            settings: Settings::default(),
            clock: Timestamp::now,
            random: crate::random::os,
        };
        site.store.bucket().set_failing(true);
        let post = Request::post("/api/messages")
            .header("content-type", "application/json")
            .body(br#"{"text":"hi"}"#.to_vec())
            .unwrap();
        let form = Request::post("/board")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"message=hi".to_vec())
            .unwrap();
        let get = |target: &str| request(Method::GET, target).map(|()| Vec::new());
        for (request, json) in [
            (get("/board"), false),
            (form, false),
            (get("/api/messages"), true),
            (get("/api/messages/1"), true),
            (post, true),
        ] {
            let target = request.uri().to_string();
            let response = handle(request, &site);
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{target}"
            );
            assert_eq!(response.headers()[RETRY_AFTER], "5", "{target}");
            let content_type = &response.headers()["content-type"];
            assert_eq!(
                content_type.as_bytes().starts_with(b"application/json"),
                json
            );
            let Body::Bytes(body) = response.into_body() else {
                panic!("{target}: no body")
            };
            let body = String::from_utf8(body).unwrap();
            assert!(body.contains("try again"), "{target}: {body}");
            assert!(!body.contains("failing (test)"), "{target} leaks: {body}");
        }
        let home = handle(request(Method::GET, "/"), &site);
        assert_eq!(home.status(), StatusCode::OK);
        site.store.bucket().set_failing(false);
        let board = handle(request(Method::GET, "/board"), &site);
        assert_eq!(board.status(), StatusCode::OK);
    }

    #[test]
    fn clearing_challenges_for_the_admin_login() {
        use crate::admin::{USER, testing};
        use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
        let mut site = site();
        site.settings.admin_password_hash = Some(testing::HASH.clone());
        site.store.append("kept", Timestamp::now()).unwrap();
        let clear = |method: Method, target: &str, authorization: Option<String>| {
            let mut request = Request::builder().method(method).uri(target);
            if let Some(value) = authorization {
                request = request.header(AUTHORIZATION, value);
            }
            handle(request.body(Vec::new()).unwrap(), &site)
        };
        let challenges = |response: &Response<_>| -> Vec<String> {
            let values = response.headers().get_all(WWW_AUTHENTICATE);
            values
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        let form = clear(Method::POST, "/board/clear", None);
        assert_eq!(form.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenges(&form),
            [r#"Basic realm="sitebox admin", charset="UTF-8""#]
        );
        assert_eq!(form.headers()["content-type"], "text/html; charset=utf-8");
        let api = clear(Method::DELETE, "/api/messages", Some("Bearer nope".into()));
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenges(&api).len(), 2);
        assert!(challenges(&api)[0].starts_with("Bearer "));
        assert_eq!(api.headers()["content-type"], "application/json");
        assert_eq!(site.store.page(None, 10).unwrap().messages.len(), 1);
        let bearer = format!("Bearer {}", testing::PASSWORD);
        let cleared = clear(Method::DELETE, "/api/messages", Some(bearer));
        assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
        site.store.append("again", Timestamp::now()).unwrap();
        let login = testing::basic(USER, testing::PASSWORD);
        let cleared = clear(Method::POST, "/board/clear", Some(login));
        assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
        assert!(site.store.page(None, 10).unwrap().messages.is_empty());
    }

    #[test]
    fn bad_paths_get_a_400_page() {
        let response = handle(request(Method::GET, "/%2e%2e/secret"), &site());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(matches!(response.body(), Body::Bytes(page) if !page.is_empty()));
    }
}
