//! A test guest on sitebox's heap: each path takes a wasi-libc path that
//! frees memory the host handed in, then checks the heap is still sound.
//! - `/env?NAME` answers the variable's value, read with `std::env::var`
//!   (wasi-libc builds `environ` from the host's list);
//! - `/dir?PATH` answers the sorted names in the preopened directory PATH and
//!   the total size of its files, read with `std::fs` (wasi-libc's `readdir`);
//! - `/headers` answers the total length of the request's header values
//!   (host strings, as large as the client sends).
//!
//! Every answer ends with the result of `heap_check`; a corrupted heap traps
//! (dlmalloc aborts on a pointer it never issued) or fails that check.

#[path = "../../../../src/arena.rs"]
#[allow(dead_code)]
mod arena;

use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

global_arena!(HEAP, 256 << 10);

struct HeapGuest;

impl wasi::exports::http::incoming_handler::Guest for HeapGuest {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let text = match path {
            "/env" => std::env::var(query).unwrap_or_else(|error| format!("({error})")),
            "/dir" => list(query),
            "/headers" => {
                let entries = request.headers().entries();
                let total: usize = entries.iter().map(|(_, value)| value.len()).sum();
                total.to_string()
            }
            _ => "ok".to_owned(),
        };
        let answer = format!("{text}\n{}", heap_check());
        respond(response_out, answer.as_bytes());
    }
}

fn list(dir: &str) -> String {
    let mut names = Vec::new();
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("the directory is preopened") {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        if metadata.is_file() {
            total += std::fs::read(entry.path()).unwrap().len();
        }
        names.push(entry.file_name().into_string().unwrap());
    }
    names.sort();
    format!("{} {total}", names.join(","))
}

/// Blocks from malloc (too large for the arena) and the arena, written with
/// a pattern, half of them freed and allocated again, then all read back:
/// blocks that overlap, or a free list dlmalloc no longer trusts, show here.
fn heap_check() -> &'static str {
    let mut blocks: Vec<Vec<u8>> = (0..32)
        .map(|i| vec![i as u8; if i % 2 == 0 { 300 << 10 } else { 1 << 10 }])
        .collect();
    for i in (0..32).step_by(3) {
        blocks[i] = Vec::new();
    }
    for i in (0..32).step_by(3) {
        blocks[i] = vec![i as u8; 200 << 10];
    }
    let sound = blocks
        .iter()
        .enumerate()
        .all(|(i, block)| block.iter().all(|&byte| byte == i as u8));
    if sound { "heap ok" } else { "heap CORRUPT" }
}

fn respond(response_out: ResponseOutparam, text: &[u8]) {
    let headers = Fields::new();
    headers
        .set("content-length", &[text.len().to_string().into_bytes()])
        .unwrap();
    let response = OutgoingResponse::new(headers);
    let body = response.body().unwrap();
    ResponseOutparam::set(response_out, Ok(response));
    let stream = body.write().unwrap();
    for chunk in text.chunks(4096) {
        stream.blocking_write_and_flush(chunk).unwrap();
    }
    drop(stream);
    OutgoingBody::finish(body, None).unwrap();
}

wasi::http::proxy::export!(HeapGuest);
