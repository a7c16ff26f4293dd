//! Content codings for precompressed sidecars (`x.css.br`, `.zst`, `.gz`):
//! which one, if any, a request's `Accept-Encoding` lets us send (RFC 9110
//! §12.5.3), with q-values, `*`, and `identity;q=0` honoured. The runner's
//! compression on the fly negotiates by the same rules (`choose_in_order`).
//!
//! Written here because the crates at hand fall short: the
//! `headers-accept-encoding` fork panics on a malformed q-value and ignores
//! `q=0`, and hyperium's `headers` has no `Accept-Encoding` type.

use http::HeaderMap;
use http::header::ACCEPT_ENCODING;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Zstd,
    Gzip,
}

impl Coding {
    /// In the server's order of preference, for ties in quality.
    pub const ALL: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The sidecar's suffix.
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Zstd => ".zst",
            Coding::Gzip => ".gz",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Identity,
    Coded(Coding),
    /// The client refuses `identity` and every coding we have (406).
    NotAcceptable,
}

/// Chooses between the plain file and the sidecars in `available`, given the
/// request's `Accept-Encoding` (all its values joined by commas), if any.
pub fn choose(accept_encoding: Option<&str>, available: &[Coding]) -> Choice {
    let ours = Coding::ALL
        .into_iter()
        .filter(|coding| available.contains(coding));
    choose_in_order(accept_encoding, ours)
}

/// `choose` among `candidates`, ties in quality going to the first of them.
pub fn choose_in_order(
    accept_encoding: Option<&str>,
    candidates: impl DoubleEndedIterator<Item = Coding>,
) -> Choice {
    // No header: no preference, and the plain file is the safe answer.
    let Some(header) = accept_encoding else {
        return Choice::Identity;
    };
    let preferences = Preferences::parse(header);
    // Unnamed, `identity` stays acceptable (RFC 9110 §12.5.3) but is the
    // least preferred: any coding the client names outright comes first.
    let identity = preferences.quality("identity").unwrap_or(1);
    let best = candidates
        .map(|coding| (preferences.quality(coding.token()).unwrap_or(0), coding))
        .filter(|&(quality, _)| quality > 0)
        // `max_by_key` keeps the last maximum; reverse to keep our order on ties.
        .rev()
        .max_by_key(|&(quality, _)| quality);
    match best {
        // A compressed representation wins ties with the plain one.
        Some((quality, coding)) if quality >= identity => Choice::Coded(coding),
        _ if identity > 0 => Choice::Identity,
        Some((_, coding)) => Choice::Coded(coding),
        None => Choice::NotAcceptable,
    }
}

/// A request's `Accept-Encoding`, all its values joined by commas; `None`
/// without one.
pub fn accept_encoding(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// `(token, quality in thousandths)`, tokens lowercased.
struct Preferences(Vec<(String, u16)>);

impl Preferences {
    fn parse(header: &str) -> Preferences {
        let entries = header
            .split(',')
            .filter_map(|element| {
                let mut parts = element.split(';');
                let token = parts.next()?.trim().to_ascii_lowercase();
                if token.is_empty() {
                    return None;
                }
                let mut quality = 1000;
                for parameter in parts {
                    let (name, value) = parameter.split_once('=')?;
                    if name.trim().eq_ignore_ascii_case("q") {
                        quality = parse_quality(value.trim())?;
                    }
                }
                let token = if token == "x-gzip" {
                    "gzip".to_owned()
                } else {
                    token
                };
                Some((token, quality))
            })
            .collect();
        Preferences(entries)
    }

    /// The quality the client gives `token`: named outright, else through
    /// `*`; `None` if neither applies.
    fn quality(&self, token: &str) -> Option<u16> {
        let named = |wanted: &str| self.0.iter().find(|(t, _)| t == wanted).map(|&(_, q)| q);
        named(token).or_else(|| named("*"))
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths; `None` if malformed (the element is then ignored).
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Choice::*;
    use Coding::*;

    const ALL: &[Coding] = &Coding::ALL;

    #[test]
    fn plain_preferences() {
        assert_eq!(choose(None, ALL), Identity, "no header: the plain file");
        assert_eq!(
            choose(Some("gzip, deflate, br"), ALL),
            Coded(Brotli),
            "ties go to our preference"
        );
        assert_eq!(
            choose(Some("gzip, deflate, br, zstd"), &[Gzip, Zstd]),
            Coded(Zstd)
        );
        assert_eq!(choose(Some("gzip"), ALL), Coded(Gzip));
        assert_eq!(choose(Some("GZIP"), &[Gzip]), Coded(Gzip));
        assert_eq!(choose(Some("x-gzip"), &[Gzip]), Coded(Gzip));
        assert_eq!(choose(Some("deflate"), ALL), Identity);
        assert_eq!(
            choose(Some(""), ALL),
            Identity,
            "an empty header means identity only"
        );
        assert_eq!(choose(Some("br"), &[]), Identity, "no sidecars");
    }

    #[test]
    fn quality_values() {
        assert_eq!(choose(Some("br;q=0.5, gzip;q=0.9"), ALL), Coded(Gzip));
        assert_eq!(choose(Some("br ; q=0.5 , gzip ;q=1.0"), ALL), Coded(Gzip));
        assert_eq!(choose(Some("br;q=0, gzip;q=0"), ALL), Identity);
        assert_eq!(
            choose(Some("gzip;q=0.5, identity"), ALL),
            Identity,
            "identity at 1 beats gzip at 0.5"
        );
        assert_eq!(choose(Some("gzip;q=0.5, identity;q=0.5"), ALL), Coded(Gzip));
        assert_eq!(choose(Some("*"), ALL), Coded(Brotli));
        assert_eq!(choose(Some("*;q=0.1, br;q=0"), ALL), Coded(Zstd));
        assert_eq!(
            choose(Some("br;q=2, gzip;q=0.8"), ALL),
            Coded(Gzip),
            "q=2 is malformed: ignored"
        );
        assert_eq!(
            choose(Some("br;q=abc, gzip;q=0.1234"), ALL),
            Identity,
            "both malformed"
        );
    }

    #[test]
    fn identity_can_be_refused() {
        assert_eq!(choose(Some("gzip, identity;q=0"), ALL), Coded(Gzip));
        assert_eq!(choose(Some("br, identity;q=0"), &[Gzip]), NotAcceptable);
        assert_eq!(choose(Some("*;q=0"), &[]), NotAcceptable);
        assert_eq!(choose(Some("*;q=0, identity"), &[]), Identity);
        assert_eq!(choose(Some("identity;q=0"), &[]), NotAcceptable);
        assert_eq!(
            choose(Some("identity;q=0, gzip;q=0.001"), &[Gzip]),
            Coded(Gzip)
        );
    }

    #[test]
    fn quality_parsing() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.05"), Some(50));
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("0."), Some(0));
        for bad in ["1.1", "2", "-0.5", "0.1234", "", ".5", "0.5x", "one"] {
            assert_eq!(parse_quality(bad), None, "{bad}");
        }
    }
}
