//! The wasi:http 0.3 edge (`--features p3`): a `wasi:http/handler` request
//! becomes an `http::Request` whose body is read before the router runs (up
//! to the most any handler reads), and the router's answer goes back with its
//! files read in chunks into the response's stream. Everything else — the
//! preopens, the store, the settings — is the p2 component's (`super::site`).

use super::{bad_request, site};
use crate::board::submission::MAX_BODY_BYTES;
use crate::http::body::{BodyError, RequestBody};
use crate::http::response::{Body, Segment};
use crate::router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasi::filesystem::types::Descriptor;
use wasip3::http::types::{ErrorCode, Request, Response};
use wasip3::http_compat::{IncomingRequestBody, http_from_wasi_request, http_into_wasi_response};

/// A file is read into the response's stream this much at a time.
const FILE_CHUNK: u64 = 64 * 1024;

struct Component;

wasip3::http::service::export!(Component);

impl wasip3::exports::http::handler::Guest for Component {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let response = match http_from_wasi_request(request) {
            Ok(request) => {
                let (mut parts, body) = request.into_parts();
                // Only writes read a body: a GET's (empty) stream is left
                // unopened, a few host calls fewer on every page and file.
                let body = if parts.method.is_safe() {
                    ReadAhead(Ok(Vec::new()))
                } else {
                    read_body(body, MAX_BODY_BYTES).await
                };
                match with_origin(parts.uri, &parts.headers) {
                    Ok(uri) => {
                        parts.uri = uri;
                        router::handle(http::Request::from_parts(parts, body), &site())
                    }
                    Err(()) => bad_request(),
                }
            }
            Err(_) => bad_request(),
        };
        http_into_wasi_response(response.map(ResponseBody::new))
    }
}

/// `uri`, absolute: wasmtime's 0.3 host gives a request no scheme or
/// authority of its own (the 0.2 host gives both), so they come from the
/// `Host` header, as the 0.2 host takes them; the core needs its own origin
/// for the same-origin check of the board's writes.
fn with_origin(uri: http::Uri, headers: &http::HeaderMap) -> Result<http::Uri, ()> {
    if uri.authority().is_some() {
        return Ok(uri);
    }
    let Some(host) = headers.get(http::header::HOST) else {
        return Ok(uri);
    };
    let mut parts = uri.into_parts();
    parts.scheme.get_or_insert(http::uri::Scheme::HTTP);
    parts.authority = Some(http::uri::Authority::try_from(host.as_bytes()).map_err(|_| ())?);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    http::Uri::from_parts(parts).map_err(|_| ())
}

/// A request body read ahead, up to one byte past the limit.
struct ReadAhead(Result<Vec<u8>, BodyError>);

impl RequestBody for ReadAhead {
    fn read_to_end(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let bytes = self.0?;
        if bytes.len() > limit {
            return Err(BodyError::TooLarge);
        }
        Ok(bytes)
    }
}

/// Reads `body` until it ends or passes `limit` bytes (then the rest is
/// left unread: no handler takes more).
async fn read_body(body: IncomingRequestBody, limit: usize) -> ReadAhead {
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(body.as_mut(), cx));
        match frame.await {
            None => return ReadAhead(Ok(bytes)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
                if bytes.len() > limit {
                    return ReadAhead(Err(BodyError::TooLarge));
                }
            }
            Some(Err(error)) => return ReadAhead(Err(BodyError::Io(format!("{error:?}")))),
        }
    }
}

/// A piece of a response body: bytes, or a range of the answer's file.
enum Piece {
    Bytes(Vec<u8>),
    File { offset: u64, len: u64 },
}

/// The router's body as an `http_body::Body`: its pieces in order, a file's
/// ranges read `FILE_CHUNK` at a time as the stream takes them.
struct ResponseBody {
    file: Option<Descriptor>,
    pieces: VecDeque<Piece>,
}

impl ResponseBody {
    fn new(body: Body<Descriptor>) -> Self {
        let (file, pieces) = match body {
            Body::Empty => (None, VecDeque::new()),
            Body::Bytes(bytes) => (None, VecDeque::from([Piece::Bytes(bytes)])),
            Body::File { file, offset, len } => {
                (Some(file), VecDeque::from([Piece::File { offset, len }]))
            }
            Body::Multipart { file, segments } => {
                let pieces = segments
                    .into_iter()
                    .map(|segment| match segment {
                        Segment::Bytes(bytes) => Piece::Bytes(bytes),
                        Segment::File { offset, len } => Piece::File { offset, len },
                    })
                    .collect();
                (Some(file), pieces)
            }
        };
        ResponseBody { file, pieces }
    }

    fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            match self.pieces.pop_front()? {
                Piece::Bytes(bytes) if bytes.is_empty() => continue,
                Piece::Bytes(bytes) => return Some(Ok(Bytes::from(bytes))),
                Piece::File { len: 0, .. } => continue,
                Piece::File { offset, len } => {
                    let file = self.file.as_ref().expect("a file piece has its file");
                    let chunk = match file.read(len.min(FILE_CHUNK), offset) {
                        Ok((chunk, _)) if !chunk.is_empty() => chunk,
                        // A file that shrank: abort, never a short answer.
                        Ok(_) => return Some(Err(std::io::Error::other("the file ended early"))),
                        Err(code) => {
                            let error = format!("cannot read the file: {code:?}");
                            return Some(Err(std::io::Error::other(error)));
                        }
                    };
                    let read = chunk.len() as u64;
                    if read < len {
                        let rest = Piece::File {
                            offset: offset + read,
                            len: len - read,
                        };
                        self.pieces.push_front(rest);
                    }
                    return Some(Ok(Bytes::from(chunk)));
                }
            }
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(
            self.get_mut()
                .next_chunk()
                .map(|chunk| chunk.map(Frame::data)),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        let len = self
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Bytes(bytes) => bytes.len() as u64,
                Piece::File { len, .. } => *len,
            })
            .sum();
        SizeHint::with_exact(len)
    }
}
