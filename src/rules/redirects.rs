//! `_redirects`, one rule per line: `FROM TO [STATUS][!]`, as Netlify and
//! Cloudflare Pages read it. `#` starts a comment; 301 is the default status;
//! 200 rewrites (serves TO at FROM's URL), 404 serves TO as a not-found page;
//! `!` forces a rule over a file that exists at FROM.

use super::pattern::{self, Captures, Pattern};
use super::prepared_lines::{PreparedRule, redirect_rules};
use super::{Source, first_word, line_length, lines};
use crate::http::site_path::SitePath;
use http::StatusCode;

/// Rule lines after this many are ignored (and reported).
pub const MAX_RULES: usize = 1000;

#[derive(Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    /// Its line in the file, for reports.
    pub line: usize,
    pub from: Pattern<'a>,
    /// The target: a path on this site or (redirects only) an absolute
    /// `http(s)` URL, with `:name` and `:splat` to fill in.
    pub to: &'a str,
    pub action: Action,
    /// `!`: applies even where a file exists at FROM.
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Redirect(StatusCode),
    /// 200: TO's content at FROM's URL.
    Rewrite,
    /// 404: TO's content with status 404.
    NotFound,
}

impl Action {
    pub fn is_redirect(self) -> bool {
        matches!(self, Action::Redirect(_))
    }
}

/// Every rule line of `text` with its number (from 1), parsed; comments and
/// blank lines are skipped. Past `MAX_RULES` rule lines, the next one is
/// reported and the rest ignored.
pub fn rules(text: &str) -> impl Iterator<Item = (usize, Result<Rule<'_>, String>)> {
    rule_lines(text).map(|(line, content)| (line, content.and_then(|c| parse(line, c))))
}

