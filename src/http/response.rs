//! Responses as the core builds them: `http` status and headers plus a body of
//! bytes, an open file the glue streams, or both interleaved (multipart
//! ranges). Every constructor sets a `Content-Length` that matches the body.

use crate::http::security_headers;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};

pub enum Body<F> {
    Empty,
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `offset`, streamed without buffering.
    File {
        file: F,
        offset: u64,
        len: u64,
    },
    /// Literal bytes and pieces of `file`, in order (`multipart/byteranges`).
    Multipart {
        file: F,
        segments: Vec<Segment>,
    },
}

pub enum Segment {
    Bytes(Vec<u8>),
    File { offset: u64, len: u64 },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Bytes(bytes) => bytes.len() as u64,
            Segment::File { len, .. } => *len,
        }
    }
}

impl<F> Body<F> {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
            Body::Multipart { segments, .. } => segments.iter().map(Segment::len).sum(),
        }
    }
}

impl<F> std::fmt::Debug for Body<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Body::File { offset, len, .. } => write!(f, "File({len} bytes at {offset})"),
            Body::Multipart { segments, .. } => write!(f, "Multipart({} segments)", segments.len()),
        }
    }
}

pub type Response<F> = http::Response<Body<F>>;

pub const TEXT_HTML: &str = "text/html; charset=utf-8";

/// A response with `body`, its `Content-Length` and `Content-Type`.
pub fn with_body<F>(status: StatusCode, content_type: HeaderValue, body: Body<F>) -> Response<F> {
    let mut response = http::Response::new(Body::Empty);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    *response.body_mut() = body;
    response
}

/// A page sitebox wrote itself, with the policy such pages carry.
pub fn html<F>(status: StatusCode, page: String) -> Response<F> {
    let mut response = with_body(
        status,
        HeaderValue::from_static(TEXT_HTML),
        Body::Bytes(page.into_bytes()),
    );
    security_headers::for_page(response.headers_mut());
    response
}

/// A response without content: `Content-Length: 0` (a redirect), or no
/// length at all where the status forbids content (204, 304).
pub fn empty<F>(status: StatusCode) -> Response<F> {
    let mut response = http::Response::new(Body::Empty);
    *response.status_mut() = status;
    if !matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    response
}

/// The answer to `HEAD`: the `GET` response's status and headers (its
/// `Content-Length` included), without the body.
pub fn head<F>(response: Response<F>) -> Response<F> {
    let (parts, _body) = response.into_parts();
    http::Response::from_parts(parts, Body::Empty)
}
