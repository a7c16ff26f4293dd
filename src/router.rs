//! The router: one flat `match` from method and path to the code that answers,
//! and the one place errors become responses.

use crate::error::Error;
use crate::fs::StaticFs;
use crate::html;
use crate::response::{self, Response};
use crate::static_files;
use http::header::{ALLOW, HeaderValue};
use http::{Method, Request};

/// What static paths answer to.
pub const STATIC_METHODS: &str = "GET, HEAD";

/// Everything a request may touch.
pub struct Site<R> {
    pub static_root: R,
}

/// Answers one request; never fails (errors become error pages).
pub fn handle<R: StaticFs, B>(request: &Request<B>, site: &Site<R>) -> Response<R::File> {
    let result = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, _) => static_files::get(&site.static_root, request.uri()),
        (_, _) => Err(Error::MethodNotAllowed {
            allow: STATIC_METHODS,
        }),
    };
    let response = result.unwrap_or_else(|error| error_response(site, error));
    if request.method() == Method::HEAD {
        response::head(response)
    } else {
        response
    }
}

fn error_response<R: StaticFs>(site: &Site<R>, error: Error) -> Response<R::File> {
    if let Error::Internal(detail) = &error {
        // Goes to the host's log (stderr); the client sees a generic page.
        eprintln!("sitebox: internal error: {detail}");
    }
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
    use http::StatusCode;
    use http::header::CONTENT_LENGTH;

    fn site() -> Site<MemoryFs> {
        Site {
            static_root: MemoryFs::default()
                .with("index.html", "home")
                .with("NotFound.html", "lost"),
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
        let get = handle(&request(Method::GET, "/"), &site());
        let head = handle(&request(Method::HEAD, "/"), &site());
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers(), get.headers());
        assert_eq!(head.headers()[CONTENT_LENGTH], "4");
        assert!(matches!(head.body(), Body::Empty));
    }

    #[test]
    fn other_methods_are_not_allowed() {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let response = handle(&request(method.clone(), "/"), &site());
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
        let response = handle(&request(Method::GET, "/missing"), &site());
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(matches!(response.body(), Body::File { file, .. } if file == b"lost"));
        let head = handle(&request(Method::HEAD, "/missing"), &site());
        assert_eq!(head.status(), StatusCode::NOT_FOUND);
        assert_eq!(head.headers()[CONTENT_LENGTH], "4");
    }

    #[test]
    fn bad_paths_get_a_400_page() {
        let response = handle(&request(Method::GET, "/%2e%2e/secret"), &site());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(matches!(response.body(), Body::Bytes(page) if !page.is_empty()));
    }
}
