//! `SitePath`: a request path, percent-decoded and checked. It is the only way a
//! URL reaches the file system, so path traversal is ruled out here, once.

use crate::http::percent::{self, DecodeError};
use std::fmt;

/// A request path as a list of plain names below the site root.
///
/// Every segment is non-empty, valid UTF-8, not `.` or `..`, and free of `/`,
/// `\`, NUL and other control characters, so joining the segments under a root
/// can never name anything outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePath {
    segments: Vec<String>,
    /// The URL path ended in `/` (or was `/`): it names a directory.
    trailing_slash: bool,
}

/// Why a request path was refused; every variant is the client's fault (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    NotAbsolute,
    EmptySegment,
    BadEscape,
    NotUtf8,
    DotSegment,
    ForbiddenCharacter,
}

/// A segment at `depth` (0 for the top level) that hides what it names: one
/// starting with a dot, except the top-level `.well-known`.
fn hidden_segment(depth: usize, segment: &str) -> bool {
    segment.starts_with('.') && !(depth == 0 && segment == ".well-known")
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "the path must start with /",
            PathError::EmptySegment => "the path contains an empty segment (//)",
            PathError::BadEscape => "the path contains a malformed %-escape",
            PathError::NotUtf8 => "the path is not valid UTF-8 once decoded",
            PathError::DotSegment => "the path contains a . or .. segment",
            PathError::ForbiddenCharacter => {
                "the path contains an encoded slash, a backslash or a control character"
            }
        })
    }
}

impl SitePath {
    /// The site root, `/`.
    pub fn root() -> Self {
        SitePath {
            segments: Vec::new(),
            trailing_slash: true,
        }
    }

    /// Decodes and checks the path part of a request target (no query).
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        if rest.is_empty() {
            return Ok(Self::root());
        }
        let (body, trailing_slash) = match rest.strip_suffix('/') {
            Some(body) => (body, true),
            None => (rest, false),
        };
        let segments = body
            .split('/')
            .map(decode_segment)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SitePath {
            segments,
            trailing_slash,
        })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the URL named a directory (ended in `/`).
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The last name, if any: what the Content-Type is guessed from.
    pub fn file_name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// This directory's entry `name`, if a request path could name it (the
    /// very check a request's segments pass): what a listing may show.
    pub fn entry(&self, name: &str) -> Option<SitePath> {
        check_name(name).ok().map(|()| self.child(name))
    }

    /// This directory's entry `name` (a plain name the code chose, such as
    /// `index.html`).
    pub fn child(&self, name: &str) -> SitePath {
        debug_assert!(check_name(name).is_ok());
        let mut segments = self.segments.clone();
        segments.push(name.to_owned());
        SitePath {
            segments,
            trailing_slash: false,
        }
    }

    /// The same file name with `suffix` appended (`a.css` → `a.css.br`).
    pub fn with_suffix(&self, suffix: &str) -> SitePath {
        let mut sibling = self.clone();
        if let Some(last) = sibling.segments.last_mut() {
            last.push_str(suffix);
        }
        sibling
    }

    /// Whether a segment starts with a dot (`/.git/config`, `/a/.env`);
    /// `/.well-known/` (RFC 8615) is public by definition and does not count.
    /// The one rule for serving and listing alike.
    pub fn is_hidden(&self) -> bool {
        self.segments
            .iter()
            .enumerate()
            .any(|(depth, segment)| hidden_segment(depth, segment))
    }

    /// The decoded path as text, `/`-joined, without a trailing slash (`/`
    /// for the root): what the site's rules match.
    pub fn decoded(&self) -> String {
        let mut text =
            String::with_capacity(1 + self.segments.iter().map(|s| s.len() + 1).sum::<usize>());
        for segment in &self.segments {
            text.push('/');
            text.push_str(segment);
        }
        if text.is_empty() {
            text.push('/');
        }
        text
    }

    /// The path as it goes into a URL, each segment percent-encoded, with
    /// its trailing slash.
    pub fn encoded(&self) -> String {
        let mut url = String::new();
        for segment in &self.segments {
            url.push('/');
            url.extend(percent_encoding::utf8_percent_encode(
                segment,
                percent::SEGMENT,
            ));
        }
        if self.trailing_slash || url.is_empty() {
            url.push('/');
        }
        url
    }

    /// The directory this path is in, as a directory (`/a/b.html` → `/a/`).
    pub fn parent(&self) -> SitePath {
        let mut segments = self.segments.clone();
        segments.pop();
        SitePath {
            segments,
            trailing_slash: true,
        }
    }

    /// The path relative to the root, `/`-separated, `.` for the root itself:
    /// the form `wasi:filesystem` `open-at` takes.
    pub fn relative(&self) -> String {
        if self.segments.is_empty() {
            ".".to_owned()
        } else {
            self.segments.join("/")
        }
    }
}

fn decode_segment(raw: &str) -> Result<String, PathError> {
    if raw.is_empty() {
        return Err(PathError::EmptySegment);
    }
    let name = percent::decode_strict(raw.as_bytes()).map_err(|error| match error {
        DecodeError::BadEscape => PathError::BadEscape,
        DecodeError::NotUtf8 => PathError::NotUtf8,
    })?;
    check_name(&name)?;
    Ok(name.into_owned())
}

