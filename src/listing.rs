//! Directory listings, opt-in (`--listing`), like `python -m http.server`:
//! the entries of a directory that has no `index.html`, directories first,
//! each group sorted by name, with sizes and times. Names are escaped in the
//! text and percent-encoded in the links; hidden entries stay hidden unless
//! dotfiles are allowed.

use crate::error::Error;
use crate::fs::{DirEntry, StaticFs};
use crate::percent::SEGMENT;
use crate::response::{self, Response};
use crate::settings::Settings;
use crate::site_path::SitePath;
use crate::{html, rules};
use http::StatusCode;
use http::header::{CACHE_CONTROL, HeaderValue};
use maud::html;
use percent_encoding::utf8_percent_encode;

pub fn page<R: StaticFs>(
    root: &R,
    path: &SitePath,
    settings: &Settings,
) -> Result<Response<R::File>, Error> {
    let mut entries: Vec<DirEntry> = root
        .list(path)?
        .into_iter()
        .filter(|entry| settings.dotfiles || !path.hides(&entry.name))
        .filter(|entry| !rules::is_rules_entry(path, &entry.name))
        .collect();
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let title = format!(
        "Index of /{}",
        path.segments()
            .iter()
            .map(|s| format!("{s}/"))
            .collect::<String>()
    );
    let body = html! {
        h1 { (title) }
        table {
            thead { tr { th { "Name" } th { "Size" } th { "Modified" } } }
            tbody {
                @if !path.segments().is_empty() {
                    tr { td { a href="../" { "../" } } td {} td {} }
                }
                @for entry in &entries {
                    @let suffix = if entry.is_dir { "/" } else { "" };
                    tr {
                        td { a href=(format!("{}{suffix}", utf8_percent_encode(&entry.name, SEGMENT))) { (entry.name) (suffix) } }
                        td { @if !entry.is_dir { (size(entry.meta.len)) } }
                        td { @if let Some(time) = entry.meta.modified.and_then(|t| jiff::Timestamp::try_from(t).ok()) {
                            (time.strftime("%Y-%m-%d %H:%M UTC"))
                        } }
                    }
                }
            }
        }
    };
    let mut response = response::html(StatusCode::OK, html::layout(&title, html! {}, body));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
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
mod tests {
    use super::*;
    use crate::fs::memory::MemoryFs;
    use crate::response::Body;

    fn listing(root: &MemoryFs, path: &str, dotfiles: bool) -> String {
        let settings = Settings {
            listing: true,
            dotfiles,
            ..Settings::default()
        };
        let response = page(root, &SitePath::parse(path).unwrap(), &settings).unwrap();
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
        let Body::Bytes(bytes) = response.into_body() else {
            panic!()
        };
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn entries_are_sorted_escaped_and_encoded() {
        let root = MemoryFs::default()
            .with("files/b.txt", "bb")
            .with("files/a <b>&.txt", "a")
            .with("files/zdir/x", "x")
            .with("files/.secret", "s")
            .with("files/big.bin", vec![0; 3 * 1024 * 1024]);
        let html = listing(&root, "/files/", false);
        assert!(html.contains("<title>Index of /files/</title>"));
        assert!(html.contains("<a href=\"../\">"));
        assert!(html.contains("<a href=\"a%20%3Cb%3E%26.txt\">a &lt;b&gt;&amp;.txt</a>"));
        assert!(html.contains("<a href=\"zdir/\">zdir/</a>"));
        assert!(html.contains("3.0 MiB") && html.contains("2 B"));
        assert!(!html.contains(".secret"));
        let order: Vec<usize> = ["zdir/", "a%20", "b.txt", "big.bin"]
            .iter()
            .map(|n| html.find(n).unwrap())
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "directories first, then by name"
        );
        assert!(listing(&root, "/files/", true).contains(".secret"));
    }

    /// What is served is listed: the top-level `/.well-known/` (RFC 8615)
    /// shows, as it is served; one below the top does not, as it is not.
    #[test]
    fn hidden_entries_follow_the_serving_rule() {
        let root = MemoryFs::default()
            .with(".well-known/security.txt", "Contact: x")
            .with(".git/config", "[core]")
            .with("a/.well-known/x", "x")
            .with("a/b.txt", "b");
        let top = listing(&root, "/", false);
        assert!(top.contains("href=\".well-known/\"") && !top.contains(".git"));
        assert!(!listing(&root, "/a/", false).contains(".well-known"));
    }

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
    }
}
