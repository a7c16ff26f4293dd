//! The message board's HTML flow (`/board`, `/board/clear`) and the rules it
//! shares with the JSON API: message limits, body size, content types, and
//! refusing writes from other sites.

use crate::body::{BodyError, RequestBody};
use crate::error::Error;
use crate::html;
use crate::percent::{self, DecodeError};
use crate::response::{self, Response};
use crate::store::Store;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, ORIGIN};
use http::request::Parts;
use http::{HeaderMap, StatusCode, Uri};
use jiff::Timestamp;

pub const MAX_MESSAGE_CHARS: usize = 4000;
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const PAGE_SIZE: usize = 50;
pub const FORM: &str = "application/x-www-form-urlencoded";

/// `GET /board[?before=ID]`: the newest messages (or those before `ID`).
pub fn show<S: Store, F>(store: &S, uri: &Uri) -> Result<Response<F>, Error> {
    let before = Query::parse(uri)?.before;
    let page = store.page(before, PAGE_SIZE)?;
    let page = html::board_page(&page, before.is_some(), None, "");
    Ok(response::html(StatusCode::OK, page))
}

/// `POST /board`: saves `message` (or clears the board when the form has a
/// `clear` field), then sends the browser back to the board with a 303, so a
/// reload never posts again. `now` is the message's time.
pub fn post<S: Store, F, B: RequestBody>(
    store: &S,
    parts: &Parts,
    body: B,
    now: Timestamp,
) -> Result<Response<F>, Error> {
    check_same_origin(parts)?;
    check_content_type(
        &parts.headers,
        FORM,
        "Send the form as application/x-www-form-urlencoded.",
    )?;
    let body = read_body(&parts.headers, body)?;
    let fields = parse_form(&body)?;
    if fields.iter().any(|(name, _)| name == "clear") {
        store.clear()?;
        return Ok(see_the_board());
    }
    let text = fields
        .into_iter()
        .find_map(|(name, value)| (name == "message").then_some(value))
        .ok_or_else(|| Error::BadRequest("The form has no message field.".to_owned()))?;
    if let Err(error) = check_message(&text) {
        // Show the board again with what went wrong and the text kept.
        let page = store.page(None, PAGE_SIZE)?;
        let notice = error.public_message();
        let page = html::board_page(&page, false, Some(&notice), &text);
        return Ok(response::html(error.status(), page));
    }
    store.append(&text, now)?;
    Ok(see_the_board())
}

/// `POST /board/clear`: the "Clear Messages" button.
pub fn clear<S: Store, F>(store: &S, parts: &Parts) -> Result<Response<F>, Error> {
    check_same_origin(parts)?;
    store.clear()?;
    Ok(see_the_board())
}

fn see_the_board<F>() -> Response<F> {
    let mut response = response::empty(StatusCode::SEE_OTHER);
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/board"));
    response
}

/// A message must have something besides whitespace and at most 4,000
/// characters.
pub fn check_message(text: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(Error::BadRequest("The message is empty.".to_owned()));
    }
    let length = text.chars().count();
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
pub fn check_same_origin(parts: &Parts) -> Result<(), Error> {
    const REFUSED: &str = "Requests from other sites may not change the board.";
    if let Some(site) = parts.headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(Error::Forbidden(REFUSED));
    }
    if let Some(origin) = parts.headers.get(ORIGIN) {
        let origin = origin.to_str().ok().and_then(|o| o.parse::<Uri>().ok());
        if !origin.is_some_and(|origin| same_origin(&origin, &parts.uri)) {
            return Err(Error::Forbidden(REFUSED));
        }
    }
    Ok(())
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
    // `form_urlencoded` decodes lossily, so check first. Decoding the whole
    // body at once is enough: `&` and `=` are ASCII, so an invalid byte
    // sequence inside one field cannot become valid across a separator.
    percent::decode_strict(body).map_err(|error| {
        Error::BadRequest(match error {
            DecodeError::BadEscape => "The data has a malformed %-escape.".to_owned(),
            DecodeError::NotUtf8 => "The data is not valid UTF-8.".to_owned(),
        })
    })?;
    Ok(form_urlencoded::parse(body).into_owned().collect())
}

/// The board's query parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Show messages with ids below this one.
    pub before: Option<u64>,
    pub limit: Option<usize>,
}

