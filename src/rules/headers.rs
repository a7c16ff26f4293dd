//! `_headers`, as Netlify and Cloudflare Pages read it: blocks of a path
//! pattern line followed by header lines (`Name: value` adds, `! Name`
//! removes), indented by convention. Every block whose pattern matches the
//! request's path applies, in file order, to every answer — files, listings,
//! redirects and error pages alike. A header a block sets replaces the one
//! sitebox would send; the headers that frame a response, and those a
//! `wasi:http` host refuses, are not theirs to set.

use super::pattern::cannot_match;
use super::pattern::{self, Captures, Pattern};
use super::prepared_lines::{HeaderLine, header_lines};
use super::{Source, first_word, line_length, lines};
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Pattern lines after this many are ignored (and reported).
pub const MAX_BLOCKS: usize = 200;

/// Framing and hop-by-hop headers: sitebox and the host own these, and a
/// wrong value would break the response on the wire.
const FRAMING: [&str; 10] = [
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "content-range",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// The other names a `wasi:http` host refuses in a guest's response
/// (wasmtime-wasi-http's `DEFAULT_FORBIDDEN_HEADERS`, jco's
/// `_forbiddenHeaders`; the rest of that list is in `FRAMING`): setting one
/// would turn every matching answer into a 500.
const HOST_REFUSED: [&str; 4] = [
    "host",
    "proxy-authenticate",
    "proxy-authorization",
    "http2-settings",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Set(HeaderName, HeaderValue),
    Remove(HeaderName),
}

/// A line of the file, classified but not yet parsed further: header lines
/// are parsed only in blocks that match.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A block's path pattern line, unparsed (`pattern` parses it).
    Pattern(&'a str),
    /// A header line (`Name: value` or `! Name`), unparsed.
    Entry(&'a str),
    /// The block limit was reached here: this and later lines are ignored.
    TooMany,
}

/// The lines of `text` with their numbers; comments and blank lines are
/// skipped.
pub fn items(text: &str) -> impl Iterator<Item = (usize, Line<'_>)> {
    let mut blocks = 0;
    lines(text).map_while(move |(number, content)| {
        if blocks > MAX_BLOCKS {
            return None;
        }
        let line = if is_pattern_line(content) {
            blocks += 1;
            if blocks > MAX_BLOCKS {
                Line::TooMany
            } else {
                Line::Pattern(content)
            }
        } else {
            Line::Entry(content)
        };
        Some((number, line))
    })
}

/// A block starts with a path, or a URL (which sitebox refuses); header
/// lines start with a name or `!`.
fn is_pattern_line(content: &str) -> bool {
    content.starts_with('/') || content.starts_with("https://") || content.starts_with("http://")
}

/// A block's pattern line.
pub fn pattern(content: &str) -> Result<Pattern<'_>, String> {
    line_length(content)?;
    let mut tokens = content.split_ascii_whitespace();
    let text = tokens.next().expect("lines() yields no blank lines");
    if text.contains("://") {
        return Err(format!(
            "`{text}`: patterns are paths on this site (/…); host patterns are not supported"
        ));
    }
    if let Some(extra) = tokens.find(|token| !token.starts_with('#')) {
        return Err(format!(
            "`{extra}` after the path: a header goes on a line of its own below it"
        ));
    }
    Pattern::parse(text)
}

/// One header line.
pub fn entry(content: &str) -> Result<Entry, String> {
    line_length(content)?;
    if let Some(name) = content.strip_prefix('!') {
        return Ok(Entry::Remove(name_of(name.trim())?));
    }
    let Some((name, value)) = content.split_once(':') else {
        return Err(format!(
            "`{content}` is neither `Name: value`, `! Name` nor a path"
        ));
    };
    let name = name_of(name.trim())?;
    if value.trim().is_empty() {
        // As Netlify and Cloudflare Pages: an empty header is a mistake.
        return Err(format!(
            "{name} has no value (remove a header with `! {name}`)"
        ));
    }
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of {name} has characters a header cannot carry"))?;
    Ok(Entry::Set(name, value))
}

fn name_of(text: &str) -> Result<HeaderName, String> {
    let name = HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| format!("`{text}` is not a header name"))?;
    if FRAMING.contains(&name.as_str()) {
        return Err(format!(
            "{name} frames the response: sitebox sets it, a site cannot"
        ));
    }
    if HOST_REFUSED.contains(&name.as_str()) {
        return Err(format!(
            "{name} is refused by wasi:http hosts in a response (every matching answer would be a 500)"
        ));
    }
    Ok(name)
}

