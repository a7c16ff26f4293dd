//! What a write to the board must be, for the HTML form and the JSON API
//! alike: message limits, body size, content types, the query, and refusing
//! writes from other sites.

use crate::error::Error;
use crate::http::body::{BodyError, RequestBody};
use crate::http::percent::{self, DecodeError};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ORIGIN};
use http::request::Parts;
use http::{HeaderMap, Uri};
use icu_properties::CodePointSetData;
use icu_properties::props::DefaultIgnorableCodePoint;
use std::borrow::Cow;

pub const MAX_MESSAGE_CHARS: usize = 4000;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const PAGE_SIZE: usize = 50;
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A message must have something visible (besides whitespace and
/// invisible, default-ignorable characters such as U+200B), no control
/// characters but tab and line breaks, and at most 4,000 characters,
/// counted as a browser's `maxlength` counts them (a line break is one).
pub fn check_message(text: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(Error::BadRequest("The message is empty.".to_owned()));
    }
    let invisible = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    if text
        .chars()
        .all(|c| c.is_whitespace() || invisible.contains(c))
    {
        return Err(Error::BadRequest(
            "The message has only invisible characters (such as zero-width spaces).".to_owned(),
        ));
    }
    // NUL, ESC and the rest would go raw into the board: terminal escapes
    // for anyone reading it with curl.
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    {
        return Err(Error::BadRequest(
            "The message has control characters; only tabs and line breaks are allowed.".to_owned(),
        ));
    }
    let length = text.chars().count() - text.matches("\r\n").count();
    if length > MAX_MESSAGE_CHARS {
        return Err(Error::PayloadTooLarge(format!(
            "The message has {length} characters; at most {MAX_MESSAGE_CHARS} are allowed."
        )));
    }
    Ok(())
}

/// Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`);
/// anything but this very site may not change the board. Clients that say
/// nothing (curl, scripts) are not browsers being tricked, so they pass.
/// When the host does not say which origin this is (no authority in the
/// target: wasmtime's wasi:http 0.3 host passes neither one nor `Host`), an
/// `Origin` cannot be compared, and only the browser's own `Sec-Fetch-Site`
/// (which page script cannot set) vouches for the request.
pub fn check_same_origin(parts: &Parts) -> Result<(), Error> {
    const REFUSED: &str = "Requests from other sites may not change the board.";
    const UNVERIFIABLE: &str = "Requests from other sites may not change the board, and this \
        server cannot tell its own address: a browser's change must be marked same-origin \
        (Sec-Fetch-Site, sent over HTTPS and to localhost).";
    let fetch_site = parts.headers.get("sec-fetch-site");
    if let Some(site) = fetch_site
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(Error::Forbidden(REFUSED));
    }
    let Some(origin) = parts.headers.get(ORIGIN) else {
        return Ok(());
    };
    if parts.uri.authority().is_none() {
        // A `Sec-Fetch-Site` here was found same-origin (or the user's own) above.
        return match fetch_site {
            Some(_) => Ok(()),
            None => Err(Error::Forbidden(UNVERIFIABLE)),
        };
    }
    let origin = origin.to_str().ok().and_then(|o| o.parse::<Uri>().ok());
    if origin.is_some_and(|origin| same_origin(&origin, &parts.uri)) {
        Ok(())
    } else {
        Err(Error::Forbidden(REFUSED))
    }
}

/// Scheme, host and port equal, ports defaulted by scheme.
fn same_origin(a: &Uri, b: &Uri) -> bool {
    fn parts(uri: &Uri) -> Option<(&str, String, u16)> {
        let scheme = uri.scheme_str()?;
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = uri.host()?.to_ascii_lowercase();
        Some((scheme, host, uri.port_u16().unwrap_or(default_port)))
    }
    parts(a).is_some_and(|a| parts(b) == Some(a))
}

pub fn check_content_type(
    headers: &HeaderMap,
    expected: &str,
    refusal: &'static str,
) -> Result<(), Error> {
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if essence.is_some_and(|essence| essence.eq_ignore_ascii_case(expected)) {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType(refusal))
    }
}

/// The body, refused with 413 past 64 KiB (before reading, when
/// `Content-Length` already says so).
pub fn read_body<B: RequestBody>(headers: &HeaderMap, body: B) -> Result<Vec<u8>, Error> {
    let too_large = || Error::PayloadTooLarge("The request body is over 64 KiB.".to_owned());
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    body.read_to_end(MAX_BODY_BYTES)
        .map_err(|error| match error {
            BodyError::TooLarge => too_large(),
            BodyError::Io(detail) => {
                Error::BadRequest(format!("The request body could not be read: {detail}."))
            }
        })
}

/// `application/x-www-form-urlencoded` pairs, decoded strictly: a malformed
/// escape or bytes that are not UTF-8 are a 400, not a replacement character.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    // Split as `form_urlencoded::parse` does (the fuzz target `form` checks
    // they agree), but decode each name and value once, strictly: the crate
    // decodes lossily, so a bad escape or bad UTF-8 would pass unnoticed.
    body.split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode_field(name)?, decode_field(value)?))
        })
        .collect()
}

/// One form name or value: `+` is a space, then strict percent-decoding.
fn decode_field(raw: &[u8]) -> Result<String, Error> {
    let spaced: Cow<[u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let decoded = percent::decode_strict(&spaced).map_err(|error| {
        Error::BadRequest(match error {
            DecodeError::BadEscape => "The data has a malformed %-escape.".to_owned(),
            DecodeError::NotUtf8 => "The data is not valid UTF-8.".to_owned(),
        })
    })?;
    Ok(decoded.into_owned())
}

/// A message's id as written in a URL or a form: digits only, without
/// leading zeros (one id, one URL: `+1` and `0001` named message 1).
pub fn message_id(text: &str) -> Option<u64> {
    let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical.then(|| text.parse().ok()).flatten()
}

/// The board's query parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Show messages with ids below this one.
    pub before: Option<u64>,
    pub limit: Option<usize>,
}

