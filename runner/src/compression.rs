//! Compression on the fly: the content coding a request gets (its
//! `Accept-Encoding`), which responses are worth compressing, their entity
//! tags per coding, and the body streamed through the encoder.
//!
//! A compressed response's `ETag` is the component's, weakened and suffixed
//! with the coding (`"12-34-5"` becomes `W/"12-34-5-zstd"`), as nginx weakens
//! it: the bytes depend on the encoder, the content does not. A revalidation
//! with such a tag is asked of the component with the tag it knows (`"12-34-5"`)
//! beside it, and its 304 goes back with the tag the client holds.

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    ETAG, HeaderName, IF_NONE_MATCH, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body;
use sitebox::precompressed::{self, Choice};

mod body;

pub use body::Compressed;
/// The codings, named as the component names its precompressed files'.
pub use sitebox::precompressed::Coding;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What is compressed: with which codings, in the server's order of
/// preference (for ties in the client's q-values), from what size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    /// None: compression is off.
    pub codings: Vec<Coding>,
    /// Bodies known to be smaller go as they are.
    pub min_size: u64,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            codings: vec![Coding::Zstd, Coding::Brotli, Coding::Gzip],
            min_size: 1024,
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    /// `--compress`: `none`, or codings separated by commas (their order is
    /// the preference); the size comes from its own flag.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut codings = Vec::new();
        if text.trim() != "none" {
            for name in text.split(',').map(str::trim) {
                let coding = Coding::ALL
                    .into_iter()
                    .find(|coding| coding.token().eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        format!("unknown coding {name:?}: expected zstd, br, gzip or none")
                    })?;
                if !codings.contains(&coding) {
                    codings.push(coding);
                }
            }
        }
        Ok(Compression {
            codings,
            ..Compression::default()
        })
    }
}

impl Compression {
    /// Reads the request's `Accept-Encoding` and, when it asks for a coding,
    /// adds to its `If-None-Match` the component's tag behind each tag this
    /// module made for that coding. `None` when compression is off.
    pub fn negotiate<B>(&self, request: &mut http::Request<B>) -> Option<Negotiated> {
        if self.codings.is_empty() {
            return None;
        }
        let headers = request.headers_mut();
        let coding = chosen(headers, &self.codings);
        let mut revalidating = Vec::new();
        if let Some(coding) = coding {
            revalidating = uncompressed_tags(headers, coding);
            if !revalidating.is_empty() {
                let mut list = headers
                    .get_all(IF_NONE_MATCH)
                    .iter()
                    .filter_map(|value| value.to_str().ok())
                    .collect::<Vec<_>>()
                    .join(", ");
                for tag in &revalidating {
                    list.push_str(", W/\"");
                    list.push_str(tag);
                    list.push('"');
                }
                if let Ok(value) = HeaderValue::from_str(&list) {
                    headers.insert(IF_NONE_MATCH, value);
                }
            }
        }
        Some(Negotiated {
            coding,
            head: request.method() == Method::HEAD,
            min_size: self.min_size,
            revalidating,
        })
    }
}

/// One request's outcome of `Compression::negotiate`, for its response.
pub struct Negotiated {
    coding: Option<Coding>,
    head: bool,
    min_size: u64,
    /// The component's tags behind the client's compressed ones.
    revalidating: Vec<String>,
}

impl Negotiated {
    /// The response, compressed when it is worth it and the client asked.
    pub fn apply<B>(self, response: http::Response<B>) -> http::Response<Compressed<B>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = response.into_parts();
        let identity = |parts, body| http::Response::from_parts(parts, Compressed::identity(body));
        match parts.status {
            StatusCode::NOT_MODIFIED => {
                // Its 200 may have varied; the 304 cannot tell (it has no
                // type), and a `Vary` too many only narrows what a cache reuses.
                add_vary(&mut parts.headers);
                if let Some(coding) = self.coding
                    && let Some(tag) = opaque_tag(&parts.headers)
                    && self.revalidating.contains(&tag)
                {
                    parts.headers.insert(ETAG, compressed_tag(&tag, coding));
                }
                return identity(parts, body);
            }
            StatusCode::PARTIAL_CONTENT => {
                // Sent as it is, but a part of what the 200 would vary by.
                if worth_compressing(
                    &parts.headers,
                    complete_length(&parts.headers),
                    self.min_size,
                ) {
                    add_vary(&mut parts.headers);
                }
                return identity(parts, body);
            }
            StatusCode::NO_CONTENT => return identity(parts, body),
            status if status.is_informational() => return identity(parts, body),
            _ => {}
        }
        let length = (parts.headers.get(CONTENT_LENGTH))
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .or(body.size_hint().exact());
        // A 416's `Content-Range` says what there was, not what is sent.
        if parts.headers.contains_key(CONTENT_RANGE)
            || !worth_compressing(&parts.headers, length, self.min_size)
        {
            return identity(parts, body);
        }
        add_vary(&mut parts.headers);
        let Some(coding) = self.coding else {
            return identity(parts, body);
        };
        if let Some(tag) = opaque_tag(&parts.headers) {
            let tag = compressed_tag(&tag, coding);
            parts.headers.insert(ETAG, tag);
        }
        // The length is the encoder's to find out; a range would be of the
        // compressed bytes, which are made afresh each time.
        parts.headers.remove(CONTENT_LENGTH);
        parts.headers.remove(ACCEPT_RANGES);
        let name = HeaderValue::from_static(coding.token());
        parts.headers.insert(CONTENT_ENCODING, name);
        if self.head {
            return identity(parts, body);
        }
        http::Response::from_parts(parts, Compressed::encoded(body, coding, length))
    }
}

