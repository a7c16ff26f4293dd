//! The site's own rules, read from files in its root so that they travel
//! with it to every host: `_redirects` (redirects, rewrites, not-found pages)
//! and `_headers` (response headers), in the format Netlify and Cloudflare
//! Pages made the convention. Matching reads them from the files (each line
//! checked as it is met) or `prepared` for the request's scope by the host
//! (the valid rules that can apply there, checked once per change); what
//! cannot be used is skipped, silently. `check` reports every problem
//! with its line, for the runner to log once (the same parser, so the two
//! never disagree).
//!
//! May use: `http` (paths, percent-decoding) and the site as a trait (`fs`);
//! never static files, the board or the settings (which read the rules).

pub mod headers;
mod location;
pub mod pattern;
pub mod prepared;
mod prepared_lines;
pub mod redirects;

use crate::fs::{Entry, StaticFs};
use crate::http::site_path::SitePath;
use http::StatusCode;
use redirects::Action;
use std::fmt;

pub const REDIRECTS_FILE: &str = "_redirects";
pub const HEADERS_FILE: &str = "_headers";
/// A rules file larger than this is not read at all.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// A longer line is skipped.
pub const MAX_LINE_BYTES: usize = 2000;
/// Rewrites in a row past this many are a loop.
pub const MAX_REWRITES: usize = 8;

/// Whether `path` names one of the rules files: never served, listed or
/// reachable through a rewrite.
pub(crate) fn is_rules_file(path: &SitePath) -> bool {
    matches!(path.segments(), [name] if name == REDIRECTS_FILE || name == HEADERS_FILE)
}

/// The lines that say something, numbered from 1 and trimmed: blank lines
/// and `#` comments are left out. As cheaply as it goes: the component
/// reads the files on every request.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut number = 0;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
            let line = rest[..end].trim_ascii();
            rest = rest.get(end + 1..).unwrap_or_default();
            number += 1;
            if !line.is_empty() && !line.starts_with('#') {
                return Some((number, line));
            }
        }
        None
    })
}

/// The first whitespace-separated word of a line.
fn first_word(content: &str) -> &str {
    let end = content
        .bytes()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(content.len());
    &content[..end]
}

fn line_length(content: &str) -> Result<(), String> {
    if content.len() > MAX_LINE_BYTES {
        return Err(format!("the line is longer than {MAX_LINE_BYTES} bytes"));
    }
    Ok(())
}

/// A rules file's rules as matching reads them: the file's own text, each
/// line checked when it is met, or a preparation (`prepared`), checked
/// already and holding only the rules of the request's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    File(&'a str),
    Prepared(&'a str),
}

/// The site's rules files for a request: as the host handed them in,
/// prepared, or as read from the site; a file that is missing, too large or
/// not UTF-8 is as good as absent (`check` says why).
#[derive(Debug, Default)]
pub(crate) struct SiteRules<'a> {
    redirects: Option<Loaded<'a>>,
    headers: Option<Loaded<'a>>,
}

#[derive(Debug)]
enum Loaded<'a> {
    Handed(&'a str),
    Read(String),
}

impl Loaded<'_> {
    fn source(&self) -> Source<'_> {
        match self {
            Loaded::Handed(prepared) => Source::Prepared(prepared),
            Loaded::Read(text) => Source::File(text),
        }
    }
}

/// The rules files prepared for the request's scope as the host handed them
/// in (`settings::REDIRECTS_VAR`, `settings::HEADERS_VAR`): where one is
/// `Some`, even empty, it stands for the file, which is then not read. A
/// host that keeps them current (the runner prepares each scope once per
/// change of a file) saves the component the reading and the checking on
/// every request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HandedRules {
    pub redirects: Option<String>,
    pub headers: Option<String>,
}

impl SiteRules<'_> {
    pub fn load<'a, R: StaticFs>(root: &R, handed: &'a HandedRules) -> SiteRules<'a> {
        let take = |handed: &'a Option<String>, file| match handed.as_deref() {
            Some("") => None,
            Some(prepared) => Some(Loaded::Handed(prepared)),
            None => read(root, file).map(Loaded::Read),
        };
        SiteRules {
            redirects: take(&handed.redirects, REDIRECTS_FILE),
            headers: take(&handed.headers, HEADERS_FILE),
        }
    }

    pub fn redirects(&self) -> Option<Source<'_>> {
        self.redirects.as_ref().map(Loaded::source)
    }

    pub fn headers(&self) -> Option<Source<'_>> {
        self.headers.as_ref().map(Loaded::source)
    }
}

fn read<R: StaticFs>(root: &R, name: &str) -> Option<String> {
    match root.open(&SitePath::root().child(name)) {
        Ok(Entry::File { file, meta }) if meta.len <= MAX_FILE_BYTES => {
            usable_text(root.read(&file, meta.len).ok()?)
        }
        _ => None,
    }
}

/// A rules file's contents as the component takes them: text, or nothing if
/// it is too large or not UTF-8 (a host handing the text in reads files
/// through this too).
pub fn usable_text(contents: Vec<u8>) -> Option<String> {
    if contents.len() as u64 > MAX_FILE_BYTES {
        return None;
    }
    String::from_utf8(contents).ok()
}

/// What `_redirects` makes of a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Routing {
    /// Answer as usual, at the rewritten `path?query` if a rewrite applied.
    Serve(Option<String>),
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// Serve this page with status 404.
    NotFound(SitePath),
    /// The rule on `line` cannot be followed (`reason` completes "the rule
    /// … "): a fault of the site, a 500.
    Broken { line: usize, reason: &'static str },
}

