//! The rules files prepared for the paths of one scope (by first segment):
//! only the valid rules that can apply there, in file order, already checked,
//! one per line in a form that is split, not parsed, so a request pays for
//! the rules that concern it, not for the file. The runner prepares each
//! scope once per change of a file and hands the text in (`HandedRules`);
//! matching reads it as `Source::Prepared`, through `prepared_lines`. A component that reads a file
//! itself matches the file as it is (`Source::File`): preparing it per
//! request would cost more than the lines it saves.
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
use crate::http::site_path::SitePath;
use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// Whether a pattern asking `first` of a path's first segment can match a
/// path of `scope`.
fn admits(scope: &Scope, first: First<'_>) -> bool {
    match (scope, first) {
        (Scope::All, _) | (_, First::Any) => true,
        (Scope::Root, First::Root) => true,
        (Scope::Segment(segment), First::Segment(first)) => segment == first,
        _ => false,
    }
}

/// Where a rewrite to `to` can lead: the scope of its target, `All` when a
/// placeholder is in the target's first segment, `None` when the target is
/// no valid path (the rule is broken: the routing ends there).
fn reach(to: &str) -> Option<Scope> {
    let path = to.split('?').next().unwrap_or(to);
    let first = path.strip_prefix('/').unwrap_or(path);
    let first = first.split('/').next().unwrap_or_default();
    if first.contains(':') {
        return Some(Scope::All);
    }
    match SitePath::parse(&format!("/{first}")) {
        Ok(target) => Some(Scope::of(&target)),
        Err(_) => None,
    }
}

/// The rule lines of one file grouped by what their FROM asks of the first
/// segment, and the scopes taken in so far: what a preparation's rewrites
/// bring in, each line looked at once. (B-trees: a file names few segments,
/// and short keys compare faster than SipHash hashes them.)
struct Closure<'t> {
    any: Vec<usize>,
    root: Vec<usize>,
    by_segment: BTreeMap<&'t str, Vec<usize>>,
    count: usize,
    all: bool,
    took_root: bool,
    segments: BTreeSet<String>,
    /// Lines brought in and not yet looked at.
    queue: Vec<usize>,
}

impl<'t> Closure<'t> {
    fn new(firsts: impl Iterator<Item = First<'t>>) -> Closure<'t> {
        let mut closure = Closure {
            any: Vec::new(),
            root: Vec::new(),
            by_segment: BTreeMap::new(),
            count: 0,
            all: false,
            took_root: false,
            segments: BTreeSet::new(),
            queue: Vec::new(),
        };
        for (index, first) in firsts.enumerate() {
            match first {
                First::Any => closure.any.push(index),
                First::Root => closure.root.push(index),
                First::Segment(segment) => {
                    closure.by_segment.entry(segment).or_default().push(index)
                }
            }
            closure.count += 1;
        }
        // Every scope meets the lines that start with a splat or placeholder.
        closure.queue.extend(closure.any.iter().rev());
        closure
    }

    /// Brings in the lines of `scope`'s paths, if they are not in yet.
    fn take(&mut self, scope: &Scope) {
        match scope {
            Scope::All if !self.all => {
                self.all = true;
                self.queue.extend((0..self.count).rev());
            }
            Scope::Root if !self.took_root => {
                self.took_root = true;
                self.queue.extend(self.root.iter().rev());
            }
            Scope::Segment(segment) if self.segments.insert(segment.clone()) => {
                let lines = self.by_segment.get(segment.as_str());
                self.queue.extend(lines.into_iter().flatten().rev());
            }
            _ => {}
        }
    }
}

fn prepare_redirects(text: &str, scope: &Scope) -> String {
    let lines: Vec<(usize, &str)> = redirects::rule_lines(text)
        .filter_map(|(line, content)| Some((line, content.ok()?)))
        .collect();
    let mut closure = Closure::new(lines.iter().map(|(_, content)| first_of(content)));
    closure.take(scope);
    let mut taken = vec![false; lines.len()];
    let mut chosen = Vec::new();
    while let Some(index) = closure.queue.pop() {
        if std::mem::replace(&mut taken[index], true) {
            continue;
        }
        let (line, content) = lines[index];
        let Ok(rule) = redirects::parse(line, content) else {
            continue;
        };
        if rule.action == Action::Rewrite
            && let Some(target) = reach(rule.to)
        {
            closure.take(&target);
        }
        chosen.push((index, rule));
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
    let mut out = String::new();
    // The pattern of the block being read, until its first valid header
    // line writes it (a block without one is left out).
    let mut block: Option<&str> = None;
    let mut in_block = false;
    for (_, line) in headers::items(text) {
        match line {
            Line::Pattern(content) => {
                in_block = admits(scope, first_of(content)) && headers::pattern(content).is_ok();
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
                        // Made from text: UTF-8, though maybe not ASCII
                        // (found by fuzzing: `to_str` refuses obs-text).
                        let value = String::from_utf8_lossy(value.as_bytes());
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

#[cfg(test)]
mod tests;
