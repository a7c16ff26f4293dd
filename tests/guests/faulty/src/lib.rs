//! A test guest that fails on purpose: `/trap` panics (a wasm trap) before
//! answering, `/trap-mid-body` panics after sending half a body, `/alloc`
//! grows memory until it cannot; anything else answers 200 "ok".

use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Faulty;

impl wasi::exports::http::incoming_handler::Guest for Faulty {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        match path.as_str() {
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
            _ => {
                let body = respond(response_out, 200, Some(2));
                let stream = body.write().unwrap();
                stream.blocking_write_and_flush(b"ok").unwrap();
                drop(stream);
                OutgoingBody::finish(body, None).unwrap();
            }
        }
    }
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
