//! Idempotent posts: the key that makes a repeated submission answer its
//! first result instead of storing the message again — the board form's
//! one-time token, or the API's `Idempotency-Key` header
//! (draft-ietf-httpapi-idempotency-key-header) — and what the stores keep of
//! it: a name for the key and a fingerprint of the message it posted.
//!
//! A key is the client's: whoever sends the same key with the same text gets
//! the first answer back (the message is public on the board anyway); the
//! same key with another text is refused (422), so a key never reveals or
//! replaces another message. Form tokens and API keys are named apart, so a
//! token can never answer for an API key or the other way round.

use crate::error::Error;
use crate::random::{self, Random};
use blake2::{Blake2s256, Digest};
use http::HeaderMap;
use sfv::StringRef;
use std::borrow::Cow;

/// The request header of the API's key.
pub const HEADER: &str = "idempotency-key";
/// The board form's hidden field holding its one-time token.
pub const TOKEN_FIELD: &str = "token";
/// The longest key the API takes, in characters (an sf-string is ASCII).
pub const MAX_KEY_CHARS: usize = 255;
/// A form token's random bytes (32 hex digits).
const TOKEN_BYTES: usize = 16;

/// Where a key comes from: the two never share a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Form,
    Api,
}

/// A keyed submission as the stores see it: fixed-length hex names, safe
/// as a file name and as a key-value key, whatever the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// BLAKE2s-256 of the scope and the key, 64 hex digits.
    pub name: String,
    /// BLAKE2s-256 of the message text, 64 hex digits: a repeat with
    /// another text is told apart without keeping the text twice.
    pub fingerprint: String,
}

impl Submission {
    pub fn new(scope: Scope, key: &str, text: &str) -> Submission {
        let scope: &[u8] = match scope {
            Scope::Form => b"form\0",
            Scope::Api => b"api\0",
        };
        let name = Blake2s256::new()
            .chain_update(scope)
            .chain_update(key.as_bytes())
            .finalize();
        let fingerprint = Blake2s256::digest(text.as_bytes());
        Submission {
            name: random::to_hex(&name),
            fingerprint: random::to_hex(&fingerprint),
        }
    }
}

/// What posting with a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once<M> {
    /// Stored now, for the first time.
    Stored(M),
    /// Stored before: the first result, nothing stored now.
    Replayed(M),
    /// An earlier request with this key may still be storing it (409).
    InProgress,
    /// The key was used with another message (422).
    KeyReused,
}

impl<M> Once<M> {
    /// The message to answer with, or the error for the client.
    pub fn into_result(self) -> Result<M, Error> {
        match self {
            Once::Stored(message) | Once::Replayed(message) => Ok(message),
            Once::InProgress => Err(Error::Conflict(
                "A request with this key is still being processed; try again shortly.",
            )),
            Once::KeyReused => Err(Error::Unprocessable(
                "This key was already used with another message; use a new key.".to_owned(),
            )),
        }
    }
}

/// The API's key, if the request has one: `Idempotency-Key` as a
/// Structured Field string (RFC 9651) of 1 to 255 characters; anything
/// else, or the header twice, is a 400.
pub fn from_header(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad_key("Send one Idempotency-Key header, not several."));
    }
    let key = sfv::Parser::new(value.as_bytes())
        .parse_item::<Cow<StringRef>>()
        .map_err(|_| {
            bad_key(
                "The Idempotency-Key must be a string in double quotes, \
                 like \"8e03978e-40d5-43e8-bc93-6894a57f9324\".",
            )
        })?;
    let key = key.as_str();
    if key.is_empty() || key.len() > MAX_KEY_CHARS {
        return Err(bad_key(
            "The Idempotency-Key must have 1 to 255 characters.",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// The form's token, as the board page writes it: 32 lowercase hex digits.
pub fn check_token(token: &str) -> Result<(), Error> {
    let well_formed = token.len() == 2 * TOKEN_BYTES
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if well_formed {
        Ok(())
    } else {
        Err(bad_key(
            "The form's token is malformed; reload the board and send it again.",
        ))
    }
}

/// A new one-time token for the board's form.
pub fn new_token(random: Random) -> Result<String, String> {
    random::hex::<TOKEN_BYTES>(random)
}

fn bad_key(reason: &str) -> Error {
    Error::BadRequest(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn header(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(HEADER, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_header_is_a_structured_field_string() {
        let key = |values: &[&str]| from_header(&header(values));
        assert_eq!(key(&[]).unwrap(), None);
        assert_eq!(
            key(&["\"8e03978e-40d5-43e8-bc93-6894a57f9324\""]).unwrap(),
            Some("8e03978e-40d5-43e8-bc93-6894a57f9324".to_owned())
        );
        // Escapes and parameters (ignored, as RFC 9651 asks) are allowed.
        assert_eq!(
            key(&[r#"  "a \"b\" \\c";v=1 "#]).unwrap(),
            Some(r#"a "b" \c"#.to_owned())
        );
        let long = "k".repeat(MAX_KEY_CHARS);
        assert_eq!(key(&[&format!("\"{long}\"")]).unwrap(), Some(long.clone()));
        for bad in [
            "abc",
            "\"unterminated",
            "\"\"",
            "1",
            ":Ynl0ZXM=:",
            "\"a\", \"b\"",
            "\"bad\\escape\"",
            &format!("\"{long}k\""),
        ] {
            let error = key(&[bad]).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let twice = key(&["\"a\"", "\"a\""]).unwrap_err();
        assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn form_tokens_are_what_the_page_writes() {
        let token = new_token(crate::random::os).unwrap();
        check_token(&token).unwrap();
        assert_ne!(token, new_token(crate::random::os).unwrap());
        for bad in [
            "",
            "abc",
            &token.to_uppercase(),
            &format!("{token}0"),
            &"g".repeat(32),
        ] {
            assert_eq!(
                check_token(bad).unwrap_err().status(),
                StatusCode::BAD_REQUEST
            );
        }
    }

    #[test]
    fn names_keep_scopes_and_keys_apart_and_fingerprints_follow_the_text() {
        let form = Submission::new(Scope::Form, "k", "hello");
        let api = Submission::new(Scope::Api, "k", "hello");
        assert_ne!(
            form.name, api.name,
            "a form token never answers for an API key"
        );
        assert_eq!(form.fingerprint, api.fingerprint);
        assert_eq!(form, Submission::new(Scope::Form, "k", "hello"));
        assert_ne!(form.name, Submission::new(Scope::Form, "k2", "hello").name);
        assert_ne!(
            form.fingerprint,
            Submission::new(Scope::Form, "k", "hello!").fingerprint
        );
        assert_eq!(form.name.len(), 64);
        assert!(form.name.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
