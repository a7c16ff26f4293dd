//! Request bodies as the core sees them: read on demand, up to a limit, so a
//! handler that needs no body never reads one and a huge one is refused early.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// The host's stream failed (made by the glue, which tests do not build).
    #[cfg_attr(test, allow(dead_code))]
    Io(String),
}

pub trait RequestBody {
    /// The whole body, or `TooLarge` as soon as it passes `limit` bytes.
    fn read_to_end(self, limit: usize) -> Result<Vec<u8>, BodyError>;
}

/// No body at all (GET requests in tests).
impl RequestBody for () {
    fn read_to_end(self, _limit: usize) -> Result<Vec<u8>, BodyError> {
        Ok(Vec::new())
    }
}

/// A body already in memory (tests).
impl RequestBody for Vec<u8> {
    fn read_to_end(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.len() > limit {
            Err(BodyError::TooLarge)
        } else {
            Ok(self)
        }
    }
}
