//! The path patterns of `_redirects` and `_headers`: literal text, `:name`
//! placeholders (each one whole segment) and at most one `*` splat (any run
//! of characters, slashes included). A pattern matches a decoded path in one
//! pass from each end, so matching is linear in the path.

use crate::http::percent;
use percent_encoding::utf8_percent_encode;
use std::borrow::Cow;

/// A pattern longer than this is refused.
pub const MAX_LEN: usize = 1024;
/// More placeholders than this in one pattern are refused.
pub const MAX_PLACEHOLDERS: usize = 16;
/// The name `*`'s match goes by in a rule's target.
pub const SPLAT: &str = "splat";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Literal(Cow<'a, str>),
    Placeholder(&'a str),
    Splat,
}

/// A pattern's text, trailing slash dropped (rules match `/about` and
/// `/about/` alike). Matching reads the text as it goes and allocates
/// nothing until a prefix has matched, so a request can try every rule of a
/// file cheaply and `parse` only the one that matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern<'a> {
    text: &'a str,
}

/// What a pattern asks of a path's first segment, told from its text alone
/// (what `prepared` sorts rules by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First<'a> {
    /// The path `/` itself.
    Root,
    /// Exactly this segment.
    Segment(&'a str),
    /// Any: the first segment holds a splat, a placeholder, a `:` or an
    /// escape (taken as any rather than worked out).
    Any,
}

/// What a match bound: each placeholder's segment and the splat, decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Captures<'a, 'p> {
    pub placeholders: Vec<(&'a str, &'p str)>,
    pub splat: Option<&'p str>,
}

impl<'p> Captures<'_, 'p> {
    /// The value bound to `name` (`splat` for the splat).
    pub fn get(&self, name: &str) -> Option<&'p str> {
        if name == SPLAT {
            return self.splat;
        }
        let found = self.placeholders.iter().find(|(n, _)| *n == name);
        found.map(|(_, value)| *value)
    }
}

impl<'a> Pattern<'a> {
    /// Checks `text`: it starts with `/`, has at most one `*` and
    /// `MAX_PLACEHOLDERS` distinct placeholders, each a whole segment;
    /// `%XX` escapes are well formed (they are decoded, as the paths it
    /// matches are) and encode no slash.
    pub fn parse(text: &'a str) -> Result<Pattern<'a>, String> {
        if text.len() > MAX_LEN {
            return Err(format!("a pattern is at most {MAX_LEN} bytes"));
        }
        if !text.starts_with('/') {
            return Err(format!("`{text}` is not a path: a pattern starts with /"));
        }
        if text.contains('?') {
            return Err("patterns match paths only, not query strings".to_owned());
        }
        if text.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("a pattern cannot hold control characters".to_owned());
        }
        let pattern = Pattern::unchecked(text);
        let mut splats = 0;
        let mut names: Vec<&str> = Vec::new();
        for token in pattern.tokens() {
            match token? {
                Token::Splat if splats > 0 => return Err("a pattern has at most one *".to_owned()),
                Token::Splat => splats += 1,
                Token::Placeholder(name) if names.contains(&name) => {
                    return Err(format!("`:{name}` appears twice"));
                }
                Token::Placeholder(_) if names.len() == MAX_PLACEHOLDERS => {
                    return Err(format!(
                        "a pattern has at most {MAX_PLACEHOLDERS} placeholders"
                    ));
                }
                Token::Placeholder(name) => names.push(name),
                Token::Literal(_) => {}
            }
        }
        Ok(pattern)
    }

    /// The pattern `text` stands for if it is valid; `matches` on it is
    /// what `matches` on the parsed pattern would say.
    pub fn unchecked(text: &'a str) -> Pattern<'a> {
        Pattern {
            text: normalized(text),
        }
    }

    /// The pattern's text as it matches (trailing slash dropped).
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// What a path's first segment must be for this pattern to match it.
    /// One pass over that segment's bytes: a request that prepares the
    /// rules itself asks this of every line.
    pub fn first(&self) -> First<'a> {
        let Some(rest) = self.text.strip_prefix('/') else {
            return First::Any;
        };
        if rest.is_empty() {
            return First::Root;
        }
        let mut end = rest.len();
        for (at, byte) in rest.bytes().enumerate() {
            match byte {
                b'*' | b':' | b'%' => return First::Any,
                b'/' => {
                    end = at;
                    break;
                }
                _ => {}
            }
        }
        match &rest[..end] {
            // No path has an empty segment, but `//*` matches `/` as
            // `/blog/*` matches `/blog` (found by fuzzing).
            "" => First::Root,
            segment => First::Segment(segment),
        }
    }