impl Query {
    /// `before` and `limit` from the query; other parameters, even malformed
    /// ones (a tracker's `?x=%ff`), are not the board's business.
    pub fn parse(uri: &Uri) -> Result<Query, Error> {
        let mut query = Query::default();
        for pair in uri.query().unwrap_or("").split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Ok(name) = decode_field(name.as_bytes()) else {
                continue;
            };
            if !matches!(name.as_str(), "before" | "limit") {
                continue;
            }
            let value = decode_field(value.as_bytes())?;
            let number = || {
                value.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::BadRequest(format!("`{name}` must be a positive whole number."))
                })
            };
            match name.as_str() {
                "before" => query.before = Some(number()?),
                "limit" => query.limit = Some(number()?.try_into().unwrap_or(usize::MAX)),
                _ => {}
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Issue 32: an unrelated malformed parameter made the board 400.
    #[test]
    fn the_query_is_read_for_before_and_limit_alone() {
        let query = |target: &str| Query::parse(&target.parse::<Uri>().unwrap());
        let read = query("/board?x=%ff&before=7&%zz=1&limit=%32").unwrap();
        assert_eq!((read.before, read.limit), (Some(7), Some(2)));
        for bad in ["/board?before=%zz", "/board?limit=x", "/board?before=0"] {
            assert!(matches!(query(bad), Err(Error::BadRequest(_))), "{bad}");
        }
    }

    /// Issue 32: control characters were stored and sent raw; a CRLF
    /// counted as two characters, so a browser's full textarea was refused.
    #[test]
    fn messages_hold_no_controls_and_count_a_line_break_once() {
        for text in ["a\0b", "\x1b[2J", "a\u{7f}", "a\u{9b}31m"] {
            assert!(
                matches!(check_message(text), Err(Error::BadRequest(_))),
                "{text:?}"
            );
        }
        assert!(check_message("tab\tand\r\nlines\n").is_ok());
        let browser_full = format!(
            "{}{}",
            "a\r\n".repeat(9),
            "a".repeat(MAX_MESSAGE_CHARS - 18)
        );
        assert!(check_message(&browser_full).is_ok());
        let over = format!("{browser_full}a");
        assert!(matches!(
            check_message(&over),
            Err(Error::PayloadTooLarge(_))
        ));
    }

    /// Issue 32: a message of invisible characters alone was accepted,
    /// though a whitespace-only one is refused.
    #[test]
    fn a_message_needs_something_visible() {
        for text in [
            "\u{200B}",
            "\u{FEFF}",
            " \u{200E}\n",
            "\u{2060}\u{00AD}",
            "\u{FE0F}",
        ] {
            assert!(
                matches!(check_message(text), Err(Error::BadRequest(_))),
                "{text:?}"
            );
        }
        for text in ["a\u{200B}b", "\u{200E}שלום", "👍\u{FE0F}"] {
            assert!(check_message(text).is_ok(), "{text:?}");
        }
    }

    /// Issue 34: wasmtime serve's wasi:http 0.3 host gives the request no
    /// authority (and drops `Host`), so the origin is unknown; a browser's
    /// own post (`Origin` and `Sec-Fetch-Site: same-origin`) was refused,
    /// and an `Origin` alone must still be.
    #[test]
    fn without_its_own_origin_only_sec_fetch_site_vouches() {
        let check = |headers: &[(&str, &str)]| {
            let mut request = http::Request::builder().method("POST").uri("/board");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            check_same_origin(&request.body(()).unwrap().into_parts().0)
        };
        let own = ("origin", "http://127.0.0.1:8080");
        let allowed: [&[(&str, &str)]; 4] = [
            &[],
            &[own, ("sec-fetch-site", "same-origin")],
            &[("sec-fetch-site", "same-origin")],
            &[own, ("sec-fetch-site", "none")],
        ];
        for headers in allowed {
            assert!(check(headers).is_ok(), "{headers:?}");
        }
        let refused: [&[(&str, &str)]; 5] = [
            &[own],
            &[("origin", "null")],
            &[
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            &[("sec-fetch-site", "same-site")],
            &[
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "same-site"),
            ],
        ];
        for headers in refused {
            let error = check(headers).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::FORBIDDEN, "{headers:?}");
            assert!(
                error.public_message().contains("other sites"),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn forms_decode_strictly() {
        let fields = parse_form(b"message=Hello+there%21&&clear&x=a=b").unwrap();
        let expected = [("message", "Hello there!"), ("clear", ""), ("x", "a=b")];
        let expected: Vec<_> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(fields, expected);
        for bad in [&b"message=%zz"[..], b"message=%ff", b"%c3%28=x", b"a=100%"] {
            let error = parse_form(bad).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        }
    }

    proptest! {
        /// What decodes strictly is what the lenient crate makes of it.
        #[test]
        fn strict_parsing_agrees_with_form_urlencoded(
            body in proptest::collection::vec(
                prop::sample::select(&b"ab=&+%20fFzC3A9\xc3\xa9\xff "[..]), 0..40)
        ) {
            if let Ok(fields) = parse_form(&body) {
                let lenient: Vec<(String, String)> =
                    form_urlencoded::parse(&body).into_owned().collect();
                prop_assert_eq!(fields, lenient);
            }
        }
    }
}
