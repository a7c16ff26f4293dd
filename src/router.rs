//! The router: one flat `match` from method and path to the code that answers,
//! and the one place errors become responses (JSON under `/api/`, HTML
//! elsewhere).

use crate::body::RequestBody;
use crate::error::Error;
use crate::fs::StaticFs;
use crate::response::{self, Response};
use crate::store::Store;
use crate::{api, board, html, static_files};
use http::header::{ALLOW, HeaderValue};
use http::{Method, Request};

/// Everything a request may touch.
pub struct Site<R, S> {
    pub static_root: R,
    pub store: S,
}

/// Answers one request; never fails (errors become error pages).
pub fn handle<R: StaticFs, S: Store, B: RequestBody>(
    request: Request<B>,
    site: &Site<R, S>,
) -> Response<R::File> {
    let (parts, body) = request.into_parts();
    let store = &site.store;
    let not_allowed = |allow| Err(Error::MethodNotAllowed { allow });
    let path = parts.uri.path();
    let result = match (&parts.method, path) {
        (&Method::GET | &Method::HEAD, "/board") => board::show(store, &parts.uri),
        (&Method::POST, "/board") => board::post(store, &parts, body),
        (_, "/board") => not_allowed("GET, HEAD, POST"),
        (&Method::POST, "/board/clear") => board::clear(store, &parts),
        (_, "/board/clear") => not_allowed("POST"),
        (&Method::GET | &Method::HEAD, "/api/messages") => api::list(store, &parts.uri),
        (&Method::POST, "/api/messages") => api::create(store, &parts, body),
        (&Method::DELETE, "/api/messages") => api::clear(store, &parts),
        (_, "/api/messages") => not_allowed("GET, HEAD, POST, DELETE"),
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/api/messages/") => api::get(store, p),
        (_, p) if p.starts_with("/api/messages/") => not_allowed("GET, HEAD"),
        (_, p) if p.starts_with("/api/") => Err(Error::NotFound),
        (&Method::GET | &Method::HEAD, _) => static_files::get(&site.static_root, &parts.uri),
        (_, _) => not_allowed("GET, HEAD"),
    };
    let response = result.unwrap_or_else(|error| {
        if let Error::Internal(detail) = &error {
            // Goes to the host's log (stderr); the client sees a generic page.
            eprintln!("sitebox: internal error: {detail}");
        }
        if path.starts_with("/api/") {
            api::error_response(error)
        } else {
            html_error(site, error)
        }
    });
    if parts.method == Method::HEAD {
        response::head(response)
    } else {
        response
    }
}

fn html_error<R: StaticFs, S>(site: &Site<R, S>, error: Error) -> Response<R::File> {
    if error == Error::NotFound {
        return static_files::not_found(&site.static_root);
    }
    let mut response = response::html(
        error.status(),
        html::error_page(error.status(), &error.public_message()),
    );
    if let Error::MethodNotAllowed { allow } = error {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::memory::MemoryFs;
    use crate::response::Body;
    use crate::store::MemoryStore;
    use http::StatusCode;
    use http::header::CONTENT_LENGTH;

    fn site() -> Site<MemoryFs, MemoryStore> {
        Site {
            static_root: MemoryFs::default()
                .with("index.html", "home")
                .with("NotFound.html", "lost"),
            store: MemoryStore::default(),
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
            assert_eq!(response.headers()[ALLOW], "GET, HEAD");
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
    fn bad_paths_get_a_400_page() {
        let response = handle(request(Method::GET, "/%2e%2e/secret"), &site());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(matches!(response.body(), Body::Bytes(page) if !page.is_empty()));
    }
}