/// Whether `name`, decoded, may be a segment: the one rule for the names a
/// request may carry and so for the names a listing may show.
fn check_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::EmptySegment);
    }
    if name == "." || name == ".." {
        return Err(PathError::DotSegment);
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(PathError::ForbiddenCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    fn names(path: &str) -> Vec<String> {
        SitePath::parse(path).unwrap().segments().to_vec()
    }

    #[test]
    fn root_and_plain_paths() {
        assert_eq!(SitePath::parse("/").unwrap(), SitePath::root());
        assert_eq!(names("/index.css"), ["index.css"]);
        assert_eq!(names("/a/b/c.txt"), ["a", "b", "c.txt"]);
        assert!(SitePath::parse("/docs/").unwrap().has_trailing_slash());
        assert!(!SitePath::parse("/docs").unwrap().has_trailing_slash());
        assert_eq!(SitePath::root().relative(), ".");
        assert_eq!(SitePath::parse("/a/b").unwrap().relative(), "a/b");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(names("/my%20page.html"), ["my page.html"]);
        assert_eq!(names("/caf%C3%A9"), ["café"]);
        assert_eq!(names("/a+b"), ["a+b"], "+ is not a space in paths");
    }

    #[test]
    fn traversal_and_malformed_paths_are_refused() {
        use PathError::*;
        let cases = [
            ("", NotAbsolute),
            ("index.html", NotAbsolute),
            ("//etc/passwd", EmptySegment),
            ("/a//b", EmptySegment),
            ("/..", DotSegment),
            ("/../secret.txt", DotSegment),
            ("/a/../../secret.txt", DotSegment),
            ("/%2e%2e/secret.txt", DotSegment),
            ("/%2E%2E/secret.txt", DotSegment),
            ("/.%2e/secret.txt", DotSegment),
            ("/./index.html", DotSegment),
            ("/..%2fsecret.txt", ForbiddenCharacter),
            ("/..%2Fsecret.txt", ForbiddenCharacter),
            ("/..%5csecret.txt", ForbiddenCharacter),
            ("/..\\secret.txt", ForbiddenCharacter),
            ("/%2fetc%2fpasswd", ForbiddenCharacter),
            ("/index.html%00.png", ForbiddenCharacter),
            ("/a%0ab", ForbiddenCharacter),
            ("/100%", BadEscape),
            ("/%zz", BadEscape),
            ("/%c3%28", NotUtf8),
            ("/%ff", NotUtf8),
        ];
        for (path, expected) in cases {
            assert_eq!(SitePath::parse(path), Err(expected), "{path:?}");
        }
    }

    /// A listed name is one a request can carry: the same check decides.
    #[test]
    fn an_entry_is_a_name_a_request_could_carry() {
        let dir = SitePath::parse("/a/").unwrap();
        for name in ["b.txt", "ü é", ".env", "a%2Fb"] {
            let entry = dir.entry(name).unwrap();
            let encoded = SitePath::parse(&entry.encoded()).unwrap();
            assert_eq!(encoded, entry, "{name}");
        }
        for name in [
            "",
            ".",
            "..",
            "a\\b",
            "tab\t",
            "nul\0",
            "esc\u{1b}",
            "nel\u{85}",
        ] {
            assert_eq!(dir.entry(name), None, "{name:?}");
        }
    }

    #[test]
    fn hidden_paths_and_suffixes() {
        let hidden = |path: &str| SitePath::parse(path).unwrap().is_hidden();
        assert!(
            hidden("/.env")
                && hidden("/.git/config")
                && hidden("/a/.htaccess")
                && hidden("/a/.b/c")
        );
        assert!(!hidden("/") && !hidden("/a.b/c.d") && !hidden("/.well-known/security.txt"));
        assert!(
            hidden("/a/.well-known/x"),
            "only the top-level .well-known is public"
        );
        let css = SitePath::parse("/css/site.css").unwrap();
        assert_eq!(css.with_suffix(".br").relative(), "css/site.css.br");
    }

    #[test]
    fn child_keeps_the_parent() {
        let dir = SitePath::parse("/docs/").unwrap();
        let index = dir.child("index.html");
        assert_eq!(index.segments(), ["docs", "index.html"]);
        assert!(!index.has_trailing_slash());
        assert_eq!(index.file_name(), Some("index.html"));
    }

    /// Strings made of the pieces attackers use, so the property test below
    /// reaches the interesting cases often.
    fn hostile_path() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("%2e".to_owned()),
            Just("%2E".to_owned()),
            Just("%2f".to_owned()),
            Just("%5c".to_owned()),
            Just("\\".to_owned()),
            Just("%00".to_owned()),
            Just("%".to_owned()),
            Just("%c0%ae".to_owned()),
            "[a-z]{1,3}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn parsed_paths_stay_below_the_root(path in prop_oneof![hostile_path(), any::<String>()]) {
            if let Ok(site_path) = SitePath::parse(&path) {
                let root = Path::new("/srv/static");
                let mut joined = root.to_path_buf();
                for segment in site_path.segments() {
                    prop_assert!(!segment.is_empty());
                    prop_assert!(segment != "." && segment != "..");
                    prop_assert!(!segment.contains(['/', '\\', '\0']));
                    joined.push(segment);
                }
                prop_assert!(joined.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
                prop_assert!(joined.starts_with(root));
                prop_assert_eq!(joined.components().count(), 3 + site_path.segments().len());
            }
        }

        #[test]
        fn plain_names_round_trip(names in proptest::collection::vec("[A-Za-z0-9_-][A-Za-z0-9 ._-]{0,8}", 1..5)) {
            let names: Vec<String> = names.into_iter().filter(|n| n != "." && n != "..").collect();
            prop_assume!(!names.is_empty());
            let encoded: Vec<String> = names
                .iter()
                .map(|n| percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC).to_string())
                .collect();
            let parsed = SitePath::parse(&format!("/{}", encoded.join("/"))).unwrap();
            prop_assert_eq!(parsed.segments(), names.as_slice());
        }
    }
}
