//! The runner's own answers about itself, at paths of the operator's choice
//! (`--live-path`, `--ready-path`): liveness (the process serves) and
//! readiness (the component instantiates and answers, and the board's store
//! is reachable). Load balancers and orchestrators ask them every few
//! seconds, so they are not logged unless asked (`--log-health`).

use crate::Health;
use crate::host::{GuestResponse, Host};
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

/// Which of the two a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Live,
    Ready,
}

impl Health {
    /// The probe at `path`, if any: a health path shadows the site's.
    pub fn probe(&self, path: &str) -> Option<Probe> {
        if self.live_path.as_deref() == Some(path) {
            Some(Probe::Live)
        } else if self.ready_path.as_deref() == Some(path) {
            Some(Probe::Ready)
        } else {
            None
        }
    }
}

/// The answer to `probe`: 200 with a line of text, or 503 saying what is
/// not ready. Never cached, never a body for `HEAD`.
pub async fn answer(host: &Host, probe: Probe, method: &Method) -> GuestResponse {
    if method != Method::GET && method != Method::HEAD {
        let mut page = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        page.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return page;
    }
    let (status, body) = match probe {
        Probe::Live => (StatusCode::OK, "live\n".to_owned()),
        Probe::Ready => match ready(host).await {
            Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
            Err(why) => {
                tracing::warn!("not ready: {why}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {why}\n"),
                )
            }
        },
    };
    text(status, &body)
}

/// Whether the board's store answers and an instance of the component
/// answers `HEAD /` below 500, as a request would find them.
async fn ready(host: &Host) -> Result<(), String> {
    host.store_reachable()
        .await
        .map_err(|why| format!("the board's store: {why}"))?;
    let request = hyper::Request::head("/")
        .header(http::header::HOST, "localhost")
        .body(Empty::<Bytes>::new().map_err(|never| match never {}))
        .expect("a valid request");
    match host.handle::<_, hyper::Error>(Scheme::Http, request).await {
        Ok(response) if response.status().is_server_error() => Err(format!(
            "the component answers HEAD / with {}",
            response.status()
        )),
        Ok(_) => Ok(()),
        Err(failure) => Err(format!("the component does not answer: {failure}")),
    }
}

fn text(status: StatusCode, body: &str) -> GuestResponse {
    let body = Full::new(Bytes::from(body.to_owned()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = crate::host_pages::host_response(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_choose_the_probe_and_an_empty_one_is_off() {
        let health = Health::default();
        assert_eq!(health.probe("/healthz"), Some(Probe::Live));
        assert_eq!(health.probe("/readyz"), Some(Probe::Ready));
        assert_eq!(health.probe("/"), None);
        assert_eq!(health.probe("/healthz/"), None);
        let off = Health {
            live_path: None,
            ready_path: Some("/-/ready".to_owned()),
            log: false,
        };
        assert_eq!(off.probe("/healthz"), None);
        assert_eq!(off.probe("/-/ready"), Some(Probe::Ready));
    }
}
