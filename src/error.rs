//! `Error`: what can go wrong while answering a request, each mapped to a status
//! code and a short message that is safe to show the client.

use crate::fs::FsError;
use crate::site_path::PathError;
use crate::store::StoreError;
use http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    BadPath(PathError),
    BadRequest(String),
    Forbidden(&'static str),
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    /// No representation the client accepts (its `Accept-Encoding` refuses
    /// them all).
    NotAcceptable,
    PreconditionFailed,
    PayloadTooLarge(String),
    UnsupportedMediaType(&'static str),
    /// A method this server does not know at all.
    NotImplemented,
    /// The board's storage failed; the client may retry (the text goes to
    /// the log, never to the client).
    Unavailable(String),
    /// A fault on our side; the text goes to the log, never to the client.
    Internal(String),
}

/// How long a client should wait before retrying a 503, in seconds.
pub const RETRY_AFTER_SECS: u32 = 5;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadPath(_) | Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Error::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One sentence for the error page or the JSON `error` field.
    pub fn public_message(&self) -> String {
        match self {
            Error::BadPath(reason) => format!("Bad request: {reason}."),
            Error::BadRequest(reason) | Error::PayloadTooLarge(reason) => reason.clone(),
            Error::Forbidden(reason) | Error::UnsupportedMediaType(reason) => (*reason).to_owned(),
            Error::NotFound => "Nothing here.".to_owned(),
            Error::MethodNotAllowed { allow } => format!("This resource allows {allow} only."),
            Error::NotAcceptable => "No representation matches your Accept-Encoding.".to_owned(),
            Error::PreconditionFailed => "A precondition of the request does not hold.".to_owned(),
            Error::NotImplemented => "This server does not know that method.".to_owned(),
            Error::Unavailable(_) => {
                "The message board's storage is unavailable; try again shortly.".to_owned()
            }
            Error::Internal(_) => "Something went wrong on our side.".to_owned(),
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

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                Error::Unavailable(format!("board storage: {detail}"))
            }
            StoreError::Corrupt(detail) => Error::Internal(format!("board storage: {detail}")),
        }
    }
}
