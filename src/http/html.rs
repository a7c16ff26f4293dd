//! The HTML the component writes itself beside the board's page: the
//! layout every page shares (the board's, listings, error pages) and the
//! built-in error pages, through `maud`, so every dynamic string is escaped.

use http::StatusCode;
use maud::{DOCTYPE, Markup, html};

pub(crate) fn layout(title: &str, head: Markup, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                (head)
            }
            body { (body) }
        }
    }
    .into_string()
}

/// A small page for `status`, used when the site has no page of its own.
pub fn error_page(status: StatusCode, message: &str) -> String {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = html! {
        h1 { (title) }
        p { (message) }
        p { a href="/" { "Back to the home page" } }
    };
    // Self-contained: no stylesheet that might itself be missing.
    layout(&title, html! {}, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_escaped() {
        let page = error_page(StatusCode::BAD_REQUEST, "<script>alert(1)</script>");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("<title>400 Bad Request</title>"));
    }
}
