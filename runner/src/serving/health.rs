//! The runner's own answers about itself, at paths of the operator's choice
//! (`--live-path`, `--ready-path`): liveness (the process serves) and
//! readiness (the component instantiates and answers, and the board's store
//! is reachable). Load balancers and orchestrators ask them every few
//! seconds, so they are not logged unless asked (`--log-health`). The paths
//! are public: readiness says only "ready" or "not ready" (why goes to the
//! log and the metrics) and really checks at most once a second.

use crate::Health;
use crate::guest::host::{GuestResponse, Host};
use crate::ops::metrics::{self, Metrics};
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
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

/// How long a readiness check's finding is the answer: however often
/// probes (or anyone: the path is public) ask, the store and an instance
/// are asked at most once per this.
pub const READY_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Readiness as last checked: the finding and when, behind a lock that
/// probes arriving during a check wait on, so they share its finding.
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), NotReady>)>>,
    metrics: Option<Arc<Metrics>>,
}

/// Why the runner is not ready: for the log and the metrics, never for the
/// public answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NotReady {
    reason: metrics::Readiness,
    detail: String,
}

impl Readiness {
    pub fn new(metrics: Option<Arc<Metrics>>) -> Readiness {
        Readiness {
            last: tokio::sync::Mutex::new(None),
            metrics,
        }
    }

    /// The answer to `probe`: 200 with a line of text, or 503 `not ready`
    /// (what is not ready goes to the log). Never cached, never a body for
    /// `HEAD`.
    pub async fn answer(&self, host: &Host, probe: Probe, method: &Method) -> GuestResponse {
        if method != Method::GET && method != Method::HEAD {
            let mut page = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
            page.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return page;
        }
        match probe {
            Probe::Live => text(StatusCode::OK, "live\n"),
            Probe::Ready if self.ready(|| check(host)).await => text(StatusCode::OK, "ready\n"),
            Probe::Ready => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        }
    }

    /// The last finding if it is fresh, else `check`'s, logged when it
    /// changes and counted.
    async fn ready<F>(&self, check: impl FnOnce() -> F) -> bool
    where
        F: Future<Output = Result<(), NotReady>>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, finding)) = &*last
            && at.elapsed() < READY_CHECK_EVERY
        {
            return finding.is_ok();
        }
        let finding = check().await;
        match (last.as_ref().map(|(_, before)| before), &finding) {
            (Some(Err(before)), Err(now)) if before == now => {
                tracing::debug!("still not ready: {}", now.detail)
            }
            (_, Err(now)) => tracing::warn!("not ready: {}", now.detail),
            (Some(Err(_)), Ok(())) => tracing::info!("ready again"),
            (_, Ok(())) => {}
        }
        if let Some(metrics) = &self.metrics {
            metrics.readiness_checked(match &finding {
                Ok(()) => metrics::Readiness::ready,
                Err(not_ready) => not_ready.reason,
            });
        }
        let ready = finding.is_ok();
        *last = Some((Instant::now(), finding));
        ready
    }
}

/// Whether the board's store answers and an instance of the component
/// answers `HEAD /` below 500, as a request would find them.
async fn check(host: &Host) -> Result<(), NotReady> {
    host.store_reachable().await.map_err(|why| NotReady {
        reason: metrics::Readiness::store_unreachable,
        detail: format!("the board's store: {why}"),
    })?;
    let failing = |detail| NotReady {
        reason: metrics::Readiness::component_failing,
        detail,
    };
    let request = hyper::Request::head("/")
        .header(http::header::HOST, "localhost")
        .body(Empty::<Bytes>::new().map_err(|never| match never {}))
        .expect("a valid request");
    match host.handle::<_, hyper::Error>(Scheme::Http, request).await {
        Ok(response) if response.status().is_server_error() => Err(failing(format!(
            "the component answers HEAD / with {}",
            response.status()
        ))),
        Ok(_) => Ok(()),
        Err(failure) => Err(failing(format!("the component does not answer: {failure}"))),
    }
}

fn text(status: StatusCode, body: &str) -> GuestResponse {
    let body = Full::new(Bytes::from(body.to_owned()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = crate::serving::host_pages::host_response(body);
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
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn the_store_and_component_are_checked_at_most_once_a_second() {
        let readiness = Readiness::new(None);
        let checks = AtomicU32::new(0);
        let outcome = std::sync::Mutex::new(Ok(()));
        let check = || async {
            checks.fetch_add(1, Ordering::Relaxed);
            // A check takes a while: probes meanwhile wait for its finding.
            tokio::time::sleep(Duration::from_millis(200)).await;
            outcome.lock().unwrap().clone()
        };
        let probes = (0..100).map(|_| readiness.ready(check));
        let answers = futures_util::future::join_all(probes).await;
        assert!(answers.iter().all(|&ready| ready));
        assert_eq!(checks.load(Ordering::Relaxed), 1);

        *outcome.lock().unwrap() = Err(NotReady {
            reason: metrics::Readiness::store_unreachable,
            detail: "redis: connection refused".to_owned(),
        });
        assert!(readiness.ready(check).await, "the finding is still fresh");
        tokio::time::sleep(READY_CHECK_EVERY).await;
        assert!(!readiness.ready(check).await);
        assert_eq!(checks.load(Ordering::Relaxed), 2);
    }

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
