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
    ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_NONE_MATCH,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body;
/// What is compressed and which answers are worth it: the component's
/// definitions, which it decides its 406s by (`SITEBOX_HOST_COMPRESSION`).
pub use sitebox::compression::Compression;
use sitebox::compression::{add_vary, chosen, worth_compressing};

mod body;

pub use body::Compressed;
/// The codings, named as the component names its precompressed files'.
pub use sitebox::http::precompressed::Coding;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `--compress` at work on one request.
pub trait Negotiate {
    /// Reads the request's `Accept-Encoding` and, when it asks for a coding,
    /// adds to its `If-None-Match` the component's tag behind each tag this
    /// module made for that coding. `None` when compression is off.
    fn negotiate<B>(&self, request: &mut http::Request<B>) -> Option<Negotiated>;
}

impl Negotiate for Compression {
    fn negotiate<B>(&self, request: &mut http::Request<B>) -> Option<Negotiated> {
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

/// The whole length a 206's `Content-Range` names (`bytes 0-9/4400`).
fn complete_length(headers: &HeaderMap) -> Option<u64> {
    let range = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    range.rsplit_once('/')?.1.trim().parse().ok()
}

#[cfg(test)]
#[path = "compression/tests.rs"]
mod tests;
