//! The rules files prepared for the paths of one scope (by first segment):
//! only the valid rules that can apply there, in file order, already checked,
//! one per line in a form that is split, not parsed. Matching reads only
//! this form, so a request pays for the rules that concern it, not for the
//! file. The runner prepares each scope once per change of a file and hands
//! the text in (`HandedRules`); a component that reads a file itself prepares
//! it for its own request.
//!
//! A prepared `_redirects` holds `LINE STATUS[!] FROM TO` lines: the rules
//! whose FROM can match a path of the scope, and, transitively, those of the
//! scopes its rewrites lead to (a rewrite starts the rules over at its
//! target). A prepared `_headers` holds a block's pattern line (`/…`) followed
//! by its `name:value` and `!name` lines, for the blocks of the scope.

use super::headers::{self, Entry, Line};
use super::pattern::{First, Pattern};
use super::redirects::{self, Action};
use super::{HEADERS_FILE, first_word};
use crate::site_path::SitePath;
use std::collections::HashSet;
use std::fmt::Write;

/// The paths a preparation is for, by their first segment (decoded).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every path: all the valid rules of the file.
    All,
    /// The path `/`.
    Root,
    /// The paths whose first segment is this.
    Segment(String),
    /// The paths whose first segment no pattern of the file names: for them
    /// all, the same rules apply (those of patterns that start with a splat
    /// or a placeholder).
    Other,
}

impl Scope {
    /// The scope of a path.
    pub(crate) fn of(path: &SitePath) -> Scope {
        match path.segments().first() {
            Some(segment) => Scope::Segment(segment.clone()),
            None => Scope::Root,
        }
    }

    /// The scope of a request's path (as in the request target), `None` for
    /// a path the component refuses (no rules apply to it).
    pub fn of_request(path: &str) -> Option<Scope> {
        SitePath::parse(path).ok().map(|path| Scope::of(&path))
    }
}

/// The scopes whose preparation of `text` (the contents of `file`) may
/// differ from `Scope::Other`'s: the first segments its patterns name
/// (lines in error included, which costs only a preparation more).
pub fn named_scopes(file: &'static str, text: &str) -> HashSet<Scope> {
    let firsts: Vec<First<'_>> = if file == HEADERS_FILE {
        headers::items(text)
            .filter_map(|(_, line)| match line {
                Line::Pattern(content) => Some(first_of(content)),
                _ => None,
            })
            .collect()
    } else {
        redirects::rule_lines(text)
            .filter_map(|(_, content)| content.ok().map(first_of))
            .collect()
    };
    firsts
        .into_iter()
        .filter_map(|first| match first {
            First::Root => Some(Scope::Root),
            First::Segment(segment) => Some(Scope::Segment(segment.to_owned())),
            First::Any => None,
        })
        .collect()
}

/// `text`, the contents of `file`, prepared for `scope`; "" when no rule of
/// it can apply there.
pub fn prepare(file: &'static str, text: &str, scope: &Scope) -> String {
    if file == HEADERS_FILE {
        prepare_headers(text, scope)
    } else {
        prepare_redirects(text, scope)
    }
}

/// What a line's pattern (its first word) asks of a path's first segment.
fn first_of(content: &str) -> First<'_> {
    Pattern::unchecked(first_word(content)).first()
}

/// The first segments a preparation covers.
#[derive(Debug, Default)]
struct Covered {
    all: bool,
    root: bool,
    segments: HashSet<String>,
}

impl Covered {
    fn new(scope: &Scope) -> Covered {
        let mut covered = Covered::default();
        match scope {
            Scope::All => covered.all = true,
            Scope::Root => covered.root = true,
            Scope::Segment(segment) => {
                covered.segments.insert(segment.clone());
            }
            Scope::Other => {}
        }
        covered
    }

    /// Whether a pattern asking `first` can match a covered path.
    fn admits(&self, first: First<'_>) -> bool {
        match first {
            _ if self.all => true,
            First::Any => true,
            First::Root => self.root,
            First::Segment(segment) => self.segments.contains(segment),
        }
    }

    /// Covers the paths a rewrite to `to` leads to; whether that is more
    /// than before. A placeholder in TO's first segment can lead anywhere;
    /// a TO that is no valid path ends the routing there (a broken rule).
    fn add_target(&mut self, to: &str) -> bool {
        let path = to.split('?').next().unwrap_or(to);
        let first = path.strip_prefix('/').unwrap_or(path);
        let first = first.split('/').next().unwrap_or_default();
        if first.is_empty() {
            return !std::mem::replace(&mut self.root, true);
        }
        if first.contains(':') {
            return !std::mem::replace(&mut self.all, true);
        }
        match SitePath::parse(&format!("/{first}")) {
            Ok(target) => match target.segments().first() {
                Some(segment) => self.segments.insert(segment.clone()),
                None => !std::mem::replace(&mut self.root, true),
            },
            Err(_) => false,
        }
    }
}

fn prepare_redirects(text: &str, scope: &Scope) -> String {
    let lines: Vec<(usize, &str, First<'_>)> = redirects::rule_lines(text)
        .filter_map(|(line, content)| {
            let content = content.ok()?;
            Some((line, content, first_of(content)))
        })
        .collect();
    let mut covered = Covered::new(scope);
    let mut taken = vec![false; lines.len()];
    let mut chosen = Vec::new();
    // Until the rewrites of the rules taken lead nowhere new.
    loop {
        let mut grew = false;
        for (index, &(line, content, first)) in lines.iter().enumerate() {
            if taken[index] || !covered.admits(first) {
                continue;
            }
            taken[index] = true;
            let Ok(rule) = redirects::parse(line, content) else {
                continue;
            };
            if rule.action == Action::Rewrite {
                grew |= covered.add_target(rule.to);
            }
            chosen.push((index, rule));
        }
        if !grew {
            break;
        }
    }
    chosen.sort_by_key(|(index, _)| *index);
    let mut out = String::new();
    for (index, rule) in chosen {
        let status = match rule.action {
            Action::Redirect(status) => status.as_u16(),
            Action::Rewrite => 200,
            Action::NotFound => 404,
        };
        let force = if rule.force { "!" } else { "" };
        let from = first_word(lines[index].1);
        let _ = writeln!(out, "{} {status}{force} {from} {}", rule.line, rule.to);
    }
    out
}

fn prepare_headers(text: &str, scope: &Scope) -> String {
    let covered = Covered::new(scope);
    let mut out = String::new();
    // The pattern of the block being read, until its first valid header
    // line writes it (a block without one is left out).
    let mut block: Option<&str> = None;
    let mut in_block = false;
    for (_, line) in headers::items(text) {
        match line {
            Line::Pattern(content) => {
                in_block = covered.admits(first_of(content)) && headers::pattern(content).is_ok();
                block = in_block.then(|| first_word(content));
            }
            Line::Entry(content) if in_block => {
                let Ok(entry) = headers::entry(content) else {
                    continue;
                };
                if let Some(pattern) = block.take() {
                    out.push_str(pattern);
                    out.push('\n');
                }
                match entry {
                    Entry::Set(name, value) => {
                        let value = value.to_str().expect("checked: visible ASCII");
                        let _ = writeln!(out, "{name}:{value}");
                    }
                    Entry::Remove(name) => {
                        let _ = writeln!(out, "!{name}");
                    }
                }
            }
            Line::Entry(_) | Line::TooMany => {}
        }
    }
    out
}

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

#[cfg(test)]
mod tests;
