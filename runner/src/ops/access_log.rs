//! The access log: one line per request, in the Common Log Format (client,
//! time, request line, status, body bytes sent) or as JSON with the duration
//! too, written when the response body is done with, so the bytes and the
//! time are those of the whole exchange; the request metrics are counted at
//! the same moment. Lines go to `tracing` under the target
//! `sitebox::access`; the binary sends that target to stdout.

use crate::LogFormat;
use crate::filters::observed::{FrameObserver, Observed};
use crate::ops::metrics::{MethodClass, Metrics};
use bytes::Bytes;
use http::{Method, StatusCode, Version};
use http_body::Frame;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// What the log line needs from the request, taken before it is consumed.
pub struct RequestLine {
    format: LogFormat,
    /// The client as `client_address` found it (a trusted proxy's word).
    client: IpAddr,
    method: Method,
    target: String,
    version: Version,
    received: jiff::Timestamp,
    start: Instant,
}

impl RequestLine {
    pub fn new<B>(request: &http::Request<B>, client: IpAddr, format: LogFormat) -> RequestLine {
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().to_string(), |p| p.to_string());
        RequestLine {
            format,
            client,
            method: request.method().clone(),
            target,
            version: request.version(),
            received: jiff::Timestamp::now(),
            start: Instant::now(),
        }
    }

    fn format(&self, status: StatusCode, bytes: u64, aborted: bool) -> String {
        let client = self.client;
        let (method, target, version) = (&self.method, &self.target, self.version);
        match self.format {
            LogFormat::Common => {
                let time = self.received.strftime("%d/%b/%Y:%H:%M:%S +0000");
                let bytes = if bytes == 0 {
                    "-".to_owned()
                } else {
                    bytes.to_string()
                };
                let status = status.as_u16();
                format!("{client} - - [{time}] \"{method} {target} {version:?}\" {status} {bytes}")
            }
            LogFormat::Json => {
                let line = serde_json::json!({
                    "time": self.received.to_string(),
                    "client": client.to_string(),
                    "method": method.as_str(),
                    "target": target,
                    "version": format!("{version:?}"),
                    "status": status.as_u16(),
                    "bytes": bytes,
                    "duration_ms": self.start.elapsed().as_secs_f64() * 1000.0,
                    "aborted": aborted,
                });
                line.to_string()
            }
        }
    }
}

/// What the metrics need from the request.
pub struct Counted {
    metrics: Arc<Metrics>,
    method: MethodClass,
    start: Instant,
}

impl Counted {
    pub fn new<B>(request: &http::Request<B>, metrics: &Arc<Metrics>) -> Counted {
        Counted {
            metrics: metrics.clone(),
            method: MethodClass::of(request.method()),
            start: Instant::now(),
        }
    }
}

/// The counts for one request's log line and metrics, written when the
/// response body is dropped (finished, aborted, or never polled, as for
/// `HEAD`). No line when the log is off; no count without metrics.
pub struct AccessRecord {
    line: Option<RequestLine>,
    counted: Option<Counted>,
    status: StatusCode,
    bytes: u64,
    failed: bool,
}

pub type LoggedBody<B> = Observed<B, AccessRecord>;

impl FrameObserver for AccessRecord {
    fn observe<E>(&mut self, frame: &Option<Result<Frame<Bytes>, E>>) {
        match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
            }
            Some(Err(_)) => self.failed = true,
            None => {}
        }
    }
}

impl Drop for AccessRecord {
    fn drop(&mut self) {
        if let Some(line) = &self.line {
            let text = line.format(self.status, self.bytes, self.failed);
            tracing::info!(target: "sitebox::access", "{text}");
        }
        if let Some(counted) = &self.counted {
            let took = counted.start.elapsed();
            (counted.metrics).answered(counted.method, self.status, self.bytes, took);
        }
    }
}

pub fn log_response<B>(
    line: Option<RequestLine>,
    counted: Option<Counted>,
    response: http::Response<B>,
) -> http::Response<LoggedBody<B>> {
    let status = response.status();
    let record = AccessRecord {
        line,
        counted,
        status,
        bytes: 0,
        failed: false,
    };
    response.map(|inner| Observed::new(inner, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: LogFormat) -> RequestLine {
        let request = http::Request::get("/a%20b?x=1").body(()).unwrap();
        let mut line = RequestLine::new(&request, "192.0.2.7".parse().unwrap(), format);
        line.received = "2026-11-21T08:09:10Z".parse().unwrap();
        line
    }

    #[test]
    fn common_log_format() {
        let text = line(LogFormat::Common).format(StatusCode::OK, 1234, false);
        assert_eq!(
            text,
            r#"192.0.2.7 - - [21/Nov/2026:08:09:10 +0000] "GET /a%20b?x=1 HTTP/1.1" 200 1234"#
        );
        let empty = line(LogFormat::Common).format(StatusCode::NOT_MODIFIED, 0, false);
        assert!(empty.ends_with("\" 304 -"));
    }

    #[test]
    fn json_lines() {
        let text = line(LogFormat::Json).format(StatusCode::NOT_FOUND, 9, true);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["time"], "2026-11-21T08:09:10Z");
        assert_eq!(value["client"], "192.0.2.7");
        assert_eq!(value["target"], "/a%20b?x=1");
        assert_eq!(value["status"], 404);
        assert_eq!(value["bytes"], 9);
        assert_eq!(value["aborted"], true);
        assert!(value["duration_ms"].as_f64().unwrap() >= 0.0);
    }
}
