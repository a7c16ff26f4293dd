//! A wasi:http 0.3 test guest that misbehaves on purpose, for the runner's
//! shared instances (`--instance-concurrency`):
//! - `/trap` panics (a wasm trap) before answering;
//! - `/loop` spins forever before answering (and so stalls every request in
//!   its instance: a component instance runs one task at a time);
//! - `/big?N` answers N bytes of `x`, 64 KiB at a time as the stream takes
//!   them (for a client that stops reading);
//! - `/count` reads the whole request body and answers its length (while it
//!   waits for the body, other requests run in the instance);
//! - anything else answers 200 "ok".

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use wasip3::http::types::{ErrorCode, Request, Response};
use wasip3::http_compat::{http_from_wasi_request, http_into_wasi_response};

struct Faulty;

wasip3::http::service::export!(Faulty);

impl wasip3::exports::http::handler::Guest for Faulty {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let request = http_from_wasi_request(request)?;
        let target = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = query.to_owned();
        let body = match path {
            "/trap" => panic!("trapping on purpose"),
            "/loop" => spin(),
            "/big" => Text(query.parse().unwrap_or(0), None),
            "/count" => {
                let mut body = std::pin::pin!(request.into_body());
                let mut length = 0;
                while let Some(Ok(frame)) =
                    std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await
                {
                    if let Ok(data) = frame.into_data() {
                        length += data.len();
                    }
                }
                Text::new(&length.to_string())
            }
            _ => Text::new("ok"),
        };
        let mut response = http::Response::new(body);
        let length = http::HeaderValue::from(response.body().0);
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, length);
        http_into_wasi_response(response)
    }
}

/// Burns CPU forever without calling the host, like a buggy guest would.
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// A body: the given text, or (with none) that many bytes of `x`.
struct Text(u64, Option<Bytes>);

impl Text {
    fn new(text: &str) -> Text {
        Text(
            text.len() as u64,
            Some(Bytes::copy_from_slice(text.as_bytes())),
        )
    }
}

impl Body for Text {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.0 == 0 {
            return Poll::Ready(None);
        }
        let chunk = match this.1.take() {
            Some(text) => text,
            None => Bytes::from(vec![b'x'; this.0.min(64 << 10) as usize]),
        };
        this.0 -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0)
    }
}