/// Applies to `headers` every block of `rules` whose pattern matches `path`
/// (decoded, as `SitePath::decoded` gives it), in order: a block's header
/// replaces the one the answer had, several blocks' values for one name add
/// up, and a removal drops what came before it. A file's lines are checked
/// as they are met (in error: skipped); a preparation's were already.
pub fn apply(rules: Source<'_>, path: &str, headers: &mut HeaderMap) {
    let mut changes = Changes::default();
    // Plain loops, no iterator adapters: this runs on every request.
    match rules {
        Source::File(text) => {
            for (_, line) in items(text) {
                match line {
                    Line::Pattern(line) => changes.block(line, false, path),
                    Line::Entry(line) => changes.entry(BlockEntry::File(line)),
                    Line::TooMany => {}
                }
            }
        }
        Source::Prepared(text) => {
            for line in header_lines(text) {
                match line {
                    HeaderLine::Pattern(line) => changes.block(line, true, path),
                    entry => changes.entry(BlockEntry::Prepared(entry)),
                }
            }
        }
    }
    changes.apply_to(headers);
}

/// A header line of a block: the file's, unparsed, or a preparation's.
enum BlockEntry<'a> {
    File(&'a str),
    Prepared(HeaderLine<'a>),
}

impl BlockEntry<'_> {
    /// What the line sets (`Some` value) or removes; `None` for a line in
    /// error.
    fn read(self) -> Option<(HeaderName, Option<HeaderValue>)> {
        match self {
            BlockEntry::File(line) => match entry(line).ok()? {
                Entry::Set(name, value) => Some((name, Some(value))),
                Entry::Remove(name) => Some((name, None)),
            },
            BlockEntry::Prepared(HeaderLine::Set(name, value)) => Some((
                HeaderName::from_lowercase(name.as_bytes()).ok()?,
                Some(HeaderValue::from_str(value).ok()?),
            )),
            BlockEntry::Prepared(HeaderLine::Remove(name)) => {
                Some((HeaderName::from_lowercase(name.as_bytes()).ok()?, None))
            }
            BlockEntry::Prepared(HeaderLine::Pattern(_)) => None,
        }
    }
}

/// What the matching blocks do, by name, as `apply` reads them.
#[derive(Default)]
struct Changes<'a, 'p> {
    /// Each name a block touched: its values, or `None` once removed.
    by_name: Vec<(HeaderName, Option<Vec<HeaderValue>>)>,
    /// What the pattern of the block we are in bound, if it matches.
    matching_block: Option<Captures<'a, 'p>>,
}

impl<'a, 'p> Changes<'a, 'p> {
    /// A block starts at `line`; `checked` when it came prepared.
    fn block(&mut self, line: &'a str, checked: bool, path: &'p str) {
        // The cheap test first: most blocks do not match.
        self.matching_block = if cannot_match(line, path) {
            None
        } else {
            let captures = Pattern::unchecked(first_word(line)).matches(path);
            captures.filter(|_| checked || pattern(line).is_ok())
        };
    }

    fn entry(&mut self, entry: BlockEntry<'_>) {
        let Some(captures) = &self.matching_block else {
            return;
        };
        let Some((name, value)) = entry.read() else {
            return;
        };
        // `:name` and `:splat` in a value are filled in, as on Cloudflare
        // Pages (percent-encoded, as in a redirect's target, so the value
        // stays a valid header).
        let value = match value {
            Some(value) if value.as_bytes().contains(&b':') => match value.to_str() {
                Ok(text) => match HeaderValue::try_from(pattern::expand(text, captures)) {
                    Ok(filled) => Some(filled),
                    Err(_) => return,
                },
                Err(_) => Some(value),
            },
            value => value,
        };
        let change = match self.by_name.iter().position(|(n, _)| *n == name) {
            Some(at) => &mut self.by_name[at].1,
            None => {
                self.by_name.push((name, None));
                &mut self.by_name.last_mut().expect("just pushed").1
            }
        };
        match (value, change) {
            (Some(value), Some(values)) => values.push(value),
            (value, change) => *change = value.map(|value| vec![value]),
        }
    }

    fn apply_to(self, headers: &mut HeaderMap) {
        for (name, values) in self.by_name {
            headers.remove(&name);
            for value in values.into_iter().flatten() {
                headers.append(name.clone(), value);
            }
        }
    }
}

// Its tests are `rules::tests::headers`: they check every answer against
// `prepared`'s text too, and `prepared` depends on this module.
