//! A test guest that misbehaves on purpose, to prove the runner contains it:
//! - `/trap` panics (a wasm trap) before answering; `/trap-mid-body` after
//!   sending half a body;
//! - `/alloc` grows memory until it cannot;
//! - `/loop` spins forever before answering; `/loop-mid-body` after sending
//!   its headers;
//! - `/sleep?MS` answers "slept" after MS milliseconds (a well-behaved slow
//!   request);
//! - `/count` reads the whole request body and answers its length;
//! - `/headers` answers the request's headers as it received them, one
//!   `name: value` a line;
//! - `/file?NAME` answers the contents of the site's file NAME, opened and
//!   read through `wasi:filesystem` (any file the preopen holds: a FIFO
//!   too, whose open blocks until a writer comes);
//! - anything else answers 200 "ok".

use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Faulty;

impl wasi::exports::http::incoming_handler::Guest for Faulty {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        match path {
            "/trap" => panic!("trapping on purpose"),
            "/alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                }
            }
            "/trap-mid-body" => {
                let body = respond(response_out, 200, Some(1000));
                let stream = body.write().unwrap();
                stream.blocking_write_and_flush(&[b'x'; 500]).unwrap();
                panic!("trapping halfway through the body");
            }
            "/loop" => spin(),
            "/loop-mid-body" => {
                let body = respond(response_out, 200, Some(1000));
                let stream = body.write().unwrap();
                stream.blocking_write_and_flush(&[b'x'; 10]).unwrap();
                spin()
            }
            "/sleep" => {
                let millis: u64 = query.parse().unwrap_or(1000);
                wasi::clocks::monotonic_clock::subscribe_duration(millis * 1_000_000).block();
                answer(response_out, b"slept");
            }
            "/headers" => {
                let lines: Vec<String> = (request.headers().entries().into_iter())
                    .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(&value)))
                    .collect();
                answer(response_out, lines.join("\n").as_bytes());
            }
            "/count" => {
                let length = read_body(request.consume().unwrap());
                answer(response_out, length.to_string().as_bytes());
            }
            "/file" => match read_site_file(query) {
                Ok(contents) => answer(response_out, &contents),
                Err(error) => {
                    let body = respond(response_out, 500, None);
                    let stream = body.write().unwrap();
                    stream.blocking_write_and_flush(error.as_bytes()).unwrap();
                    drop(stream);
                    OutgoingBody::finish(body, None).unwrap();
                }
            },
            _ => answer(response_out, b"ok"),
        }
    }
}

/// Burns CPU forever without calling the host, like a buggy guest would.
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// The file `name` of the `/static` preopen, whole (up to 64 KiB).
fn read_site_file(name: &str) -> Result<Vec<u8>, String> {
    use wasi::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};
    let preopens = wasi::filesystem::preopens::get_directories();
    let (site, _) = (preopens.iter())
        .find(|(_, path)| path == "/static")
        .ok_or("no /static preopen")?;
    let file = site
        .open_at(PathFlags::empty(), name, OpenFlags::empty(), DescriptorFlags::READ)
        .map_err(|code| format!("open: {code:?}"))?;
    let (contents, _) = file.read(64 << 10, 0).map_err(|code| format!("read: {code:?}"))?;
    Ok(contents)
}

fn read_body(body: IncomingBody) -> u64 {
    let stream = body.stream().unwrap();
    let mut length = 0;
    while let Ok(chunk) = stream.blocking_read(64 << 10) {
        length += chunk.len() as u64;
    }
    length
}

fn answer(response_out: ResponseOutparam, text: &[u8]) {
    let body = respond(response_out, 200, Some(text.len() as u64));
    let stream = body.write().unwrap();
    stream.blocking_write_and_flush(text).unwrap();
    drop(stream);
    OutgoingBody::finish(body, None).unwrap();
}

fn respond(response_out: ResponseOutparam, status: u16, len: Option<u64>) -> OutgoingBody {
    let headers = Fields::new();
    if let Some(len) = len {
        headers
            .set("content-length", &[len.to_string().into_bytes()])
            .unwrap();
    }
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).unwrap();
    let body = response.body().unwrap();
    ResponseOutparam::set(response_out, Ok(response));
    body
}

wasi::http::proxy::export!(Faulty);
