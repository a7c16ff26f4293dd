//! The pages the runner writes itself, when the guest is not asked: its
//! failures (500, 504, 413, 503), the client's faults found before the guest
//! ran (400, 417, 429), the logins held back (429, 503), and the plain-HTTP
//! listener's way to HTTPS (308). On the API's paths its errors take the
//! API's JSON shape (`for_the_request`), as the component's own do.

use crate::filters::observed::Observed;
use crate::guest::host::{Failure, GuestResponse};
use crate::guest::progress::Progress;
use crate::serving::request_rules::Refusal;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use http::{StatusCode, Version};
use http_body_util::{BodyExt, Full};
use std::time::Duration;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

pub fn answer_failure(failure: Failure, max_body: u64) -> GuestResponse {
    match failure {
        Failure::Failed(error) => {
            tracing::warn!("answering 500: {error:#}");
            failure_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The site failed to answer this request.",
            )
        }
        Failure::Unconvertible(error) => {
            tracing::debug!("answering 400: the request cannot be handed to the guest: {error:#}");
            failure_page(
                StatusCode::BAD_REQUEST,
                "The request cannot be passed to the site.",
            )
        }
        Failure::TimedOut => failure_page(
            StatusCode::GATEWAY_TIMEOUT,
            "The site took too long to answer this request.",
        ),
        Failure::BodyTooLarge => failure_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request bodies are limited to {max_body} bytes."),
        ),
        Failure::Busy(refused) => {
            tracing::warn!("answering 503: {refused:?}");
            try_again_soon(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy; please try again in a moment.",
            )
        }
    }
}

/// A refusal for now, with `Retry-After: 1`.
pub fn try_again_soon(status: StatusCode, message: &str) -> GuestResponse {
    let mut page = failure_page(status, message);
    page.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    page
}

/// 429 for a client over `--write-rate`, with when to try again.
pub fn too_many_writes(wait: Duration) -> GuestResponse {
    too_many("changes", wait)
}

/// 429 for a client that made too many `what` lately, with when to try
/// again (whole seconds, at least one).
pub fn too_many(what: &str, wait: Duration) -> GuestResponse {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut page = failure_page(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many {what} from your address; try again in {seconds} s."),
    );
    page.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    page
}

/// The client's fault, found before the guest ran: an HTTP/1 connection
/// that sent it is closed after the answer, since what follows on it
/// cannot be trusted to start a new request.
pub fn refusal_page(refusal: &Refusal, version: Version) -> GuestResponse {
    let mut page = failure_page(refusal.status, refusal.message);
    if version < Version::HTTP_2 {
        page.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    page
}

/// What a page of the host's says, kept beside it (an extension) so that
/// `for_the_request` can say it in JSON instead.
#[derive(Debug, Clone)]
struct Said(String);

/// A page the host writes itself, when the guest cannot be asked.
pub fn failure_page(status: StatusCode, message: &str) -> GuestResponse {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{code} {reason}</title></head><body><h1>{code} {reason}</h1>\
         <p>{message}</p></body></html>"
    );
    let body = Full::new(Bytes::from(page))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = host_response(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response.extensions_mut().insert(Said(message.to_owned()));
    response
}

/// The host's answer to a request: on the API's paths (`api`, by
/// `sitebox::board::api_error::answers_in_json`: one rule and one shape for the
/// component's errors and these), an error page becomes the API's JSON
/// error, its status and other headers (`Retry-After`, `Connection`) kept.
pub fn for_the_request(page: GuestResponse, api: bool) -> GuestResponse {
    let said = page.extensions().get::<Said>();
    let (Some(Said(message)), true) = (said, api) else {
        return page;
    };
    if !(page.status().is_client_error() || page.status().is_server_error()) {
        return page;
    }
    let body = Full::new(Bytes::from(sitebox::board::api_error::body(message)))
        .map_err(|never| match never {})
        .boxed_unsync();
    let (mut parts, _html) = page.into_parts();
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(sitebox::board::api_error::JSON),
    );
    hyper::Response::from_parts(parts, Observed::new(body, Progress::new()))
}