/// Follows the rules of `redirects` (the file, or prepared for the scope of
/// `path`) from `path` (with the request's `query`): the first rule whose
/// FROM matches applies, unless it is not forced and `exists` says there is
/// something at the path. A rewrite starts over at its target, up to
/// `MAX_REWRITES` times and never to a path it has been at.
pub(crate) fn route(
    redirects: Source<'_>,
    path: &SitePath,
    query: Option<&str>,
    mut exists: impl FnMut(&SitePath) -> bool,
) -> Routing {
    let asked_query = query;
    let mut current = path.clone();
    let mut query = query.map(str::to_owned);
    let mut visited: Vec<String> = Vec::new();
    let mut rewritten = None;
    loop {
        let decoded = current.decoded();
        let mut exists_here = None;
        let applied = redirects::first_match(redirects, &decoded, |rule, captures| {
            if !rule.force && *exists_here.get_or_insert_with(|| exists(&current)) {
                return None;
            }
            let to = pattern::expand(rule.to, captures);
            let Action::Redirect(status) = rule.action else {
                return Some((rule.line, rule.action, to));
            };
            let location = location::location(&to, query.as_deref());
            // Never a redirect to the URL asked for: it would loop (matching
            // ignores a trailing slash), so the rule does not apply here.
            let asked_for = location::leads_to(&location, path, asked_query);
            (!asked_for).then_some((rule.line, Action::Redirect(status), location))
        });
        let Some((line, action, to)) = applied else {
            return Routing::Serve(rewritten);
        };
        if let Action::Redirect(status) = action {
            return Routing::Redirect {
                status,
                location: to,
            };
        }
        let (target, target_query) = match to.split_once('?') {
            Some((target, target_query)) => (target, Some(target_query)),
            None => (to.as_str(), None),
        };
        let Ok(next) = SitePath::parse(target) else {
            let reason = "rewrites to a path that is not valid";
            return Routing::Broken { line, reason };
        };
        if action == Action::NotFound {
            return Routing::NotFound(next);
        }
        visited.push(decoded);
        if visited.len() > MAX_REWRITES || visited.contains(&next.decoded()) {
            let reason = "rewrites in a loop";
            return Routing::Broken { line, reason };
        }
        if let Some(target_query) = target_query {
            query = Some(target_query.to_owned());
        }
        rewritten = Some(match &query {
            Some(query) => format!("{target}?{query}"),
            None => target.to_owned(),
        });
        current = next;
    }
}

/// A problem in a rules file: `line` 0 is the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: &'static str,
    pub line: usize,
    pub message: String,
    /// The line is ignored; otherwise it applies, and this is a warning.
    pub skipped: bool,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.message),
            line if self.skipped => {
                write!(f, "{} line {line}: {} (skipped)", self.file, self.message)
            }
            line => write!(f, "{} line {line}: {}", self.file, self.message),
        }
    }
}

/// Every problem in `contents`, the contents of the rules file `file`
/// (`REDIRECTS_FILE` or `HEADERS_FILE`), as the component would meet it.
pub fn check(file: &'static str, contents: &[u8]) -> Vec<Problem> {
    let problem = |line, message| Problem {
        file,
        line,
        message,
        skipped: true,
    };
    if contents.len() as u64 > MAX_FILE_BYTES {
        let message = format!(
            "larger than {} KiB: none of its rules apply",
            MAX_FILE_BYTES >> 10
        );
        return vec![problem(0, message)];
    }
    let Ok(text) = std::str::from_utf8(contents) else {
        return vec![problem(0, "not UTF-8: none of its rules apply".to_owned())];
    };
    let mut problems = Vec::new();
    if file == REDIRECTS_FILE {
        for (line, rule) in redirects::rules(text) {
            match rule {
                Err(message) => problems.push(problem(line, message)),
                Ok(rule) => problems.extend(location::doubt(&rule).map(|message| Problem {
                    skipped: false,
                    ..problem(line, message)
                })),
            }
        }
        return problems;
    }
    // The block the header lines are in: none yet, or its path's line,
    // `Err` if that path is skipped (and its header lines with it).
    let mut block: Option<Result<(), usize>> = None;
    for (line, item) in headers::items(text) {
        let result = match item {
            headers::Line::Pattern(content) => {
                let parsed = headers::pattern(content).map(drop);
                block = Some(parsed.as_ref().map_err(|_| line).copied());
                parsed
            }
            headers::Line::Entry(content) => match block {
                None => Err("a header line before any path line".to_owned()),
                Some(Err(path_line)) => Err(format!(
                    "the path of its block (line {path_line}) is skipped"
                )),
                Some(Ok(())) => match headers::entry(content) {
                    // Applied, but not what one of the convention's owners
                    // reads there.
                    Ok(headers::Entry::Remove(name)) => {
                        problems.push(Problem {
                            skipped: false,
                            ..problem(line, format!("`! {name}` removes {name}, as on Cloudflare Pages; Netlify ignores the line"))
                        });
                        Ok(())
                    }
                    other => other.map(drop),
                },
            },
            headers::Line::TooMany => Err(format!(
                "more than {} blocks: this line and those after it are ignored",
                headers::MAX_BLOCKS
            )),
        };
        if let Err(message) = result {
            problems.push(problem(line, message));
        }
    }
    problems
}

#[cfg(test)]
mod tests;
