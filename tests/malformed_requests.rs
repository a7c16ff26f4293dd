//! Malformed HTTP/1.1 over a raw socket: every answer is a 4xx (or 501 for
//! a method nobody knows, or a closed connection), never another 5xx, and
//! the runner keeps answering normal requests throughout — a fixed matrix
//! of what RFC 9110/9112 say to reject, then a bounded, seeded mutation
//! loop over a valid request.

use sitebox_tests as support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;
use support::TestSite;

fn runner() -> SocketAddr {
    static RUNNER: OnceLock<(TestSite, SocketAddr)> = OnceLock::new();
    support::runner_once(&RUNNER, TestSite::new, |defaults| defaults)
}

/// What came back for one connection: the status of each response in
/// order (a pipelined request gets several), then the server closed it.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u16> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may close before it has read everything (it refused the
    // head): then the rest of the write fails, which is fine.
    let _ = stream.write_all(request);
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    let read = stream.read_to_end(&mut reply);
    // A reset after a refusal is a closed connection too.
    if let Err(error) = read {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset,
            "no answer to {:?}",
            String::from_utf8_lossy(request)
        );
    }
    statuses(&reply, request)
}

/// The statuses of the responses in `reply`, each body skipped by its
/// `Content-Length`.
fn statuses(mut reply: &[u8], request: &[u8]) -> Vec<u16> {
    let context = || {
        format!(
            "request {:?}, reply {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(reply)
        )
    };
    let mut found = Vec::new();
    while !reply.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(reply) {
            Ok(httparse::Status::Complete(len)) => len,
            _ => panic!("not an HTTP response: {}", context()),
        };
        let status = response.code.unwrap();
        let length = response
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case("content-length"))
            .map(|header| {
                std::str::from_utf8(header.value)
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            });
        let chunked = response
            .headers
            .iter()
            .any(|header| header.name.eq_ignore_ascii_case("transfer-encoding"));
        assert!(!chunked, "a chunked answer: {}", context());
        found.push(status);
        let body = if status == 304 || status == 204 || status < 200 {
            0
        } else {
            length.unwrap_or(0)
        };
        reply = &reply[(head_len + body).min(reply.len())..];
    }
    found
}

/// One request that must be refused with exactly `status`.
fn assert_refused(addr: SocketAddr, request: &str, status: u16) {
    let answers = exchange(addr, request.as_bytes());
    assert_eq!(answers, [status], "{request:?}");
}

