//! `_redirects`, one rule per line: `FROM TO [STATUS][!]`, as Netlify and
//! Cloudflare Pages read it. `#` starts a comment; 301 is the default status;
//! 200 rewrites (serves TO at FROM's URL), 404 serves TO as a not-found page;
//! `!` forces a rule over a file that exists at FROM.

use super::pattern::{self, Captures, Pattern};
use super::prepared::redirect_rules;
use super::{line_length, lines};
use crate::site_path::SitePath;
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

/// The first rule of `prepared` (a `_redirects` prepared for the scope of
/// `path`) that applies at `path`, with what its FROM bound: one whose FROM
/// matches and that `applies` (given the rule) lets through. The rules were
/// checked when they were prepared: here they are only split and matched,
/// the cheap test on FROM's first bytes first.
pub(crate) fn first_match<'a, 'p>(
    prepared: &'a str,
    path: &'p str,
    mut applies: impl FnMut(&Rule<'a>) -> bool,
) -> Option<(Rule<'a>, Captures<'a, 'p>)> {
    for prepared in redirect_rules(prepared) {
        if pattern::cannot_match(prepared.from, path) {
            continue;
        }
        let from = Pattern::unchecked(prepared.from);
        let Some(captures) = from.matches(path) else {
            continue;
        };
        let Ok((action, force)) = parse_status(prepared.status) else {
            continue;
        };
        let rule = Rule {
            line: prepared.line.parse().unwrap_or_default(),
            from,
            to: prepared.to,
            action,
            force,
        };
        if applies(&rule) {
            return Some((rule, captures));
        }
    }
    None
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

fn parse_status(token: &str) -> Result<(Action, bool), String> {
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
