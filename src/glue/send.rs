//! Writing the response: headers and status, then the body — bytes in
//! `check-write`-sized writes, files spliced host-side.

use crate::http::response::{Body, Response, Segment};
use wasi::filesystem::types::Descriptor;
use wasi::http::types::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::io::streams::{OutputStream, StreamError};

/// Sends `response`; a body write that fails (the client left, the file
/// shrank) abandons the body unfinished, which makes the host abort the
/// connection rather than send a short response as if it were whole.
pub fn send(response: Response<Descriptor>, response_out: ResponseOutparam) {
    let (parts, body) = response.into_parts();
    let entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_owned()))
        .collect();
    let headers = match Fields::from_list(&entries) {
        Ok(headers) => headers,
        Err(error) => {
            eprintln!("sitebox: response headers refused by the host: {error:?}");
            return ResponseOutparam::set(response_out, Err(internal_error()));
        }
    };
    let outgoing = OutgoingResponse::new(headers);
    outgoing
        .set_status_code(parts.status.as_u16())
        .expect("http::StatusCode is always a valid status");

    // No body resource for an empty body: a HEAD answer keeps its
    // Content-Length without the host expecting that many bytes.
    if let Body::Empty = body {
        return ResponseOutparam::set(response_out, Ok(outgoing));
    }
    let outgoing_body = outgoing.body().expect("body is taken once");
    ResponseOutparam::set(response_out, Ok(outgoing));
    let stream = outgoing_body.write().expect("stream is taken once");
    let written = match body {
        Body::Empty => Ok(()),
        Body::Bytes(bytes) => write_all(&stream, &bytes),
        Body::File { file, offset, len } => splice_file(&stream, &file, offset, len),
        Body::Multipart { file, segments } => {
            segments.iter().try_for_each(|segment| match segment {
                Segment::Bytes(bytes) => write_all(&stream, bytes),
                Segment::File { offset, len } => splice_file(&stream, &file, *offset, *len),
            })
        }
    };
    drop(stream);
    match written {
        Ok(()) => {
            if let Err(error) = OutgoingBody::finish(outgoing_body, None) {
                eprintln!("sitebox: finishing the body failed: {error:?}");
            }
        }
        Err(error) => eprintln!("sitebox: response body aborted: {error}"),
    }
}

fn internal_error() -> wasi::http::types::ErrorCode {
    wasi::http::types::ErrorCode::InternalError(Some("invalid response".to_owned()))
}

/// Writes in `check-write`-sized pieces (a single blocking write over 4096
/// bytes would trap), then flushes.
fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), String> {
    let ready = stream.subscribe();
    while !bytes.is_empty() {
        let permitted = stream.check_write().map_err(stream_error)?;
        if permitted == 0 {
            ready.block();
            continue;
        }
        let n = bytes
            .len()
            .min(usize::try_from(permitted).unwrap_or(usize::MAX));
        stream.write(&bytes[..n]).map_err(stream_error)?;
        bytes = &bytes[n..];
    }
    let flushed = stream.flush().and_then(|()| {
        ready.block();
        stream.check_write().map(drop)
    });
    match flushed {
        // The host may close the stream as soon as it has the whole
        // Content-Length: then everything was delivered.
        Ok(()) | Err(StreamError::Closed) => Ok(()),
        Err(error) => Err(stream_error(error)),
    }
}

/// Copies `len` bytes of `file` from `offset` host-side with `splice`: the
/// bytes never pass through guest memory, and each step moves what the
/// stream's `check-write` allows.
fn splice_file(
    stream: &OutputStream,
    file: &Descriptor,
    offset: u64,
    len: u64,
) -> Result<(), String> {
    let input = file
        .read_via_stream(offset)
        .map_err(|code| format!("cannot read the file: {code:?}"))?;
    let mut remaining = len;
    while remaining > 0 {
        match stream.blocking_splice(&input, remaining) {
            Ok(n) => remaining -= n.min(remaining),
            // `Closed` is either stream's end; only the output can say which
            // (a client that leaves mid-file is no shrunken file).
            Err(StreamError::Closed) => {
                return Err(match stream.check_write() {
                    Err(error) => format!("the connection ended: {}", stream_error(error)),
                    Ok(_) => format!("the file ended {remaining} bytes early"),
                });
            }
            Err(error) => return Err(stream_error(error)),
        }
    }
    Ok(())
}

pub fn stream_error(error: StreamError) -> String {
    match error {
        StreamError::Closed => "stream closed".to_owned(),
        StreamError::LastOperationFailed(error) => error.to_debug_string(),
    }
}
