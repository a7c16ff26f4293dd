//! The only module that touches WASI: turns a `wasi:http` request into an
//! `http::Request`, gives the router the `/static` preopen as a `StaticFs`, and
//! writes the `http::Response` back, streaming file bodies.

use crate::fs::{Entry, FileMeta, FsError, StaticFs};
use crate::html;
use crate::response::{self, Body, Response};
use crate::router::{self, Site};
use crate::site_path::SitePath;
use http::StatusCode;
use std::time::{Duration, SystemTime};
use wasi::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::{OutputStream, StreamError};

// The bindings come from our world in `wit/`, so the component cannot call
// anything the world does not grant; the imported interfaces reuse the `wasi`
// crate's types and only the export glue is generated here.
wit_bindgen::generate!({
    path: "wit",
    world: "sitebox:server/sitebox",
    with: {
        "wasi:cli/environment@0.2.12": wasi::cli::environment,
        "wasi:cli/exit@0.2.12": wasi::cli::exit,
        "wasi:cli/stderr@0.2.12": wasi::cli::stderr,
        "wasi:cli/stdin@0.2.12": wasi::cli::stdin,
        "wasi:cli/stdout@0.2.12": wasi::cli::stdout,
        "wasi:cli/terminal-input@0.2.12": wasi::cli::terminal_input,
        "wasi:cli/terminal-output@0.2.12": wasi::cli::terminal_output,
        "wasi:cli/terminal-stderr@0.2.12": wasi::cli::terminal_stderr,
        "wasi:cli/terminal-stdin@0.2.12": wasi::cli::terminal_stdin,
        "wasi:cli/terminal-stdout@0.2.12": wasi::cli::terminal_stdout,
        "wasi:clocks/monotonic-clock@0.2.12": wasi::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasi::clocks::wall_clock,
        "wasi:filesystem/preopens@0.2.12": wasi::filesystem::preopens,
        "wasi:filesystem/types@0.2.12": wasi::filesystem::types,
        "wasi:http/outgoing-handler@0.2.12": wasi::http::outgoing_handler,
        "wasi:http/types@0.2.12": wasi::http::types,
        "wasi:io/error@0.2.12": wasi::io::error,
        "wasi:io/poll@0.2.12": wasi::io::poll,
        "wasi:io/streams@0.2.12": wasi::io::streams,
        "wasi:random/insecure-seed@0.2.12": wasi::random::insecure_seed,
        "wasi:random/random@0.2.12": wasi::random::random,
    },
});

/// Where the host mounts the site (`--dir ./static::/static`).
const STATIC_PREOPEN: &str = "/static";

struct Component;

impl exports::wasi::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let response = match (to_http_request(&request), WasiDir::preopen(STATIC_PREOPEN)) {
            (Ok(request), Ok(static_root)) => router::handle(&request, &Site { static_root }),
            (Err(()), _) => error_page(
                StatusCode::BAD_REQUEST,
                "Bad request: malformed request target or header.",
            ),
            (_, Err(missing)) => {
                eprintln!("sitebox: {missing}");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The site is not configured.",
                )
            }
        };
        send(response, response_out);
    }
}

export!(Component);

fn error_page(status: StatusCode, message: &str) -> Response<Descriptor> {
    response::html(status, html::error_page(status, message))
}

fn to_http_request(request: &IncomingRequest) -> Result<http::Request<()>, ()> {
    let method = match request.method() {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Connect => http::Method::CONNECT,
        Method::Options => http::Method::OPTIONS,
        Method::Trace => http::Method::TRACE,
        Method::Patch => http::Method::PATCH,
        Method::Other(name) => http::Method::from_bytes(name.as_bytes()).map_err(|_| ())?,
    };
    let target = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    builder.body(()).map_err(|_| ())
}

/// A preopened directory; paths are opened relative to it, so the host's
/// sandbox (cap-std) is a second wall behind `SitePath`.
struct WasiDir(Descriptor);

impl WasiDir {
    fn preopen(guest_path: &str) -> Result<WasiDir, String> {
        wasi::filesystem::preopens::get_directories()
            .into_iter()
            .find(|(_, path)| path == guest_path)
            .map(|(descriptor, _)| WasiDir(descriptor))
            .ok_or_else(|| format!("no preopened directory {guest_path}"))
    }
}

impl StaticFs for WasiDir {
    type File = Descriptor;

    fn open(&self, path: &SitePath) -> Result<Entry<Descriptor>, FsError> {
        let file = self
            .0
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                &path.relative(),
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .map_err(fs_error)?;
        // Stat the open descriptor, not the path: what we measure is what we send.
        let stat = file.stat().map_err(fs_error)?;
        match stat.type_ {
            DescriptorType::Directory => Ok(Entry::Directory),
            DescriptorType::RegularFile => {
                let modified = stat
                    .data_modification_timestamp
                    .map(|t| SystemTime::UNIX_EPOCH + Duration::new(t.seconds, t.nanoseconds));
                let meta = FileMeta {
                    len: stat.size,
                    modified,
                };
                Ok(Entry::File { file, meta })
            }
            // Sockets, devices, FIFOs: not part of a site.
            _ => Err(FsError::NotFound),
        }
    }
}

fn fs_error(code: ErrorCode) -> FsError {
    match code {
        ErrorCode::NoEntry | ErrorCode::NotDirectory | ErrorCode::NameTooLong => FsError::NotFound,
        // cap-std reports a path that leaves the preopen (`..` in a symlink, an
        // absolute symlink) as not-permitted; loops are refused the same way.
        ErrorCode::NotPermitted | ErrorCode::Access | ErrorCode::Loop => FsError::Forbidden,
        other => FsError::Io(format!("{other:?}")),
    }
}

/// Sends `response`; a body write that fails (the client left, the file
/// shrank) abandons the body unfinished, which makes the host abort the
/// connection rather than send a short response as if it were whole.
fn send(response: Response<Descriptor>, response_out: ResponseOutparam) {
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
    stream.flush().map_err(stream_error)?;
    ready.block();
    stream.check_write().map(drop).map_err(stream_error)
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
            Err(StreamError::Closed) => return Err(format!("file ended {remaining} bytes early")),
            Err(error) => return Err(stream_error(error)),
        }
    }
    Ok(())
}

fn stream_error(error: StreamError) -> String {
    match error {
        StreamError::Closed => "stream closed".to_owned(),
        StreamError::LastOperationFailed(error) => error.to_debug_string(),
    }
}
