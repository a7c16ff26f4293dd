//! The runner's Prometheus metrics: what is counted, and the page that shows
//! them (OpenMetrics text) on the `--metrics-addr` listener, never on the
//! public one.

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Every metric the runner keeps. Cheap to update (atomics; a read lock for
/// a labelled family); kept only when `--metrics-addr` is given.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
    body_bytes: Counter,
    busy_refusals: Family<RefusalLabels, Counter>,
    guest_traps: Counter,
    guest_timeouts: Counter,
    store_errors: Counter,
    /// 1 when the last real readiness check passed, else 0.
    ready: Gauge,
    readiness_checks: Family<ReadinessLabels, Counter>,
    instances_started: Counter,
    /// Read from the host when the page is asked for.
    pub instances_busy: Gauge,
    pub requests_queued: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: MethodClass,
    status: u16,
}

/// A request's method, from a closed set so a client cannot grow the
/// families with made-up methods. (Variants are spelled as the label
/// values.)
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum MethodClass {
    GET,
    HEAD,
    POST,
    PUT,
    PATCH,
    DELETE,
    OPTIONS,
    other,
}

impl MethodClass {
    pub fn of(method: &Method) -> MethodClass {
        match *method {
            Method::GET => MethodClass::GET,
            Method::HEAD => MethodClass::HEAD,
            Method::POST => MethodClass::POST,
            Method::PUT => MethodClass::PUT,
            Method::PATCH => MethodClass::PATCH,
            Method::DELETE => MethodClass::DELETE,
            Method::OPTIONS => MethodClass::OPTIONS,
            _ => MethodClass::other,
        }
    }
}

/// Why a request got no slot (from `admission` or `client_slots`; defined
/// here, where refusals are counted, so the metrics use no other module).
#[derive(Debug)]
pub enum Refused {
    /// The queue was full.
    QueueFull,
    /// It waited in the queue as long as a request may.
    Waited,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: RefusalReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum RefusalReason {
    queue_full,
    waited_too_long,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadinessLabels {
    result: Readiness,
}

/// What a real readiness check found.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Readiness {
    ready,
    /// The board's store did not answer.
    store_unreachable,
    /// No instance of the component answered.
    component_failing,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sitebox");
        registry.register(
            "build",
            "The runner's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by method and status (the runner's own 4xx/5xx included)",
            requests.clone(),
        );
        // 0.25 ms to about 16 s.
        let duration = Histogram::new(exponential_buckets(0.000_25, 2.0, 17));
        registry.register_with_unit(
            "http_request_duration",
            "From the request's headers to the end of its response body",
            Unit::Seconds,
            duration.clone(),
        );
        let body_bytes = Counter::default();
        registry.register_with_unit(
            "http_response_body",
            "Response body bytes sent",
            Unit::Bytes,
            body_bytes.clone(),
        );
        let busy_refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "busy_refusals",
            "Requests answered 503 for want of an instance: the queue was full, or they waited too long",
            busy_refusals.clone(),
        );
        // Both series from the start, so a rate over them never lacks one.
        for reason in [RefusalReason::queue_full, RefusalReason::waited_too_long] {
            busy_refusals
                .get_or_create(&RefusalLabels { reason })
                .inc_by(0);
        }
        let guest_traps = Counter::default();
        registry.register(
            "guest_traps",
            "Guests that trapped (ran out of memory, failed) while serving a request",
            guest_traps.clone(),
        );
        let guest_timeouts = Counter::default();
        registry.register(
            "guest_timeouts",
            "Guests stopped for making no progress in --request-timeout",
            guest_timeouts.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "board_store_errors",
            "Calls to the board's Redis that failed or timed out",
            store_errors.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 when the last readiness check passed (the board's store and an instance answered), else 0",
            ready.clone(),
        );
        let readiness_checks = Family::<ReadinessLabels, Counter>::default();
        registry.register(
            "readiness_checks",
            "Readiness checks run (at most one a second, however often --ready-path is asked), by result",
            readiness_checks.clone(),
        );
        let instances_started = Counter::default();
        registry.register(
            "instances_started",
            "Instances of the component made: one per request, unless --reuse-instances or --instance-concurrency share them",
            instances_started.clone(),
        );
        let instances_busy = Gauge::default();
        registry.register(
            "instances_busy",
            "Instances serving a request now (with --instance-concurrency: instances alive)",
            instances_busy.clone(),
        );
        let requests_queued = Gauge::default();
        registry.register(
            "requests_queued",
            "Requests waiting for an instance now",
            requests_queued.clone(),
        );
        Metrics {
            registry,
            requests,
            duration,
            body_bytes,
            busy_refusals,
            guest_traps,
            guest_timeouts,
            store_errors,
            ready,
            readiness_checks,
            instances_started,
            instances_busy,
            requests_queued,
        }
    }

