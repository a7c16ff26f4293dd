//! The message rules of RFC 9110/9112/9113 that hyper lets through and a
//! server must enforce, checked once before a guest sees the request: one
//! valid `Host`, no expectation we cannot meet. (Framing is hyper's: it
//! refuses bad lengths and codings, and for `Transfer-Encoding` with
//! `Content-Length` it drops the length and closes the connection after the
//! answer, as RFC 9112 §6.1 asks.)

use http::header::{EXPECT, HOST, HeaderValue};
use http::uri::Authority;
use http::{Request, StatusCode, Version};
use std::net::SocketAddr;

/// Why a request is answered by the runner instead of the guest.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// For the client's error page: short, and never more than the client sent.
    pub message: &'static str,
}

impl Refusal {
    fn bad_request(message: &'static str) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }
}

/// Checks `request`; an HTTP/1.0 request without `Host` gets this server's
/// address as its `Host`, since `wasi:http` hands every guest an authority.
pub fn check<B>(request: &mut Request<B>, local_addr: SocketAddr) -> Result<(), Refusal> {
    check_host(request, local_addr)?;
    check_expect(request)
}

/// RFC 9112 §3.2: 400 for an HTTP/1.1 request without `Host`, with more than
/// one, or with an invalid one; RFC 9113 §8.3.1: 400 when HTTP/2's
/// `:authority` and `Host` disagree.
fn check_host<B>(request: &mut Request<B>, local_addr: SocketAddr) -> Result<(), Refusal> {
    let mut hosts = request.headers().get_all(HOST).iter();
    let (host, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return Err(Refusal::bad_request(
            "A request may carry only one Host header.",
        ));
    }
    match host {
        Some(host) => {
            let host = valid_host(host).ok_or(Refusal::bad_request(
                "The Host header is not a valid host name and port.",
            ))?;
            let disagrees = request.version() == Version::HTTP_2
                && request
                    .uri()
                    .authority()
                    .is_some_and(|authority| !authority.as_str().eq_ignore_ascii_case(host));
            if disagrees {
                return Err(Refusal::bad_request(
                    "The Host header and :authority name different hosts.",
                ));
            }
        }
        None if request.uri().authority().is_some() => {}
        None if request.version() == Version::HTTP_10 => {
            let host = HeaderValue::try_from(local_addr.to_string())
                .expect("an address is a valid header");
            request.headers_mut().insert(HOST, host);
        }
        None => {
            return Err(Refusal::bad_request(
                "An HTTP/1.1 request needs a Host header.",
            ));
        }
    }
    Ok(())
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2): an authority without
/// user info, a non-empty host, and a port of at most 65535 if there is one.
pub(crate) fn valid_host(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let authority = Authority::try_from(text).ok()?;
    if text.contains('@') || authority.host().is_empty() {
        return None;
    }
    // `Authority` accepts any text after the last colon outside brackets.
    let port = match text.rfind(']') {
        Some(end) => match &text[end + 1..] {
            "" => None,
            rest => Some(rest.strip_prefix(':')?),
        },
        None => text.rsplit_once(':').map(|(_, port)| port),
    };
    let port_is_valid = |port: &str| {
        port.is_empty()
            || (port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok())
    };
    port.is_none_or(port_is_valid).then_some(text)
}

/// RFC 9110 §10.1.1: the only expectation there is, is `100-continue`;
/// hyper ignores any other, and a server should answer 417.
fn check_expect<B>(request: &Request<B>) -> Result<(), Refusal> {
    let mut expectations = request.headers().get_all(EXPECT).iter();
    let unmet = expectations.any(|value| !value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if unmet {
        return Err(Refusal {
            status: StatusCode::EXPECTATION_FAILED,
            message: "The only expectation this server meets is 100-continue.",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "127.0.0.1:8080";

    fn request(version: Version, target: &str, headers: &[(&str, &[u8])]) -> Request<()> {
        let mut builder = Request::builder().version(version).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_bytes(value).unwrap());
        }
        builder.body(()).unwrap()
    }

    fn checked(mut request: Request<()>) -> Result<Request<()>, StatusCode> {
        check(&mut request, LOCAL.parse().unwrap())
            .map(|()| request)
            .map_err(|refusal| refusal.status)
    }

    fn with_host(host: &[u8]) -> Result<Request<()>, StatusCode> {
        checked(request(Version::HTTP_11, "/", &[("host", host)]))
    }

    #[test]
    fn valid_hosts_pass() {
        for host in [
            &b"example.com"[..],
            b"example.com:8080",
            b"127.0.0.1:1",
            b"[::1]",
            b"[::1]:65535",
            b"xn--bcher-kva.example",
            b"a-b.c_d~e",
            b"example.com:",
        ] {
            assert!(
                with_host(host).is_ok(),
                "{:?}",
                String::from_utf8_lossy(host)
            );
        }
    }

    #[test]
    fn invalid_hosts_are_400() {
        for host in [
            &b""[..],
            b"bad host",
            b"user@example.com",
            b"example.com:http",
            b"example.com:65536",
            b"example.com:1:2",
            b"[::1",
            b"[::1]x",
            b"ex\xc3\xa4mple.com",
            b"example.com/path",
            b":8080",
        ] {
            assert_eq!(
                with_host(host).err(),
                Some(StatusCode::BAD_REQUEST),
                "{:?}",
                String::from_utf8_lossy(host)
            );
        }
    }

    #[test]
    fn two_host_lines_are_400_even_when_equal() {
        let request = request(Version::HTTP_11, "/", &[("host", b"a"), ("host", b"a")]);
        assert_eq!(checked(request).err(), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn a_missing_host_is_400_in_http_1_1_and_filled_in_for_http_1_0() {
        let missing = request(Version::HTTP_11, "/", &[]);
        assert_eq!(checked(missing).err(), Some(StatusCode::BAD_REQUEST));
        let old = checked(request(Version::HTTP_10, "/", &[])).unwrap();
        assert_eq!(old.headers()[HOST], LOCAL);
    }

    #[test]
    fn an_absolute_target_needs_no_host_but_a_given_one_must_be_valid() {
        let absolute = request(Version::HTTP_11, "http://example.com/", &[]);
        assert!(checked(absolute).is_ok());
        // RFC 9112 §3.2.2: the target's authority wins over a different Host.
        let other = request(Version::HTTP_11, "http://example.com/", &[("host", b"b")]);
        assert!(checked(other).is_ok());
        let bad = request(Version::HTTP_11, "http://example.com/", &[("host", b"a b")]);
        assert_eq!(checked(bad).err(), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn http2_authority_and_host_must_agree() {
        let same = request(
            Version::HTTP_2,
            "https://Example.com/",
            &[("host", b"example.com")],
        );
        assert!(checked(same).is_ok());
        let differ = request(
            Version::HTTP_2,
            "https://example.com/",
            &[("host", b"other")],
        );
        assert_eq!(checked(differ).err(), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn only_100_continue_is_expected() {
        let fine = request(
            Version::HTTP_11,
            "/",
            &[("host", b"a"), ("expect", b"100-Continue")],
        );
        assert!(checked(fine).is_ok());
        let other = request(
            Version::HTTP_11,
            "/",
            &[("host", b"a"), ("expect", b"magic")],
        );
        assert_eq!(checked(other).err(), Some(StatusCode::EXPECTATION_FAILED));
    }
}
