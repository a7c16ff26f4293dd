//! Where a redirect sends the client: the expanded target with the
//! request's query, kept on this site, and never back to the URL asked for.

use super::pattern::{self, Pattern};
use super::redirects::Rule;
use crate::http::site_path::SitePath;

/// Where a redirect to the expanded target `to` sends the client: the
/// request's `query` goes along unless `to` has its own, before any
/// `#fragment`. A path on this site stays one: the leading slashes (and
/// backslashes, which browsers read as slashes) an empty or `/`-led
/// placeholder value would leave are collapsed into one, as Cloudflare
/// does, so `//evil.example` cannot send a browser to another site.
pub(crate) fn location(to: &str, query: Option<&str>) -> String {
    let collapsed;
    let to = if to.starts_with("http://") || to.starts_with("https://") {
        to
    } else {
        collapsed = format!("/{}", to.trim_start_matches(['/', '\\']));
        &collapsed
    };
    let (target, fragment) = match to.split_once('#') {
        Some((target, fragment)) => (target, Some(fragment)),
        None => (to, None),
    };
    let mut location = target.to_owned();
    if let Some(query) = query.filter(|_| !target.contains('?')) {
        location.push('?');
        location.push_str(query);
    }
    if let Some(fragment) = fragment {
        location.push('#');
        location.push_str(fragment);
    }
    location
}

/// Whether a relative `location` names `path` with `query` (its fragment
/// aside): the URL that was asked for.
pub(crate) fn leads_to(location: &str, path: &SitePath, query: Option<&str>) -> bool {
    let Some(relative) = location.strip_prefix('/') else {
        return false;
    };
    let without_fragment = relative.split('#').next().unwrap_or(relative);
    let (target, target_query) = match without_fragment.split_once('?') {
        Some((target, target_query)) => (target, Some(target_query)),
        None => (without_fragment, None),
    };
    target_query == query
        && SitePath::parse(&format!("/{target}")).is_ok_and(|target| target == *path)
}

/// What `check-rules` says of a redirect `rule` that is applied but may
/// not do what its author meant, if anything.
pub(crate) fn doubt(rule: &Rule<'_>) -> Option<String> {
    if !rule.action.is_redirect() {
        return None;
    }
    // `/old*` binds `/evil.example` at `/old/evil.example`; `/a/*` binds
    // nothing at `/a/`, which leaves `/:splat/x` as `//x`.
    if let Some(after) = rule.to.strip_prefix("/:splat")
        && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && (!rule.from.as_str().contains("/*") || after.starts_with('/'))
    {
        return Some(format!(
            "`{}`: the filled-in target can start with //; its leading slashes are collapsed into one, so the redirect stays on this site (write FROM as `/dir/*` and TO without a / after :splat)",
            rule.to
        ));
    }
    // FROM matches TO itself: at that URL the rule would redirect to
    // where the client already is, so it does not apply there.
    let path = rule.to.split(['?', '#']).next().unwrap_or(rule.to);
    let query = rule
        .to
        .split('#')
        .next()
        .and_then(|t| t.split_once('?'))
        .map(|(_, q)| q);
    let site_path = SitePath::parse(path).ok()?;
    let decoded = site_path.decoded();
    let captures = Pattern::unchecked(rule.from.as_str()).matches(&decoded)?;
    let to = pattern::expand(rule.to, &captures);
    leads_to(&location(&to, query), &site_path, query).then(|| {
        format!(
            "FROM also matches TO (`{}`): a request there is not redirected to itself, the rule does not apply to it",
            rule.to
        )
    })
}

#[cfg(test)]
mod tests;