/// What the first rule of `rules` that applies at `path` makes of it: the
/// first rule whose FROM matches, that reads (a file's line is checked only
/// now, a prepared one was already), and for which `apply` (given the rule
/// and what its FROM bound) has an answer. The cheap test on FROM's first
/// bytes comes first, so a request pays little for the rules that do not
/// concern it.
pub(crate) fn first_match<'a, 'p, T>(
    rules: Source<'a>,
    path: &'p str,
    mut apply: impl FnMut(&Rule<'a>, &Captures<'a, 'p>) -> Option<T>,
) -> Option<T> {
    let mut try_one = |candidate: Candidate<'a>| {
        let from = candidate.from();
        if pattern::cannot_match(from, path) {
            return None;
        }
        let captures = Pattern::unchecked(from).matches(path)?;
        let rule = candidate.read()?;
        apply(&rule, &captures)
    };
    // Plain loops, no iterator adapters: this runs on every request.
    match rules {
        Source::File(text) => {
            for (line, content) in lines(text).take(MAX_RULES) {
                if let Some(found) = try_one(Candidate::Line(line, content)) {
                    return Some(found);
                }
            }
        }
        Source::Prepared(text) => {
            for prepared in redirect_rules(text) {
                if let Some(found) = try_one(Candidate::Prepared(prepared)) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// A rule not yet read: a line of the file, or of a preparation.
enum Candidate<'a> {
    Line(usize, &'a str),
    Prepared(PreparedRule<'a>),
}

impl<'a> Candidate<'a> {
    fn from(&self) -> &'a str {
        match self {
            Candidate::Line(_, content) => first_word(content),
            Candidate::Prepared(prepared) => prepared.from,
        }
    }

    fn read(self) -> Option<Rule<'a>> {
        match self {
            Candidate::Line(line, content) => parse(line, content).ok(),
            Candidate::Prepared(prepared) => {
                let (action, force) = parse_status(prepared.status).ok()?;
                Some(Rule {
                    line: prepared.line.parse().ok()?,
                    from: Pattern::unchecked(prepared.from),
                    to: prepared.to,
                    action,
                    force,
                })
            }
        }
    }
}

/// The lines that hold rules, up to `MAX_RULES`; the one after is an error.
pub(crate) fn rule_lines(text: &str) -> impl Iterator<Item = (usize, Result<&str, String>)> {
    lines(text)
        .enumerate()
        .map_while(|(count, (line, content))| match count {
            c if c < MAX_RULES => Some((line, Ok(content))),
            MAX_RULES => Some((
                line,
                Err(format!(
                    "more than {MAX_RULES} rules: this line and those after it are ignored"
                )),
            )),
            _ => None,
        })
}

pub(crate) fn parse(line: usize, content: &str) -> Result<Rule<'_>, String> {
    line_length(content)?;
    let mut tokens = content
        .split_ascii_whitespace()
        .take_while(|token| !token.starts_with('#'));
    let from = tokens.next().expect("lines() yields no blank lines");
    let Some(to) = tokens.next() else {
        return Err("a rule is FROM TO [STATUS]: TO is missing".to_owned());
    };
    if to.contains('=') && !to.starts_with('/') && !to.contains("://") {
        return Err(format!(
            "`{to}`: matching on query parameters or conditions is not supported"
        ));
    }
    let (action, force) = match tokens.next() {
        None => (Action::Redirect(StatusCode::MOVED_PERMANENTLY), false),
        Some(status) => parse_status(status)?,
    };
    if let Some(extra) = tokens.next() {
        return Err(if extra.contains('=') {
            format!("`{extra}`: conditions (country, language, role…) are not supported")
        } else {
            format!("`{extra}` after the status: a rule is FROM TO [STATUS]")
        });
    }
    let from = Pattern::parse(from)?;
    check_target(to, action, &from)?;
    Ok(Rule {
        line,
        from,
        to,
        action,
        force,
    })
}

pub(crate) fn parse_status(token: &str) -> Result<(Action, bool), String> {
    let (code, force) = match token.strip_suffix('!') {
        Some(code) => (code, true),
        None => (token, false),
    };
    let action = match code {
        "200" => Action::Rewrite,
        "404" => Action::NotFound,
        "301" | "302" | "303" | "307" | "308" => {
            Action::Redirect(StatusCode::from_bytes(code.as_bytes()).expect("a valid status"))
        }
        _ => {
            return Err(format!(
                "`{token}` is not a status sitebox applies: 301, 302, 303, 307, 308, 200 or 404 (and `!` to force)"
            ));
        }
    };
    Ok((action, force))
}

/// TO must be a path on this site, or for redirects an `http(s)` URL; it is
/// ASCII (it goes into `Location` as it is), and each `:name` in it is bound
/// by FROM.
fn check_target(to: &str, action: Action, from: &Pattern<'_>) -> Result<(), String> {
    if !to.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "`{to}`: write non-ASCII characters in TO percent-encoded"
        ));
    }
    let absolute = to.starts_with("https://") || to.starts_with("http://");
    if absolute && !action.is_redirect() {
        return Err(format!(
            "`{to}`: a rewrite serves a page of this site, so TO must start with /"
        ));
    }
    if !absolute && (!to.starts_with('/') || to.starts_with("//")) {
        return Err(format!(
            "`{to}`: TO is a path starting with / (not //) or an http(s):// URL"
        ));
    }
    // What a request target or `Location` can carry (found by fuzzing: `<`
    // passed the ASCII test, and the rewrite's URI then failed to build).
    let valid = if absolute {
        to.parse::<http::Uri>().is_ok()
    } else {
        to.parse::<http::uri::PathAndQuery>().is_ok()
    };
    if !valid {
        return Err(format!(
            "`{to}` is not a valid URL: percent-encode characters such as < > \" {{ }}"
        ));
    }
    if !absolute {
        if !action.is_redirect() && to.contains('#') {
            return Err(format!("`{to}`: a rewrite has no #fragment"));
        }
        let path = to.split(['?', '#']).next().unwrap_or(to);
        SitePath::parse(path).map_err(|reason| format!("`{to}`: {reason}"))?;
    }
    if let Some(unbound) = pattern::references(to).find(|name| !from.binds(name)) {
        return Err(if unbound == pattern::SPLAT {
            "`:splat` in TO needs a * in FROM".to_owned()
        } else {
            format!("`:{unbound}` in TO is not a placeholder of FROM")
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
