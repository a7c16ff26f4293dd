//! `Error`: what can go wrong while answering a request, each mapped to a status
//! code and a short message that is safe to show the client.

use crate::fs::FsError;
use crate::site_path::PathError;
use http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    BadPath(PathError),
    NotFound,
    Forbidden,
    MethodNotAllowed {
        allow: &'static str,
    },
    /// A fault on our side; the text goes to the log, never to the client.
    Internal(String),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadPath(_) => StatusCode::BAD_REQUEST,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One sentence for the error page.
    pub fn public_message(&self) -> String {
        match self {
            Error::BadPath(reason) => format!("Bad request: {reason}."),
            Error::NotFound => "Nothing here.".to_owned(),
            Error::Forbidden => "You may not see this.".to_owned(),
            Error::MethodNotAllowed { allow } => format!("This resource allows {allow} only."),
            Error::Internal(_) => "Something went wrong on our side.".to_owned(),
        }
    }
}

impl From<FsError> for Error {
    fn from(error: FsError) -> Self {
        match error {
            FsError::NotFound => Error::NotFound,
            FsError::Forbidden => Error::Forbidden,
            FsError::Io(detail) => Error::Internal(detail),
        }
    }
}

impl From<PathError> for Error {
    fn from(error: PathError) -> Self {
        Error::BadPath(error)
    }
}