    fn tokens(&self) -> Tokens<'a> {
        Tokens {
            text: self.text,
            at: 0,
        }
    }

    /// Whether a rule's target may refer to `name`: a placeholder here, or
    /// `splat` when there is a `*`.
    pub fn binds(&self, name: &str) -> bool {
        self.tokens().any(|token| match token {
            Ok(Token::Splat) => name == SPLAT,
            Ok(Token::Placeholder(placeholder)) => placeholder == name,
            _ => false,
        })
    }

    /// Matches `path`, a decoded path as `SitePath::decoded` gives it (no
    /// trailing slash but for `/`). A pattern ending in `/*` also matches the
    /// path without that slash, with an empty splat (`/blog/*` matches
    /// `/blog`). A pattern that does not parse matches nothing.
    pub fn matches<'p>(&self, path: &'p str) -> Option<Captures<'a, 'p>> {
        let mut tokens = self.tokens();
        let mut captures = Captures::default();
        let mut start = 0;
        loop {
            match tokens.next() {
                None => return (start == path.len()).then_some(captures),
                Some(Err(_)) => return None,
                Some(Ok(Token::Literal(literal)))
                    if path[start..].starts_with(literal.as_ref()) =>
                {
                    start += literal.len();
                }
                Some(Ok(Token::Literal(literal))) => {
                    // `/blog/*` at `/blog`: the splat is empty.
                    let at_blog = literal.strip_suffix('/') == Some(&path[start..]);
                    if at_blog && &self.text[tokens.at..] == "*" {
                        captures.splat = Some("");
                        return Some(captures);
                    }
                    return None;
                }
                Some(Ok(Token::Placeholder(name))) => {
                    let end = path[start..].find('/').map_or(path.len(), |e| start + e);
                    if end == start {
                        return None;
                    }
                    captures.placeholders.push((name, &path[start..end]));
                    start = end;
                }
                Some(Ok(Token::Splat)) => break,
            }
        }
        // After the splat: matched from the end of the path backwards.
        let suffix: Vec<Token<'a>> = tokens.collect::<Result<_, _>>().ok()?;
        let mut end = path.len();
        for token in suffix.iter().rev() {
            let rest = &path[start..end];
            match token {
                Token::Literal(literal) if rest.ends_with(literal.as_ref()) => {
                    end -= literal.len();
                }
                Token::Literal(_) | Token::Splat => return None,
                Token::Placeholder(name) => {
                    let begin = rest.rfind('/').map_or(start, |b| start + b + 1);
                    if begin == end {
                        return None;
                    }
                    captures.placeholders.push((*name, &path[begin..end]));
                    end = begin;
                }
            }
        }
        captures.splat = Some(&path[start..end]);
        Some(captures)
    }
}

/// Whether the pattern that starts `line` (a rule's or a block's line)
/// surely does not match `path`: its leading plain bytes already differ.
/// One pass over those bytes, before the line is even split into words, so
/// most rules of a file are turned down at their first few bytes.
#[inline]
pub fn cannot_match(line: &str, path: &str) -> bool {
    let path = path.as_bytes();
    for (i, &byte) in line.as_bytes().iter().enumerate() {
        if matches!(byte, b'*' | b':' | b'%') || byte.is_ascii_whitespace() {
            return false;
        }
        match path.get(i) {
            Some(&at) if at == byte => {}
            // The path ended: `/blog/*` (or `/about/`) may still match.
            None => return false,
            Some(_) => return true,
        }
    }
    false
}

/// The tokens of a pattern's text, in order; an error for a piece that is
/// not valid.
struct Tokens<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Result<Token<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        if bytes[start] == b'*' {
            self.at += 1;
            return Some(Ok(Token::Splat));
        }
        if starts_placeholder(bytes, start) {
            let end = self.text[start..]
                .find('/')
                .map_or(bytes.len(), |e| start + e);
            self.at = end;
            let name = &self.text[start + 1..end];
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Some(Err(format!(
                    "`:{name}`: a placeholder is a whole segment of letters, digits and _"
                )));
            }
            if name == SPLAT {
                return Some(Err(
                    "`:splat` is the name of *'s match, not a placeholder".into()
                ));
            }
            return Some(Ok(Token::Placeholder(name)));
        }
        let mut end = start + 1;
        while end < bytes.len() && bytes[end] != b'*' && !starts_placeholder(bytes, end) {
            end += 1;
        }
        self.at = end;
        Some(literal(&self.text[start..end]))
    }
}

/// A `:` that begins a segment and is followed by a name's first character.
fn starts_placeholder(bytes: &[u8], at: usize) -> bool {
    bytes[at] == b':'
        && at > 0
        && bytes[at - 1] == b'/'
        && bytes
            .get(at + 1)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
}

/// `/about/` matches as `/about` (but `/` stays `/`).
fn normalized(text: &str) -> &str {
    match text.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => text,
    }
}

fn literal(text: &str) -> Result<Token<'_>, String> {
    if memchr::memchr(b'%', text.as_bytes()).is_none() {
        return Ok(Token::Literal(Cow::Borrowed(text)));
    }
    let decoded = percent::decode_strict(text.as_bytes())
        .map_err(|_| format!("`{text}` has a malformed %-escape or is not UTF-8"))?;
    let separators = |text: &str| text.matches(['/', '\\', '\0']).count();
    if separators(&decoded) != separators(text) {
        return Err(format!("`{text}` encodes a slash or NUL"));
    }
    Ok(Token::Literal(decoded))
}

/// `template` with each `:name` it binds replaced by its value, encoded (the
/// splat keeps its slashes); other text is kept as it is. `check` has made
/// sure every `:name` in a rule's target is bound.
pub fn expand(template: &str, captures: &Captures<'_, '_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(':') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name_len = placeholder_len(after);
        match captures.get(&after[..name_len]) {
            Some(value) if name_len > 0 => {
                for (i, segment) in value.split('/').enumerate() {
                    if i > 0 {
                        out.push('/');
                    }
                    out.extend(utf8_percent_encode(segment, percent::SEGMENT));
                }
            }
            _ => {
                out.push(':');
                out.push_str(&after[..name_len]);
            }
        }
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

/// The names `:name` refers to in `template`, in order.
pub fn references(template: &str) -> impl Iterator<Item = &str> {
    template.match_indices(':').filter_map(|(at, _)| {
        let after = &template[at + 1..];
        let len = placeholder_len(after);
        (len > 0).then(|| &after[..len])
    })
}

/// How long the name at the start of `text` is: a letter or `_`, then
/// letters, digits and `_` (0 when `text` starts with none, as after
/// `https:` or before a port).
fn placeholder_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return 0;
    }
    bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(bytes.len())
}

#[cfg(test)]
mod tests;
