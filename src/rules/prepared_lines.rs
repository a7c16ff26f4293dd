//! The lines of a prepared text read back (the form `prepared` writes): a
//! `_redirects` rule split into its fields, a `_headers` block's pattern or
//! entry. Split, not parsed, with `memchr`: every request reads them.
//! `redirects` and `headers` read through it; it uses neither.

/// The rules of a prepared `_redirects`, in order, each with the text of
/// its FROM.
pub(crate) fn redirect_rules(prepared: &str) -> impl Iterator<Item = PreparedRule<'_>> {
    records(prepared).filter_map(|record| {
        let (line, rest) = split_at_byte(record, b' ')?;
        let (status, rest) = split_at_byte(rest, b' ')?;
        let (from, to) = split_at_byte(rest, b' ')?;
        Some(PreparedRule {
            line,
            status,
            from,
            to,
        })
    })
}

/// The lines of a prepared text, each ending in `\n`; with `memchr`, as
/// every request reads them.
fn records(prepared: &str) -> impl Iterator<Item = &str> {
    let mut rest = prepared;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        let record = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(record)
    })
}

/// `text` before and after the first `byte` (an ASCII one).
fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    let at = memchr::memchr(byte, text.as_bytes())?;
    Some((&text[..at], &text[at + 1..]))
}

/// One line of a prepared `_redirects`, split but not yet read further.
pub(crate) struct PreparedRule<'a> {
    pub line: &'a str,
    pub status: &'a str,
    pub from: &'a str,
    pub to: &'a str,
}

/// The lines of a prepared `_headers`: a block's pattern or one of its
/// entries.
pub(crate) fn header_lines(prepared: &str) -> impl Iterator<Item = HeaderLine<'_>> {
    records(prepared).map(|line| {
        if line.starts_with('/') {
            HeaderLine::Pattern(line)
        } else if let Some(name) = line.strip_prefix('!') {
            HeaderLine::Remove(name)
        } else {
            let (name, value) = split_at_byte(line, b':').unwrap_or((line, ""));
            HeaderLine::Set(name, value)
        }
    })
}

pub(crate) enum HeaderLine<'a> {
    Pattern(&'a str),
    Set(&'a str, &'a str),
    Remove(&'a str),
}