/// The coding among `offered` for the request's `Accept-Encoding`, by the
/// rules the component picks its precompressed files by (RFC 9110 §12.5.3;
/// ties go to `offered`'s order); `None` for the body as it is, also when the
/// client refuses every choice (the body as it is then beats a 406).
fn chosen(headers: &HeaderMap, offered: &[Coding]) -> Option<Coding> {
    let accept = precompressed::accept_encoding(headers);
    match precompressed::choose_in_order(accept.as_deref(), offered.iter().copied()) {
        Choice::Coded(coding) => Some(coding),
        Choice::Identity | Choice::NotAcceptable => None,
    }
}

/// The opaque parts of the weak tags in `If-None-Match` that this module
/// made for `coding`, without the suffix: the component's tags.
fn uncompressed_tags(headers: &HeaderMap, coding: Coding) -> Vec<String> {
    let suffix = coding.token();
    let mut tags = Vec::new();
    for value in headers.get_all(IF_NONE_MATCH) {
        let Ok(text) = value.to_str() else { continue };
        let mut rest = text;
        while let Some(start) = rest.find("W/\"") {
            let after = &rest[start + 3..];
            let Some(end) = after.find('"') else { break };
            let opaque = &after[..end];
            if let Some(tag) = opaque
                .strip_suffix(suffix)
                .and_then(|t| t.strip_suffix('-'))
            {
                tags.push(tag.to_owned());
            }
            rest = &after[end + 1..];
        }
    }
    tags
}

/// The opaque part of the response's `ETag`, weak or strong.
fn opaque_tag(headers: &HeaderMap) -> Option<String> {
    let text = headers.get(ETAG)?.to_str().ok()?;
    let quoted = text.strip_prefix("W/").unwrap_or(text);
    let opaque = quoted.strip_prefix('"')?.strip_suffix('"')?;
    Some(opaque.to_owned())
}

fn compressed_tag(opaque: &str, coding: Coding) -> HeaderValue {
    let tag = format!("W/\"{opaque}-{}\"", coding.token());
    HeaderValue::from_str(&tag).expect("a tag's characters with a coding's name")
}

/// A body of a text-like type, not already coded, not known to be smaller
/// than `min_size`, whose sender allows it to be transformed.
fn worth_compressing(headers: &HeaderMap, length: Option<u64>, min_size: u64) -> bool {
    let no_transform = any_listed(headers, CACHE_CONTROL, |directive| {
        directive.eq_ignore_ascii_case("no-transform")
    });
    length.is_none_or(|length| length >= min_size)
        && !no_transform
        && !headers.contains_key(CONTENT_ENCODING)
        && headers.get(CONTENT_TYPE).is_some_and(compressible)
}

/// The whole length a 206's `Content-Range` names (`bytes 0-9/4400`).
fn complete_length(headers: &HeaderMap) -> Option<u64> {
    let range = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    range.rsplit_once('/')?.1.trim().parse().ok()
}

/// Text and the formats made of text (JSON, XML, SVG, JavaScript…), fonts
/// without their own compression, and wasm; not images, audio, video,
/// archives, woff/woff2, nor event streams (compression would hold events
/// back).
fn compressible(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or("").trim();
    // Types come in lower case but may not: a copy only then.
    let essence = if essence.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(essence.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(essence)
    };
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "text" => subtype != "event-stream",
        _ if subtype.ends_with("+json") || subtype.ends_with("+xml") => true,
        "application" => matches!(
            subtype,
            "json"
                | "javascript"
                | "ecmascript"
                | "xml"
                | "wasm"
                | "x-javascript"
                | "vnd.ms-fontobject"
                | "x-font-ttf"
                | "x-ndjson"
                | "graphql"
        ),
        "font" => matches!(subtype, "ttf" | "otf" | "collection"),
        "image" => matches!(subtype, "x-icon" | "vnd.microsoft.icon" | "bmp"),
        _ => false,
    }
}

/// `Vary: Accept-Encoding`, unless the response already says it (or `*`).
fn add_vary(headers: &mut HeaderMap) {
    let varies = any_listed(headers, VARY, |name| {
        name == "*" || name.eq_ignore_ascii_case("accept-encoding")
    });
    if !varies {
        headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// Whether an item of the comma-separated lists in `name`'s values passes
/// `test` (items trimmed).
fn any_listed(headers: &HeaderMap, name: HeaderName, test: impl Fn(&str) -> bool) -> bool {
    (headers.get_all(name).iter())
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .any(|item| test(item.trim()))
}

#[cfg(test)]
#[path = "compression/tests.rs"]
mod tests;