    /// One request answered and its body sent (or given up).
    pub fn answered(&self, method: MethodClass, status: StatusCode, bytes: u64, took: Duration) {
        let labels = RequestLabels {
            method,
            status: status.as_u16(),
        };
        self.requests.get_or_create(&labels).inc();
        self.duration.observe(took.as_secs_f64());
        self.body_bytes.inc_by(bytes);
    }

    pub fn refused(&self, refused: &Refused) {
        let reason = match refused {
            Refused::QueueFull => RefusalReason::queue_full,
            Refused::Waited => RefusalReason::waited_too_long,
        };
        self.busy_refusals
            .get_or_create(&RefusalLabels { reason })
            .inc();
    }

    /// The counter the key-value host counts its failed calls in.
    pub fn store_errors(&self) -> Counter {
        self.store_errors.clone()
    }

    /// A real readiness check and what it found.
    pub fn readiness_checked(&self, result: Readiness) {
        self.ready.set(i64::from(result == Readiness::ready));
        self.readiness_checks
            .get_or_create(&ReadinessLabels { result })
            .inc();
    }

    pub fn instance_started(&self) {
        self.instances_started.inc();
    }

    pub fn guest_trapped(&self) {
        self.guest_traps.inc();
    }

    pub fn guest_timed_out(&self) {
        self.guest_timeouts.inc();
    }

    /// The page, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut page = String::new();
        prometheus_client::encoding::text::encode(&mut page, &self.registry)
            .expect("writing to a String does not fail");
        page
    }
}

/// Serves `GET /metrics` on `listener` until the process ends; `refresh`
/// sets the gauges read from the host just before each page.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    refresh: impl Fn(&Metrics) + Send + Sync + 'static,
) {
    let refresh = Arc::new(refresh);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (metrics, refresh) = (metrics.clone(), refresh.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let page = page(&metrics, &*refresh, request.method(), request.uri().path());
                async move { Ok::<_, Infallible>(page) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn page(
    metrics: &Metrics,
    refresh: &dyn Fn(&Metrics),
    method: &Method,
    path: &str,
) -> hyper::Response<Full<Bytes>> {
    let (status, content_type, body) = match (method, path) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            refresh(metrics);
            (
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                metrics.encode(),
            )
        }
        (_, "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET or HEAD only\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
    headers.insert(http::header::CACHE_CONTROL, "no-store".parse().unwrap());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(http::header::ALLOW, "GET, HEAD".parse().unwrap());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_shows_what_was_counted() {
        let metrics = Metrics::new();
        let store_errors = metrics.store_errors();
        metrics.answered(
            MethodClass::GET,
            StatusCode::OK,
            1024,
            Duration::from_millis(2),
        );
        metrics.answered(
            MethodClass::of(&Method::from_bytes(b"BREW").unwrap()),
            StatusCode::NOT_IMPLEMENTED,
            0,
            Duration::from_micros(100),
        );
        metrics.refused(&Refused::QueueFull);
        metrics.guest_trapped();
        store_errors.inc();
        metrics.instances_busy.set(3);
        let page = metrics.encode();
        for line in [
            "sitebox_http_requests_total{method=\"GET\",status=\"200\"} 1",
            "sitebox_http_requests_total{method=\"other\",status=\"501\"} 1",
            "sitebox_http_response_body_bytes_total 1024",
            "sitebox_http_request_duration_seconds_count 2",
            "sitebox_busy_refusals_total{reason=\"queue_full\"} 1",
            "sitebox_guest_traps_total 1",
            "sitebox_guest_timeouts_total 0",
            "sitebox_board_store_errors_total 1",
            "sitebox_instances_busy 3",
            "sitebox_requests_queued 0",
        ] {
            assert!(page.lines().any(|l| l == line), "{line:?} in\n{page}");
        }
        assert!(page.contains("sitebox_build_info{version=\""), "{page}");
        assert!(page.ends_with("# EOF\n"));
    }

    #[test]
    fn only_get_or_head_of_metrics_is_answered() {
        let metrics = Metrics::new();
        let refresh = |metrics: &Metrics| {
            metrics.requests_queued.set(5);
        };
        let ok = page(&metrics, &refresh, &Method::GET, "/metrics");
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(metrics.requests_queued.get(), 5, "refreshed first");
        let post = page(&metrics, &refresh, &Method::POST, "/metrics");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[http::header::ALLOW], "GET, HEAD");
        let elsewhere = page(&metrics, &refresh, &Method::GET, "/");
        assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    }
}