/// A response the host writes itself, in the guests' body type.
pub fn host_response(body: HyperOutgoingBody) -> GuestResponse {
    hyper::Response::new(Observed::new(body, Progress::new()))
}

/// The path under which the plain-HTTP listener still serves the site
/// (ACME's http-01 challenges, e.g. certbot's webroot).
pub const ACME_CHALLENGES: &str = "/.well-known/acme-challenge/";

/// 308 to the same path and query on HTTPS at `https_port` (left out when
/// 443); 400 when the request names no host to send it to.
pub fn to_https<B>(request: &http::Request<B>, https_port: u16) -> GuestResponse {
    let host = request
        .uri()
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            let header = request.headers().get(http::header::HOST)?.to_str().ok()?;
            Some(
                header
                    .parse::<http::uri::Authority>()
                    .ok()?
                    .host()
                    .to_owned(),
            )
        });
    let Some(host) = host else {
        return failure_page(
            StatusCode::BAD_REQUEST,
            "The request names no host to redirect to.",
        );
    };
    let port = match https_port {
        443 => String::new(),
        port => format!(":{port}"),
    };
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{target}");
    let Ok(value) = HeaderValue::try_from(&location) else {
        return failure_page(StatusCode::BAD_REQUEST, "The request cannot be redirected.");
    };
    let mut page = failure_page(
        StatusCode::PERMANENT_REDIRECT,
        "This site is served over HTTPS.",
    );
    page.headers_mut().insert(LOCATION, value);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(page: GuestResponse) -> String {
        let bytes = page.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn errors_on_the_api_are_its_json() {
        let page = answer_failure(Failure::BodyTooLarge, 1000);
        let json = for_the_request(page, true);
        assert_eq!(json.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            text(json).await,
            r#"{"error":"Request bodies are limited to 1000 bytes."}"#
        );
        let busy = for_the_request(too_many("changes", Duration::from_secs(3)), true);
        assert_eq!(busy.headers()[RETRY_AFTER], "3", "its headers kept");
        assert_eq!(busy.headers()[CONTENT_TYPE], "application/json");
        let html = for_the_request(answer_failure(Failure::BodyTooLarge, 1000), false);
        assert_eq!(html.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(text(html).await.contains("<h1>413 Payload Too Large</h1>"));
        let request = http::Request::get("/api/x").header("host", "a.example");
        let moved = for_the_request(to_https(&request.body(()).unwrap(), 443), true);
        assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            moved.headers()[CONTENT_TYPE],
            "text/html; charset=utf-8",
            "not an error"
        );
    }

    fn location(uri: &str, host: Option<&str>, port: u16) -> (StatusCode, Option<String>) {
        let mut request = http::Request::get(uri);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let page = to_https(&request.body(()).unwrap(), port);
        let location = page
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        (page.status(), location)
    }

    #[test]
    fn plain_http_is_sent_to_the_same_place_on_https() {
        let moved = StatusCode::PERMANENT_REDIRECT;
        let at = |text: &str| (moved, Some(text.to_owned()));
        assert_eq!(
            location("/a/b?x=1&y", Some("example.com:80"), 443),
            at("https://example.com/a/b?x=1&y")
        );
        assert_eq!(
            location("/", Some("example.com"), 8443),
            at("https://example.com:8443/")
        );
        assert_eq!(
            location("/v6", Some("[2001:db8::1]:8080"), 443),
            at("https://[2001:db8::1]/v6")
        );
        assert_eq!(
            location("http://example.org/abs", None, 443),
            at("https://example.org/abs")
        );
        assert_eq!(location("/", None, 443), (StatusCode::BAD_REQUEST, None));
        assert_eq!(
            location("/", Some("bad host"), 443),
            (StatusCode::BAD_REQUEST, None)
        );
    }
}
