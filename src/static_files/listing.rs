//! Directory listings, opt-in (`--listing`), like `python -m http.server`:
//! the entries of a directory that has no `index.html`, directories first,
//! each group sorted by name, with sizes and times, in pages of
//! `PAGE_ENTRIES`. Names are escaped in the text and percent-encoded in the
//! links. An entry is listed exactly when a request for it would be served
//! (the request path's own checks decide), so every link can be followed.
//!
//! Pages, not one page: a page holds the first `PAGE_ENTRIES` entries after
//! `?after=` (the link of the previous page's last entry), kept in a bounded
//! heap while the directory is read. A page's memory is therefore the same
//! for ten entries or a million; each page reads the whole directory once.

use crate::error::Error;
use crate::fs::StaticFs;
use crate::http::html;
use crate::http::percent::{self, SEGMENT};
use crate::http::response::{self, Response};
use crate::http::site_path::SitePath;
use crate::settings::Settings;
use http::StatusCode;
use http::header::{CACHE_CONTROL, HeaderValue};
use maud::html;
use percent_encoding::utf8_percent_encode;
use std::collections::BinaryHeap;

/// Entries on one page: a page a browser shows at once (~150 KiB of HTML).
pub const PAGE_ENTRIES: usize = 1000;

/// An entry's place in the listing: directories first, then by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    is_file: bool,
    name: String,
}

impl Key {
    fn borrowed(&self) -> (bool, &str) {
        (self.is_file, &self.name)
    }

    /// What the entry's link is, and what `?after=` names: the name, with a
    /// `/` for a directory.
    fn link(&self) -> String {
        let name = utf8_percent_encode(&self.name, SEGMENT);
        if self.is_file {
            name.to_string()
        } else {
            format!("{name}/")
        }
    }
}

pub fn page<R: StaticFs>(
    root: &R,
    path: &SitePath,
    query: Option<&str>,
    settings: &Settings,
) -> Result<Response<R::File>, Error> {
    let after = after(query)?;
    let (keys, more) = select(root, path, after.as_ref(), settings)?;
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(entry) = path.entry(&key.name) else {
            continue;
        };
        // Gone since it was listed: left out, as if listed a moment later.
        if let Ok(meta) = root.describe(&entry) {
            entries.push((key, meta));
        }
    }
    let title = format!(
        "Index of /{}",
        path.segments()
            .iter()
            .map(|s| format!("{s}/"))
            .collect::<String>()
    );
    let next = match entries.last() {
        Some((last, _)) if more => Some(format!("?after={}", last.link())),
        _ => None,
    };
    let body = html! {
        h1 { (title) }
        table {
            thead { tr { th { "Name" } th { "Size" } th { "Modified" } } }
            tbody {
                @if !path.segments().is_empty() {
                    tr { td { a href="../" { "../" } } td {} td {} }
                }
                @for (key, meta) in &entries {
                    @let suffix = if key.is_file { "" } else { "/" };
                    tr {
                        td { a href=(key.link()) { (key.name) (suffix) } }
                        td { @if key.is_file { (size(meta.len)) } }
                        td { @if let Some(time) = meta.modified.and_then(|t| jiff::Timestamp::try_from(t).ok()) {
                            (time.strftime("%Y-%m-%d %H:%M UTC"))
                        } }
                    }
                }
            }
        }
        @if after.is_some() || next.is_some() {
            p {
                @if after.is_some() { a href="./" { "First page" } }
                @if after.is_some() && next.is_some() { " · " }
                @if let Some(next) = &next { a href=(next) rel="next" { "Next page" } }
            }
        }
    };
    let mut response = response::html(StatusCode::OK, html::layout(&title, html! {}, body));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The first `PAGE_ENTRIES` listed entries of `path` after `after`, in
/// order, and whether more follow.
fn select<R: StaticFs>(
    root: &R,
    path: &SitePath,
    after: Option<&Key>,
    settings: &Settings,
) -> Result<(Vec<Key>, bool), Error> {
    // The largest kept key on top, to be dropped when a smaller one comes.
    let mut kept: BinaryHeap<Key> = BinaryHeap::new();
    let mut more = false;
    root.list(path, &mut |name, is_dir| {
        let candidate = (!is_dir, name);
        if after.is_some_and(|after| candidate <= after.borrowed()) || !listed(path, name, settings)
        {
            return;
        }
        if kept.len() == PAGE_ENTRIES {
            more = true;
            if kept
                .peek()
                .is_some_and(|largest| candidate >= largest.borrowed())
            {
                return;
            }
            kept.pop();
        }
        kept.push(Key {
            is_file: !is_dir,
            name: name.to_owned(),
        });
    })?;
    Ok((kept.into_sorted_vec(), more))
}

/// Whether the entry `name` of `dir` is listed: exactly when a request for
/// it would be served (a name a request path cannot carry, such as one
/// with a control character, cannot be).
fn listed(dir: &SitePath, name: &str, settings: &Settings) -> bool {
    dir.entry(name).is_some_and(|entry| settings.shows(&entry))
}

/// Where the page starts: `?after=NAME` (a file) or `?after=NAME/` (a
/// directory), as the previous page's link says; the first page without.
fn after(query: Option<&str>) -> Result<Option<Key>, Error> {
    let raw = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .find_map(|pair| pair.strip_prefix("after="));
    let Some(raw) = raw else {
        return Ok(None);
    };
    let name = percent::decode_strict(raw.as_bytes())
        .map_err(|_| Error::BadRequest("The listing's after= is not a valid name.".to_owned()))?;
    Ok(Some(match name.strip_suffix('/') {
        Some(directory) => Key {
            is_file: false,
            name: directory.to_owned(),
        },
        None => Key {
            is_file: true,
            name: name.into_owned(),
        },
    }))
}

/// Bytes for small files, binary units with one decimal above.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests;
