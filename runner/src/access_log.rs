//! The access log: one line per request (method, target, status, body bytes
//! sent, duration), written when the response body is done with, so the
//! bytes and the time are those of the whole exchange.

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// What the log line needs from the request, taken before it is consumed.
pub struct RequestLine {
    method: Method,
    target: String,
    start: Instant,
}

impl RequestLine {
    pub fn new<B>(request: &http::Request<B>) -> RequestLine {
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().to_string(), |p| p.to_string());
        RequestLine {
            method: request.method().clone(),
            target,
            start: Instant::now(),
        }
    }
}

pin_project! {
    /// A response body that counts what it yields and logs the request when
    /// it is dropped (finished, aborted, or never polled, as for `HEAD`).
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        line: RequestLine,
        status: StatusCode,
        bytes: u64,
        failed: bool,
    }

    impl<B> PinnedDrop for LoggedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let elapsed = this.line.start.elapsed();
            let outcome = if *this.failed { " (body aborted)" } else { "" };
            tracing::info!(
                target: "sitebox::access",
                "{} {} {} {}B {:.2}ms{outcome}",
                this.line.method,
                this.line.target,
                this.status.as_u16(),
                this.bytes,
                elapsed.as_secs_f64() * 1000.0,
            );
        }
    }
}

pub fn log_response<B>(
    line: RequestLine,
    response: http::Response<B>,
) -> http::Response<LoggedBody<B>> {
    let status = response.status();
    response.map(|inner| LoggedBody {
        inner,
        line,
        status,
        bytes: 0,
        failed: false,
    })
}

impl<B: Body<Data = Bytes>> Body for LoggedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.len() as u64;
                }
            }
            Some(Err(_)) => *this.failed = true,
            None => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
