//! Strict percent-decoding, shared by request paths and form bodies: the
//! `percent-encoding` crate decodes leniently (a stray `%` passes through,
//! bad UTF-8 can be replaced), but a malformed request deserves a 400.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode};
use std::borrow::Cow;

/// Whether every `%` starts a two-hex-digit escape.
pub fn escapes_are_well_formed(raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// What a path segment keeps as it is when it goes into a URL: RFC 3986's
/// unreserved characters; everything else is percent-encoded.
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    BadEscape,
    NotUtf8,
}

/// Decodes `raw`, refusing malformed escapes and anything that is not UTF-8
/// once decoded.
pub fn decode_strict(raw: &[u8]) -> Result<Cow<'_, str>, DecodeError> {
    if !escapes_are_well_formed(raw) {
        return Err(DecodeError::BadEscape);
    }
    percent_decode(raw)
        .decode_utf8()
        .map_err(|_| DecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_escapes() {
        assert!(escapes_are_well_formed(b"plain"));
        assert!(escapes_are_well_formed(b"a%20b%2F%2f"));
        assert!(!escapes_are_well_formed(b"100%"));
        assert!(!escapes_are_well_formed(b"%2"));
        assert!(!escapes_are_well_formed(b"%zz"));
        assert!(!escapes_are_well_formed(b"%%41"));
    }

    #[test]
    fn strict_decoding() {
        assert_eq!(decode_strict(b"caf%C3%A9").unwrap(), "café");
        assert_eq!(decode_strict(b"%ff"), Err(DecodeError::NotUtf8));
        assert_eq!(decode_strict(b"%c3%28"), Err(DecodeError::NotUtf8));
        assert_eq!(decode_strict(b"\xff"), Err(DecodeError::NotUtf8));
        assert_eq!(decode_strict(b"%g0"), Err(DecodeError::BadEscape));
    }
}
