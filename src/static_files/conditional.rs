//! Validators (`ETag`, `Last-Modified`) and conditional requests, evaluated
//! in the order RFC 9110 §13.2.2 gives: `If-Match`, else
//! `If-Unmodified-Since`; then `If-None-Match`, else `If-Modified-Since`;
//! then `If-Range` for a range. Header parsing and comparison come from the
//! `headers` crate.

use crate::fs::FileMeta;
use headers::{ETag, HeaderMapExt, IfMatch, IfModifiedSince, IfNoneMatch, IfUnmodifiedSince};
use http::header::{HeaderValue, IF_RANGE};
use http::{HeaderMap, Method};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What identifies one representation of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Validators {
    /// Strong: from the size and the modification time to the nanosecond,
    /// plus the content coding, so every representation has its own.
    pub etag: ETag,
    /// Whole seconds, as the header carries them, and never later than
    /// the answer (RFC 9110 §8.8.2.1): a modification time in the future
    /// says the answer's own time.
    pub last_modified: Option<SystemTime>,
    /// Whether `last_modified` is a strong validator: at least a second
    /// before the answer (RFC 9110 §8.8.2.2). Within its second the file
    /// may change again under the same date, so `If-Range` with it never
    /// holds (§13.1.5).
    date_is_strong: bool,
    /// The entity tag's text, for `etag_header`.
    tag: String,
}

impl Validators {
    /// The validators of a representation with `meta` (and `coding`), as an
    /// answer made at `now` gives them. The entity tag is of the file as it
    /// is, the clock aside: a file dated ahead keeps one tag while its
    /// `Last-Modified` follows the clock.
    pub fn new(meta: &FileMeta, coding: Option<&str>, now: SystemTime) -> Validators {
        let since_epoch = meta
            .modified
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        // Decimal by `itoa`: `format!` would cost each fresh instance the
        // set-up of its formatting functions (see docs/performance.md).
        let mut digits = itoa::Buffer::new();
        let mut tag = String::with_capacity(48);
        tag.push('"');
        tag.push_str(digits.format(meta.len));
        tag.push('-');
        tag.push_str(digits.format(since_epoch.as_secs()));
        tag.push('-');
        tag.push_str(digits.format(since_epoch.subsec_nanos()));
        if let Some(coding) = coding {
            tag.push('-');
            tag.push_str(coding);
        }
        tag.push('"');
        let whole_seconds = |time: Duration| UNIX_EPOCH + Duration::from_secs(time.as_secs());
        let now = whole_seconds(now.duration_since(UNIX_EPOCH).unwrap_or_default());
        let last_modified = meta.modified.map(|_| whole_seconds(since_epoch).min(now));
        Validators {
            etag: tag
                .parse()
                .expect("digits and a coding name make a valid entity tag"),
            last_modified,
            date_is_strong: last_modified.is_some_and(|modified| modified < now),
            tag,
        }
    }