fn assert_still_serving(addr: SocketAddr) {
    let answers = exchange(addr, b"GET /index.css HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(answers, [200], "a normal request after the malformed ones");
}

/// Each answer is a 4xx or 501 (or nothing: the connection closed).
fn assert_client_errors(answers: &[u16], request: &[u8]) {
    for &status in answers {
        let acceptable = status < 500 || status == 501;
        assert!(
            acceptable,
            "{status} for {:?}",
            String::from_utf8_lossy(request)
        );
    }
}

#[test]
fn host_rules_of_rfc_9112_are_400() {
    let addr = runner();
    for request in [
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com:http\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com:99999\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: \r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
    ] {
        assert_refused(addr, request, 400);
    }
    assert_still_serving(addr);
}

/// A byte the host cannot hand to the guest as text was a 500 ("failed to
/// convert header to a str") before the host checked it.
#[test]
fn a_non_ascii_host_is_400_not_500() {
    let addr = runner();
    let answers = exchange(addr, b"GET / HTTP/1.1\r\nHost: ex\xc3\xa4mple.com\r\n\r\n");
    assert_eq!(answers, [400]);
    let answers = exchange(addr, b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n");
    assert_eq!(answers, [400]);
    assert_still_serving(addr);
}

#[test]
fn framing_that_could_smuggle_a_request_is_refused_or_closes_the_connection() {
    let addr = runner();
    // Transfer-Encoding with Content-Length, in either order: the body is
    // read chunked (RFC 9112 §6.3), the board refuses the post (no form
    // type), and the connection closes (§6.1), so what a front end that
    // trusted the length would take for the next request is never served.
    for smuggled in [
        "POST /board HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n\
         0\r\n\r\nGET /index.css HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /board HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n\
         0\r\n\r\nGET /index.css HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let answers = exchange(addr, smuggled.as_bytes());
        assert_eq!(answers.len(), 1, "{answers:?} for {smuggled:?}");
        assert!(
            (400..500).contains(&answers[0]),
            "{answers:?} for {smuggled:?}"
        );
    }
    for request in [
        "POST /board HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /board HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /board HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST /board HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "POST /board HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST /board HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
        "POST /board HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    ] {
        assert_refused(addr, request, 400);
    }
    assert_still_serving(addr);
}

#[test]
fn bad_chunked_bodies_are_refused() {
    let addr = runner();
    for body in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
    ] {
        let request = format!(
            "POST /api/messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}"
        );
        let answers = exchange(addr, request.as_bytes());
        assert_client_errors(&answers, request.as_bytes());
        assert!(
            answers.iter().all(|status| (400..500).contains(status)),
            "{answers:?} for {request:?}"
        );
    }
    assert_still_serving(addr);
}

#[test]
fn an_expectation_other_than_100_continue_is_417() {
    let addr = runner();
    assert_refused(
        addr,
        "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n",
        417,
    );
    let answers = exchange(
        addr,
        b"GET /index.css HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(answers.last(), Some(&200));
}

#[test]
fn malformed_request_lines_and_header_blocks_are_4xx() {
    let addr = runner();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(1 << 20));
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        (0..500)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    let mut cases: Vec<Vec<u8>> = [
        "\x00\x01\x02garbage\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        "GET / http/1.1\r\nHost: a\r\n\r\n",
        "GET / FTP/1.1\r\nHost: a\r\n\r\n",
        "G\x7fT / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Y: v\x00w\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Y: v\x01w\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX Y: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Y : v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\n\n\x00",
        "GET http://[bad/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET ftp:// HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET //../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: !!\r\n\r\n",
    ]
    .iter()
    .map(|case| case.as_bytes().to_vec())
    .collect();
    cases.extend([long_target, long_header, many_headers].map(String::into_bytes));
    cases.push(b"GET / HTTP/1.1\r\nHost: a\r\nX-Bin: \xc0\xff\r\n\r\n".to_vec());
    for request in &cases {
        let answers = exchange(addr, request);
        assert_client_errors(&answers, request);
    }
    assert_still_serving(addr);
}

#[test]
fn targets_in_absolute_and_asterisk_form_are_answered_sensibly() {
    let addr = runner();
    let absolute = exchange(
        addr,
        b"GET http://example.com/index.css HTTP/1.1\r\nHost: other.example\r\n\r\n",
    );
    assert_eq!(absolute, [200]);
    let star = exchange(addr, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_client_errors(&star, b"OPTIONS *");
    assert_eq!(star.len(), 1);
    let star_get = exchange(addr, b"GET * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_client_errors(&star_get, b"GET *");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let addr = runner();
    let pipelined = b"GET /index.css HTTP/1.1\r\nHost: a\r\n\r\n\
                      GET /no-such-file HTTP/1.1\r\nHost: a\r\n\r\n\
                      GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(exchange(addr, pipelined), [200, 404, 200]);
    let bad_in_the_middle = b"GET /index.css HTTP/1.1\r\nHost: a\r\n\r\n\
                              GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n\
                              GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    // The refusal closes the connection: the third is never answered.
    assert_eq!(exchange(addr, bad_in_the_middle), [200, 400]);
}

/// A small deterministic generator (xorshift64*), so a failure names a seed
/// that reproduces it.
struct Mutations(u64);

impl Mutations {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Flips, inserts, deletes or duplicates bytes of `request`, 1–4 times.
    fn mutate(&mut self, request: &[u8]) -> Vec<u8> {
        const INTERESTING: &[u8] = b"\x00\r\n :\t\x7f\xff/%?#@\"";
        let mut bytes = request.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(bytes.len().max(1));
            let byte = if self.below(2) == 0 {
                INTERESTING[self.below(INTERESTING.len())]
            } else {
                self.next() as u8
            };
            match self.below(4) {
                0 if !bytes.is_empty() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 if !bytes.is_empty() => {
                    bytes.remove(at);
                }
                _ => {
                    let end = (at + 1 + self.below(16)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
            }
        }
        bytes
    }
}

#[test]
fn mutated_requests_never_get_a_5xx_and_the_server_keeps_serving() {
    let addr = runner();
    let valid = b"POST /api/messages?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n\
                  Content-Type: application/json\r\nOrigin: http://localhost:8080\r\n\
                  Content-Length: 16\r\nRange: bytes=0-1\r\nIf-None-Match: \"a\"\r\n\r\n\
                  {\"text\":\"hi!!\"}";
    let get =
        b"GET /index.css?v=1 HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip;q=0.5, br\r\n\
                Range: bytes=0-9\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n";
    let mut mutations = Mutations(0x5173_b0c5);
    let (mut served, mut refused) = (0, 0);
    for round in 0..400 {
        let base: &[u8] = if round % 2 == 0 { valid } else { get };
        let request = mutations.mutate(base);
        let answers = exchange(addr, &request);
        assert_client_errors(&answers, &request);
        served += answers.iter().filter(|status| **status < 400).count();
        refused += answers.iter().filter(|status| **status >= 400).count();
        if round % 50 == 49 {
            assert_still_serving(addr);
        }
    }
    // The mutations reach both the guest and the parser's refusals.
    assert!(
        served >= 40 && refused >= 40,
        "{served} served, {refused} refused"
    );
    assert_still_serving(addr);
}
