//! `Error`: what can go wrong while answering a request, each mapped to a status
//! code and a short message that is safe to show the client (and, for a
//! `401`, the `Challenge` it answers with). The other modules' errors convert
//! into it; it depends on none of the board's modules.

use crate::fs::FsError;
use crate::http::site_path::PathError;
use http::StatusCode;
use http::header::{ALLOW, HeaderName, HeaderValue, RETRY_AFTER, VARY, WWW_AUTHENTICATE};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    BadPath(PathError),
    BadRequest(String),
    /// The admin's credentials are missing or wrong; the `401` challenges
    /// the client to send them.
    Unauthorized(Challenge),
    Forbidden(&'static str),
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    /// No representation the client accepts (its `Accept-Encoding` refuses
    /// them all).
    NotAcceptable,
    PreconditionFailed,
    /// A request with the same idempotency key is still being processed.
    Conflict(&'static str),
    PayloadTooLarge(String),
    UnsupportedMediaType(&'static str),
    /// Well-formed but refused: an idempotency key reused with another
    /// message.
    Unprocessable(String),
    /// A method this server does not know at all.
    NotImplemented,
    /// The board's storage failed; the client may retry (the text goes to
    /// the log, never to the client).
    Unavailable(String),
    /// A rule in the site's `_redirects` cannot be followed: the site's
    /// fault, a 500 that names the line (`reason` completes "the rule on
    /// line N …").
    SiteRule {
        line: usize,
        reason: &'static str,
    },
    /// A fault on our side; the text goes to the log, never to the client.
    Internal(String),
}

/// What a `401` asks for, by who is asking: a browser posting the board's
/// form, or a client of the JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic`: browsers show their login prompt and send the request again.
    Basic,
    /// `Bearer` (the password as the token), and `Basic` as well.
    Api,
}

impl Challenge {
    /// The `WWW-Authenticate` values of the `401`.
    pub fn www_authenticate(self) -> &'static [&'static str] {
        const BASIC: &str = r#"Basic realm="sitebox admin", charset="UTF-8""#;
        const BEARER: &str = r#"Bearer realm="sitebox admin""#;
        match self {
            Challenge::Basic => &[BASIC],
            Challenge::Api => &[BEARER, BASIC],
        }
    }
}

/// How long a client should wait before retrying a 503, in seconds.
pub const RETRY_AFTER_SECS: u32 = 5;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadPath(_) | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Error::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::SiteRule { .. } | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One sentence for the error page or the JSON `error` field.
    pub fn public_message(&self) -> String {
        match self {
            Error::BadPath(reason) => format!("Bad request: {reason}."),
            Error::BadRequest(reason)
            | Error::PayloadTooLarge(reason)
            | Error::Unprocessable(reason) => reason.clone(),
            Error::Unauthorized(_) => "This needs the admin's user name and password.".to_owned(),
            Error::Forbidden(reason)
            | Error::Conflict(reason)
            | Error::UnsupportedMediaType(reason) => (*reason).to_owned(),
            Error::NotFound => "Nothing here.".to_owned(),
            Error::MethodNotAllowed { allow } => format!("This resource allows {allow} only."),
            Error::NotAcceptable => "No representation matches your Accept-Encoding.".to_owned(),
            Error::PreconditionFailed => "A precondition of the request does not hold.".to_owned(),
            Error::NotImplemented => "This server does not know that method.".to_owned(),
            Error::Unavailable(_) => {
                "The message board's storage is unavailable; try again shortly.".to_owned()
            }
            Error::SiteRule { line, reason } => {
                format!("The site's _redirects rule on line {line} {reason}.")
            }
            Error::Internal(_) => "Something went wrong on our side.".to_owned(),
        }
    }

    /// The headers an error's response carries besides its body's: `Allow`
    /// on a 405, the challenge on a 401, `Retry-After` on a 503 and a 409,
    /// and on a 406 what it depended on (another `Accept-Encoding` may get
    /// a 200).
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            Error::MethodNotAllowed { allow } => vec![(ALLOW, HeaderValue::from_static(allow))],
            Error::Unauthorized(challenge) => challenge
                .www_authenticate()
                .iter()
                .map(|value| (WWW_AUTHENTICATE, HeaderValue::from_static(value)))
                .collect(),
            Error::Unavailable(_) => vec![(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS))],
            // The first request with the key is being stored: moments.
            Error::Conflict(_) => vec![(RETRY_AFTER, HeaderValue::from(1))],
            Error::NotAcceptable => vec![(VARY, HeaderValue::from_static("Accept-Encoding"))],
            _ => Vec::new(),
        }
    }
}

impl From<FsError> for Error {
    fn from(error: FsError) -> Self {
        match error {
            FsError::NotFound => Error::NotFound,
            FsError::Forbidden => Error::Forbidden("You may not see this."),
            FsError::Io(detail) => Error::Internal(detail),
        }
    }
}

impl From<PathError> for Error {
    fn from(error: PathError) -> Self {
        Error::BadPath(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_headers() {
        let allow = Error::MethodNotAllowed { allow: "GET, HEAD" }.headers();
        assert_eq!(allow, [(ALLOW, HeaderValue::from_static("GET, HEAD"))]);
        let retry = Error::Unavailable("down".to_owned()).headers();
        assert_eq!(retry, [(RETRY_AFTER, HeaderValue::from_static("5"))]);
        let challenges = Error::Unauthorized(Challenge::Api).headers();
        assert_eq!(challenges.len(), 2);
        assert!(challenges.iter().all(|(name, _)| name == WWW_AUTHENTICATE));
        assert!(Error::NotFound.headers().is_empty());
        let vary = Error::NotAcceptable.headers();
        assert_eq!(vary, [(VARY, HeaderValue::from_static("Accept-Encoding"))]);
    }
}