    /// The `ETag` header's value, made afresh: cloning the one inside `etag`
    /// would cost an indirect call into `bytes` (see `Validators::new`).
    pub fn etag_header(&self) -> HeaderValue {
        HeaderValue::from_str(&self.tag).expect("a valid entity tag is a valid header value")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Answer normally; `range` says whether a `Range` header may be honoured
    /// (`If-Range`, when present, still matches).
    Proceed { range: bool },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the request's preconditions against the representation.
/// Malformed conditional headers are ignored, as if absent.
pub fn evaluate(method: &Method, headers: &HeaderMap, validators: &Validators) -> Precondition {
    let etag = &validators.etag;
    let safe = method == Method::GET || method == Method::HEAD;
    if let Some(if_match) = headers.typed_get::<IfMatch>() {
        if !if_match.precondition_passes(etag) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(modified)) = (
        headers.typed_get::<IfUnmodifiedSince>(),
        validators.last_modified,
    ) && !since.precondition_passes(modified)
    {
        return Precondition::Failed;
    }
    if let Some(if_none_match) = headers.typed_get::<IfNoneMatch>() {
        if !if_none_match.precondition_passes(etag) {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if let (true, Some(since), Some(modified)) = (
        safe,
        headers.typed_get::<IfModifiedSince>(),
        validators.last_modified,
    ) && !since.is_modified(modified)
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed {
        range: if_range_matches(headers, validators),
    }
}

/// `If-Range` holds if absent, or if it names this representation exactly:
/// a strong `ETag` match, or the very `Last-Modified` date when that date is
/// strong.
fn if_range_matches(headers: &HeaderMap, validators: &Validators) -> bool {
    let Some(value) = headers.get(IF_RANGE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return value
            .parse::<ETag>()
            .is_ok_and(|tag| !tag.is_weak() && tag == validators.etag);
    }
    match (httpdate::parse_http_date(value), validators.last_modified) {
        (Ok(date), Some(modified)) => validators.date_is_strong && date == modified,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn meta() -> FileMeta {
        FileMeta {
            len: 1234,
            modified: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 5)),
        }
    }

    fn check(method: Method, headers: &[(&str, &str)]) -> Precondition {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        evaluate(&method, &map, &Validators::new(&meta(), None, later()))
    }

    /// An answer a day after `meta`'s modification.
    fn later() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_086_400)
    }

    const PROCEED: Precondition = Precondition::Proceed { range: true };
    const TAG: &str = "\"1234-1700000000-5\"";
    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

    /// The header text of an `ETag` (the type has no `Display`).
    fn text(etag: &ETag) -> String {
        let mut map = HeaderMap::new();
        map.typed_insert(etag.clone());
        map["etag"].to_str().unwrap().to_owned()
    }

    #[test]
    fn validators_differ_by_coding_and_drop_subseconds_from_the_date() {
        let plain = Validators::new(&meta(), None, later());
        assert_eq!(text(&plain.etag), TAG);
        let br = Validators::new(&meta(), Some("br"), later());
        assert_eq!(text(&br.etag), "\"1234-1700000000-5-br\"");
        assert_eq!(httpdate::fmt_http_date(plain.last_modified.unwrap()), DATE);
    }

    #[test]
    fn if_none_match() {
        assert_eq!(check(Method::GET, &[]), PROCEED);
        assert_eq!(
            check(Method::GET, &[("if-none-match", TAG)]),
            Precondition::NotModified
        );
        assert_eq!(
            check(Method::HEAD, &[("if-none-match", &format!("W/{TAG}"))]),
            Precondition::NotModified,
            "weak comparison"
        );
        assert_eq!(
            check(
                Method::GET,
                &[("if-none-match", &format!("\"other\", {TAG}"))]
            ),
            Precondition::NotModified
        );
        assert_eq!(
            check(Method::GET, &[("if-none-match", "*")]),
            Precondition::NotModified
        );
        assert_eq!(
            check(Method::GET, &[("if-none-match", "\"other\"")]),
            PROCEED
        );
        assert_eq!(
            check(Method::POST, &[("if-none-match", TAG)]),
            Precondition::Failed
        );
    }

    #[test]
    fn if_modified_since_only_without_if_none_match() {
        assert_eq!(
            check(Method::GET, &[("if-modified-since", DATE)]),
            Precondition::NotModified
        );
        assert_eq!(
            check(
                Method::GET,
                &[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]
            ),
            PROCEED
        );
        assert_eq!(
            check(Method::GET, &[("if-modified-since", "not a date")]),
            PROCEED
        );
        let both = [("if-none-match", "\"other\""), ("if-modified-since", DATE)];
        assert_eq!(check(Method::GET, &both), PROCEED, "If-None-Match wins");
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        assert_eq!(check(Method::GET, &[("if-match", TAG)]), PROCEED);
        assert_eq!(check(Method::GET, &[("if-match", "*")]), PROCEED);
        assert_eq!(
            check(Method::GET, &[("if-match", "\"other\"")]),
            Precondition::Failed
        );
        assert_eq!(
            check(Method::GET, &[("if-match", &format!("W/{TAG}"))]),
            Precondition::Failed,
            "strong comparison"
        );
        assert_eq!(
            check(Method::GET, &[("if-unmodified-since", DATE)]),
            PROCEED
        );
        assert_eq!(
            check(
                Method::GET,
                &[("if-unmodified-since", "Mon, 13 Nov 2023 00:00:00 GMT")]
            ),
            Precondition::Failed
        );
        let both = [
            ("if-match", TAG),
            ("if-unmodified-since", "Mon, 13 Nov 2023 00:00:00 GMT"),
        ];
        assert_eq!(check(Method::GET, &both), PROCEED, "If-Match wins");
    }

    #[test]
    fn if_range() {
        assert_eq!(check(Method::GET, &[("if-range", TAG)]), PROCEED);
        assert_eq!(check(Method::GET, &[("if-range", DATE)]), PROCEED);
        let stale = Precondition::Proceed { range: false };
        assert_eq!(check(Method::GET, &[("if-range", "\"other\"")]), stale);
        assert_eq!(
            check(Method::GET, &[("if-range", &format!("W/{TAG}"))]),
            stale,
            "weak tags never match"
        );
        assert_eq!(
            check(
                Method::GET,
                &[("if-range", "Wed, 15 Nov 2023 00:00:00 GMT")]
            ),
            stale,
            "only the exact date"
        );
        assert_eq!(check(Method::GET, &[("if-range", "garbage")]), stale);
    }

    #[test]
    fn a_modification_time_in_the_future_is_the_answers_time() {
        let ahead = FileMeta {
            modified: Some(later() + Duration::from_secs(3600)),
            ..meta()
        };
        let now = later() + Duration::from_millis(1500);
        let validators = Validators::new(&ahead, None, now);
        assert_eq!(
            validators.last_modified,
            Some(later() + Duration::from_secs(1))
        );
        let later = Validators::new(&ahead, None, now + Duration::from_secs(5));
        assert_eq!(
            later.etag, validators.etag,
            "the tag is the file's, not the clock's"
        );
        assert_ne!(later.last_modified, validators.last_modified);
        let date = httpdate::fmt_http_date(validators.last_modified.unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(IF_RANGE, HeaderValue::from_str(&date).unwrap());
        assert_eq!(
            evaluate(&Method::GET, &headers, &validators),
            Precondition::Proceed { range: false },
            "a date of the answer's own second is weak"
        );
    }

    #[test]
    fn a_date_is_strong_from_the_next_second_on() {
        let modified = meta().modified.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(IF_RANGE, HeaderValue::from_static(DATE));
        let at = |after: Duration| {
            evaluate(
                &Method::GET,
                &headers,
                &Validators::new(&meta(), None, modified + after),
            )
        };
        let weak = Precondition::Proceed { range: false };
        assert_eq!(at(Duration::ZERO), weak);
        assert_eq!(at(Duration::from_millis(999)), weak, "the same second");
        assert_eq!(at(Duration::from_secs(1)), PROCEED);
        assert_eq!(at(Duration::from_secs(86_400)), PROCEED);
    }
}
