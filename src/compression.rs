//! Compression on the fly as a host applies it on the way out (the runner's
//! `--compress`): with which codings, from what size, and which answers are
//! worth it. One definition for the runner, which compresses by it, and for
//! the component, which the runner tells (`SITEBOX_HOST_COMPRESSION`) so that
//! it does not refuse (406) what the client will get compressed.

use crate::http::precompressed::{self, Choice, Coding};
use http::HeaderMap;
use http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, VARY,
};

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
    /// The coding for a request with these headers: `chosen` among ours.
    pub fn coding_for(&self, request: &HeaderMap) -> Option<Coding> {
        chosen(request, &self.codings)
    }

    /// Whether a 200 with `response`'s headers (its `Content-Length` the
    /// body's), to a request with `request`'s, goes out compressed: what the
    /// runner's `Negotiated::apply` does with it.
    pub fn compresses(&self, request: &HeaderMap, response: &HeaderMap) -> bool {
        let length = (response.get(CONTENT_LENGTH))
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        self.coding_for(request).is_some() && worth_compressing(response, length, self.min_size)
    }

    /// The value of `SITEBOX_HOST_COMPRESSION`: `zstd,br,gzip;min=1024`.
    pub fn to_env(&self) -> String {
        let codings: Vec<&str> = self.codings.iter().map(|coding| coding.token()).collect();
        format!("{};min={}", codings.join(","), self.min_size)
    }

    /// Reads `to_env`'s text back.
    pub fn from_env(text: &str) -> Result<Compression, String> {
        let (codings, min) = text
            .split_once(";min=")
            .ok_or_else(|| format!("{text:?} is not codings;min=bytes"))?;
        let min_size = min
            .trim()
            .parse()
            .map_err(|_| format!("{min:?} is not a number of bytes"))?;
        let codings = match codings.trim() {
            "" => Vec::new(),
            codings => codings.parse::<Compression>()?.codings,
        };
        Ok(Compression { codings, min_size })
    }
}

/// The coding among `offered` for a request with these headers (its
/// `Accept-Encoding`), by the rules the component picks its precompressed
/// files by (RFC 9110 §12.5.3; ties go to `offered`'s order); `None` for the
/// body as it is, also when the client refuses every choice.
pub fn chosen(request: &HeaderMap, offered: &[Coding]) -> Option<Coding> {
    let accept = precompressed::accept_encoding(request);
    match precompressed::choose_in_order(accept.as_deref(), offered.iter().copied()) {
        Choice::Coded(coding) => Some(coding),
        Choice::Identity | Choice::NotAcceptable => None,
    }
}

/// A body of a text-like type, not already coded, not known to be smaller
/// than `min_size`, whose sender allows it to be transformed.
pub fn worth_compressing(headers: &HeaderMap, length: Option<u64>, min_size: u64) -> bool {
    let no_transform = any_listed(headers, CACHE_CONTROL, |directive| {
        directive.eq_ignore_ascii_case("no-transform")
    });
    length.is_none_or(|length| length >= min_size)
        && !no_transform
        && !headers.contains_key(CONTENT_ENCODING)
        && headers.get(CONTENT_TYPE).is_some_and(compressible)
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
pub fn add_vary(headers: &mut HeaderMap) {
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
mod tests {
    use super::*;
    use http::header::ACCEPT_ENCODING;

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_str(value).unwrap()))
            .collect()
    }

    #[test]
    fn the_environment_reads_back_as_the_same_compression() {
        let gzip_only = Compression {
            codings: vec![Coding::Gzip],
            min_size: 10,
        };
        let off: Compression = "none".parse().unwrap();
        for compression in [Compression::default(), gzip_only, off] {
            let text = compression.to_env();
            assert_eq!(Compression::from_env(&text), Ok(compression), "{text}");
        }
        assert_eq!(Compression::default().to_env(), "zstd,br,gzip;min=1024");
        for bad in ["gzip", "gzip;min=x", "deflate;min=1"] {
            assert!(Compression::from_env(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn what_the_host_compresses() {
        let host = Compression::default();
        let refusing = headers(&[(ACCEPT_ENCODING, "gzip, identity;q=0")]);
        let text =
            |length: &str| headers(&[(CONTENT_TYPE, "text/plain"), (CONTENT_LENGTH, length)]);
        assert!(host.compresses(&refusing, &text("1024")));
        assert!(!host.compresses(&refusing, &text("1023")), "too small");
        let png = headers(&[(CONTENT_TYPE, "image/png"), (CONTENT_LENGTH, "5000")]);
        assert!(!host.compresses(&refusing, &png));
        let mut kept = text("5000");
        kept.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("max-age=60, no-transform"),
        );
        assert!(!host.compresses(&refusing, &kept));
        let deflate = headers(&[(ACCEPT_ENCODING, "deflate, identity;q=0")]);
        assert!(
            !host.compresses(&deflate, &text("5000")),
            "no coding in common"
        );
        let off: Compression = "none".parse().unwrap();
        assert!(!off.compresses(&refusing, &text("5000")));
    }
}
