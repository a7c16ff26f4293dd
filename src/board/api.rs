//! The board's JSON API under `/api/messages`: list, create, read one,
//! delete one, clear.
//! Errors are JSON as well: `{"error": "..."}` with the matching status.

use crate::board::admin::Admin;
use crate::board::api_error;
use crate::board::submission::{self, MAX_BODY_BYTES, PAGE_SIZE, Query};
use crate::error::{Challenge, Error};
use crate::http::body::RequestBody;
use crate::http::response::{self, Body, Response};
use crate::store::idempotency::{self, Scope, Submission};
use crate::store::{Message, Store};
use http::header::{HeaderValue, LINK, LOCATION};
use http::request::Parts;
use http::{StatusCode, Uri};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::board::api_error::JSON;
pub const MAX_LIMIT: usize = 200;
const PREFIX: &str = "/api/messages";

#[derive(Serialize)]
struct MessageJson<'a> {
    id: u64,
    text: &'a str,
    posted_at: Timestamp,
}

impl<'a> From<&'a Message> for MessageJson<'a> {
    fn from(message: &'a Message) -> Self {
        MessageJson {
            id: message.id,
            text: &message.text,
            posted_at: message.posted_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    text: String,
}

/// `GET /api/messages?limit=&before=`: up to `limit` (default 50, at most
/// 200) of the newest messages with ids below `before`, oldest first; a
/// `Link: rel="next"` header points at the page before it.
pub fn list<S: Store, F>(store: &S, uri: &Uri) -> Result<Response<F>, Error> {
    let query = Query::parse(uri)?;
    let limit = query.limit.unwrap_or(PAGE_SIZE);
    if limit > MAX_LIMIT {
        return Err(Error::BadRequest(format!(
            "`limit` may be at most {MAX_LIMIT}."
        )));
    }
    let page = store.page(query.before, limit)?;
    let messages: Vec<MessageJson> = page.messages.iter().map(MessageJson::from).collect();
    let mut response = json(StatusCode::OK, &messages);
    if let (true, Some(oldest)) = (page.has_older, page.messages.first()) {
        let next = format!(
            "<{PREFIX}?before={}&limit={limit}>; rel=\"next\"",
            oldest.id
        );
        response.headers_mut().insert(LINK, header_value(next));
    }
    Ok(response)
}

/// `POST /api/messages` with `{"text": "..."}`: 201, the message, and its
/// `Location`. With an `Idempotency-Key`, a repeat answers the first 201 and
/// stores nothing (422 with another text, 409 while the first is being
/// stored). `now` is the message's time.
pub fn create<S: Store, F, B: RequestBody>(
    store: &S,
    parts: &Parts,
    body: B,
    now: Timestamp,
) -> Result<Response<F>, Error> {
    submission::check_same_origin(parts)?;
    submission::check_content_type(
        &parts.headers,
        JSON,
        "Send the message as application/json.",
    )?;
    let key = idempotency::from_header(&parts.headers)?;
    let body = submission::read_body(&parts.headers, body)?;
    debug_assert!(body.len() <= MAX_BODY_BYTES);
    // An object only: serde would also take `["x"]` for the struct.
    let new: NewMessage = serde_json::from_slice::<serde_json::Map<_, _>>(&body)
        .and_then(|object| serde_json::from_value(object.into()))
        .map_err(|error| Error::BadRequest(format!("Expected {{\"text\": \"...\"}}: {error}.")))?;
    submission::check_message(&new.text)?;
    let message = match key {
        None => store.append(&new.text, now)?,
        Some(key) => {
            let submission = Submission::new(Scope::Api, &key, &new.text);
            store
                .append_once(&submission, &new.text, now)?
                .into_result()?
        }
    };
    let mut response = json(StatusCode::CREATED, &MessageJson::from(&message));
    let location = format!("{PREFIX}/{}", message.id);
    response
        .headers_mut()
        .insert(LOCATION, header_value(location));
    Ok(response)
}

/// `GET /api/messages/{id}`.
pub fn get<S: Store, F>(store: &S, path: &str) -> Result<Response<F>, Error> {
    let message = store.get(id_in(path)?)?.ok_or(Error::NotFound)?;
    Ok(json(StatusCode::OK, &MessageJson::from(&message)))
}

/// `DELETE /api/messages/{id}`: deletes one message, for the admin: `204`,
/// or `404` if there is none (never posted, deleted already, or cleared: a
/// repeat changes nothing, RFC 9110 §9.3.5). `now` is the deletion's time.
pub fn delete<S: Store, F>(
    store: &S,
    admin: Admin,
    parts: &Parts,
    now: Timestamp,
) -> Result<Response<F>, Error> {
    submission::check_same_origin(parts)?;
    // The login first: without it, nothing is told about the id.
    admin.authorize(&parts.headers, Challenge::Api)?;
    if !store.delete(id_in(parts.uri.path())?, now)? {
        return Err(Error::NotFound);
    }
    Ok(response::empty(StatusCode::NO_CONTENT))
}

/// The id in `/api/messages/{id}`; 404 for anything else.
fn id_in(path: &str) -> Result<u64, Error> {
    path.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(submission::message_id)
        .ok_or(Error::NotFound)
}

/// `DELETE /api/messages`: clears the board, for the admin.
pub fn clear<S: Store, F>(store: &S, admin: Admin, parts: &Parts) -> Result<Response<F>, Error> {
    submission::check_same_origin(parts)?;
    admin.authorize(&parts.headers, Challenge::Api)?;
    store.clear()?;
    Ok(response::empty(StatusCode::NO_CONTENT))
}

/// An error as `{"error": "..."}` (`api_error`'s shape).
pub fn error_response<F>(error: &Error) -> Response<F> {
    let body = api_error::body(&error.public_message());
    response::with_body(
        error.status(),
        HeaderValue::from_static(JSON),
        Body::Bytes(body),
    )
}

fn json<F>(status: StatusCode, value: &impl Serialize) -> Response<F> {
    let body = serde_json::to_vec(value).expect("our JSON types always serialize");
    response::with_body(status, HeaderValue::from_static(JSON), Body::Bytes(body))
}

fn header_value(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("built from digits and constants")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use http::Request;
    use serde_json::{Value, json as j};

    fn body_json(response: Response<()>) -> Value {
        let Body::Bytes(bytes) = response.into_body() else {
            panic!("no body")
        };
        serde_json::from_slice(&bytes).unwrap()
    }

    fn post_json(
        store: &impl Store,
        content_type: &str,
        body: &str,
    ) -> Result<Response<()>, Error> {
        post_keyed(store, content_type, body, &[])
    }

    fn post_keyed(
        store: &impl Store,
        content_type: &str,
        body: &str,
        keys: &[&str],
    ) -> Result<Response<()>, Error> {
        let mut request =
            Request::post("http://site.test/api/messages").header("content-type", content_type);
        for key in keys {
            request = request.header(idempotency::HEADER, *key);
        }
        let parts = request.body(()).unwrap().into_parts().0;
        create(store, &parts, body.as_bytes().to_vec(), Timestamp::now())
    }

    #[test]
    fn a_repeat_with_the_key_answers_the_first_201() {
        let store = MemoryStore::default();
        let key = ["\"order-1\""];
        let first = post_keyed(&store, JSON, r#"{"text":"once"}"#, &key).unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let location = first.headers()[LOCATION].clone();
        let created = body_json(first);
        let again = post_keyed(&store, JSON, r#"{"text":"once"}"#, &key).unwrap();
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers()[LOCATION], location);
        assert_eq!(body_json(again), created, "the same id and time");
        // No key, or another one, posts anew.
        post_json(&store, JSON, r#"{"text":"once"}"#).unwrap();
        post_keyed(&store, JSON, r#"{"text":"once"}"#, &["\"order-2\""]).unwrap();
        assert_eq!(store.page(None, 10).unwrap().messages.len(), 3);
    }

    /// Issue 32: `["x"]` was taken for `{"text": "x"}`.
    #[test]
    fn a_message_is_an_object_with_its_text_only() {
        let store = MemoryStore::default();
        for body in [
            r#"["x"]"#,
            r#""x""#,
            r#"{"text": "x", "more": 1}"#,
            r#"{}"#,
            "[]",
        ] {
            let refused = post_json(&store, JSON, body).unwrap_err();
            assert!(
                matches!(refused, Error::BadRequest(_)),
                "{body}: {refused:?}"
            );
        }
        assert_eq!(
            post_json(&store, JSON, r#"{"text": "x"}"#)
                .unwrap()
                .status(),
            StatusCode::CREATED
        );
    }

    #[test]
    fn misused_keys_are_refused_and_store_nothing() {
        let store = MemoryStore::default();
        let key = ["\"k\""];
        post_keyed(&store, JSON, r#"{"text":"one"}"#, &key).unwrap();
        let reused = post_keyed(&store, JSON, r#"{"text":"two"}"#, &key).unwrap_err();
        assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let long = format!("\"{}\"", "k".repeat(256));
        for bad in [&["k"][..], &["\"\""], &[&long], &["\"a\"", "\"b\""]] {
            let error = post_keyed(&store, JSON, r#"{"text":"three"}"#, bad).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(body_json(error_response(&error))["error"].is_string());
        }
        // A message that fails its rules leaves the key unused.
        let empty = post_keyed(&store, JSON, r#"{"text":" "}"#, &["\"fresh\""]);
        assert_eq!(empty.unwrap_err().status(), StatusCode::BAD_REQUEST);
        let used = post_keyed(&store, JSON, r#"{"text":"four"}"#, &["\"fresh\""]).unwrap();
        assert_eq!(used.status(), StatusCode::CREATED);
        assert_eq!(store.page(None, 10).unwrap().messages.len(), 2);
        let busy = crate::store::BusyStore::default();
        let conflict = post_keyed(&busy, JSON, r#"{"text":"x"}"#, &key).unwrap_err();
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
        assert_eq!(
            conflict.headers(),
            [(http::header::RETRY_AFTER, HeaderValue::from(1))]
        );
    }

    #[test]
    fn create_then_read_back() {
        let store = MemoryStore::default();
        let response = post_json(&store, "application/json", r#"{"text":"hi <b>"}"#).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[LOCATION], "/api/messages/1");
        let created = body_json(response);
        assert_eq!(created["id"], 1);
        assert_eq!(created["text"], "hi <b>");
        let posted_at = created["posted_at"].as_str().unwrap();
        assert!(
            posted_at.parse::<Timestamp>().is_ok() && posted_at.ends_with('Z'),
            "{posted_at}"
        );

        let one = body_json(get(&store, "/api/messages/1").unwrap());
        assert_eq!(one, created);
        assert_eq!(
            get::<_, ()>(&store, "/api/messages/2").unwrap_err(),
            Error::NotFound
        );
        // Issue 32: one URL per message (`+1` and `0001` named message 1).
        for other in ["x", "+1", "0001", "01", "1 ", "-1", ""] {
            assert_eq!(
                get::<_, ()>(&store, &format!("/api/messages/{other}")).unwrap_err(),
                Error::NotFound,
                "{other:?}"
            );
        }
    }

    #[test]
    fn list_pages_with_a_next_link() {
        let store = MemoryStore::default();
        for i in 1..=5 {
            store.append(&format!("m{i}"), Timestamp::now()).unwrap();
        }
        let response = list::<_, ()>(&store, &"/api/messages?limit=2".parse().unwrap()).unwrap();
        assert_eq!(
            response.headers()[LINK],
            "</api/messages?before=4&limit=2>; rel=\"next\""
        );
        let texts: Vec<Value> = body_json(response)
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].clone())
            .collect();
        assert_eq!(texts, [j!("m4"), j!("m5")]);
        let last = list::<_, ()>(&store, &"/api/messages?before=2".parse().unwrap()).unwrap();
        assert!(last.headers().get(LINK).is_none());
        assert_eq!(body_json(last).as_array().unwrap().len(), 1);
        let too_many = list::<_, ()>(&store, &"/api/messages?limit=201".parse().unwrap());
        assert_eq!(too_many.unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bad_input_is_a_json_error() {
        let store = MemoryStore::default();
        let cases = [
            (
                "text/plain",
                r#"{"text":"x"}"#,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            ("application/json", "{", StatusCode::BAD_REQUEST),
            (
                "application/json",
                r#"{"txt":"x"}"#,
                StatusCode::BAD_REQUEST,
            ),
            ("application/json", r#"{"text":5}"#, StatusCode::BAD_REQUEST),
            (
                "application/json",
                r#"{"text":"  "}"#,
                StatusCode::BAD_REQUEST,
            ),
            ("application/json", "\"\u{FFFD}", StatusCode::BAD_REQUEST),
        ];
        for (content_type, body, status) in cases {
            let error = post_json(&store, content_type, body).unwrap_err();
            assert_eq!(error.status(), status, "{body}");
            let response = error_response::<()>(&error);
            assert_eq!(response.headers()["content-type"], "application/json");
            assert!(body_json(response)["error"].is_string());
        }
        let long = format!(r#"{{"text":"{}"}}"#, "y".repeat(4001));
        assert_eq!(
            post_json(&store, "application/json", &long)
                .unwrap_err()
                .status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let not_utf8 = create::<_, (), _>(
            &store,
            &Request::post("/api/messages")
                .header("content-type", JSON)
                .body(())
                .unwrap()
                .into_parts()
                .0,
            b"{\"text\":\"\xff\"}".to_vec(),
            Timestamp::now(),
        );
        assert_eq!(not_utf8.unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert!(store.page(None, 10).unwrap().messages.is_empty());
    }
}