impl Query {
    pub fn parse(uri: &Uri) -> Result<Query, Error> {
        let mut query = Query::default();
        for (name, value) in parse_form(uri.query().unwrap_or("").as_bytes())? {
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
    use crate::store::{MemoryStore, Store};
    use http::Request;

    fn parts(method: &str, target: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().method(method).uri(target);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn form_post(
        store: &MemoryStore,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response<()>, Error> {
        let mut all = vec![("content-type", FORM)];
        all.extend_from_slice(headers);
        post(
            store,
            &parts("POST", "http://site.test/board", &all),
            body.as_bytes().to_vec(),
            Timestamp::now(),
        )
    }

    fn texts(store: &MemoryStore) -> Vec<String> {
        store
            .page(None, 100)
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    #[test]
    fn a_post_is_stored_and_redirects_to_the_board() {
        let store = MemoryStore::default();
        let response = form_post(&store, "message=Hello+there%21%0D%0ASecond+line", &[]).unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/board");
        assert_eq!(texts(&store), ["Hello there!\r\nSecond line"]);
    }

    #[test]
    fn clear_by_field_or_by_button() {
        let store = MemoryStore::default();
        form_post(&store, "message=one", &[]).unwrap();
        let response = form_post(&store, "clear=1", &[]).unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(texts(&store).is_empty());
        form_post(&store, "message=two", &[]).unwrap();
        clear::<_, ()>(&store, &parts("POST", "http://site.test/board/clear", &[])).unwrap();
        assert!(texts(&store).is_empty());
    }

    #[test]
    fn empty_and_oversized_messages_keep_the_text_and_store_nothing() {
        let store = MemoryStore::default();
        let empty = form_post(&store, "message=+%20%0A%09", &[]).unwrap();
        assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        let too_long = form_post(&store, &format!("message={long}"), &[]).unwrap();
        assert_eq!(too_long.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(texts(&store).is_empty());
        let exactly = "é".repeat(MAX_MESSAGE_CHARS);
        form_post(&store, &format!("message={exactly}"), &[]).unwrap();
        assert_eq!(texts(&store), [exactly]);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let store = MemoryStore::default();
        let status = |body: &str, headers: &[(&str, &str)]| {
            form_post(&store, body, headers).unwrap_err().status()
        };
        assert_eq!(status("message=%zz", &[]), StatusCode::BAD_REQUEST);
        assert_eq!(status("message=%ff%fe", &[]), StatusCode::BAD_REQUEST);
        assert_eq!(status("other=1", &[]), StatusCode::BAD_REQUEST);
        let huge = format!("message={}", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(status(&huge, &[]), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            status("message=x", &[("content-length", "70000")]),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let wrong_type = post::<_, (), _>(
            &store,
            &parts("POST", "/board", &[("content-type", "text/plain")]),
            b"message=x".to_vec(),
            Timestamp::now(),
        );
        assert_eq!(
            wrong_type.unwrap_err().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let no_type = post::<_, (), _>(
            &store,
            &parts("POST", "/board", &[]),
            b"message=x".to_vec(),
            Timestamp::now(),
        );
        assert_eq!(
            no_type.unwrap_err().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert!(texts(&store).is_empty());
    }

    #[test]
    fn charset_parameters_and_case_are_accepted() {
        let store = MemoryStore::default();
        let headers = [(
            "content-type",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        )];
        post::<_, (), _>(
            &store,
            &parts("POST", "http://site.test/board", &headers),
            b"message=ok".to_vec(),
            Timestamp::now(),
        )
        .unwrap();
        assert_eq!(texts(&store), ["ok"]);
    }

    #[test]
    fn cross_site_writes_are_forbidden() {
        let store = MemoryStore::default();
        let forbidden = [
            vec![("origin", "http://evil.test")],
            vec![("origin", "https://site.test")],
            vec![("origin", "http://site.test:8080")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![
                ("origin", "http://site.test"),
                ("sec-fetch-site", "cross-site"),
            ],
        ];
        for headers in forbidden {
            let error = form_post(&store, "message=x", &headers).unwrap_err();
            assert_eq!(error.status(), StatusCode::FORBIDDEN, "{headers:?}");
        }
        let allowed = [
            vec![],
            vec![("origin", "http://site.test")],
            vec![("origin", "http://SITE.test:80")],
            vec![
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://site.test"),
            ],
            vec![("sec-fetch-site", "none")],
        ];
        for headers in &allowed {
            form_post(&store, "message=x", headers).unwrap();
        }
        assert_eq!(texts(&store).len(), allowed.len());
    }

    #[test]
    fn the_page_lists_messages_and_links_older_ones() {
        let store = MemoryStore::default();
        for i in 1..=60 {
            store
                .append(&format!("message {i}"), Timestamp::now())
                .unwrap();
        }
        let page = show::<_, ()>(&store, &"/board".parse().unwrap()).unwrap();
        let crate::response::Body::Bytes(html) = page.into_body() else {
            panic!()
        };
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains("message 60") && html.contains("message 11"));
        assert!(!html.contains("message 10<"));
        assert!(html.contains("href=\"/board?before=11\""));
        assert_eq!(
            Query::parse(&"/board?before=0".parse().unwrap())
                .unwrap_err()
                .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Query::parse(&"/board?before=x".parse().unwrap())
                .unwrap_err()
                .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Query::parse(&"/board?before=5&utm=1".parse().unwrap())
                .unwrap()
                .before,
            Some(5)
        );
    }
}
