//! The message board's page — the form, the messages with their times and
//! delete buttons, the links between pages — through `maud`, so every
//! dynamic string is escaped; in the layout every page shares (`http::html`).

use crate::board::submission::MAX_MESSAGE_CHARS;
use crate::http::html::layout;
use crate::store::Page;
use crate::store::idempotency::TOKEN_FIELD;
use maud::html;

/// Keeps line breaks in messages and sets the board apart a little; the
/// site's own `index.css` does the rest.
const BOARD_STYLE: &str = "\
    .messages { list-style: none; padding: 0; }\
    .messages li { border-bottom: 1px solid #ddd; padding: .5rem 0; }\
    .messages .text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }\
    .messages .meta { color: #666; font-size: .85rem; margin: .25rem 0 0; }\
    textarea { width: 100%; box-sizing: border-box; }\
    .notice { border: 1px solid #b3261e; padding: .5rem; }";

/// What the board's form shows besides the messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardForm<'a> {
    /// Why a post was refused.
    pub notice: Option<&'a str>,
    /// The text area's content.
    pub draft: &'a str,
    /// The form's one-time token, which makes sending it twice post once
    /// (`None`: a form without one posts as often as it is sent).
    pub token: Option<&'a str>,
}

/// The message board: the form, the messages of `page` (oldest first) with
/// their times and delete buttons, links to older and newer pages, and the
/// clear button.
pub fn board_page(page: &Page, is_older_page: bool, form: BoardForm) -> String {
    let BoardForm {
        notice,
        draft,
        token,
    } = form;
    let body = html! {
        h1 { "Message Board" }
        @if let Some(notice) = notice {
            p.notice role="alert" { (notice) }
        }
        form method="post" action="/board" {
            @if let Some(token) = token {
                input type="hidden" name=(TOKEN_FIELD) value=(token);
            }
            p {
                label for="message" { "Your message" }
                br;
                textarea #message name="message" rows="4" maxlength=(MAX_MESSAGE_CHARS) required { (draft) }
            }
            p { button type="submit" { "Save Message" } }
        }
        @if page.messages.is_empty() {
            p #empty { "No messages yet." }
        } @else {
            ol.messages {
                @for message in &page.messages {
                    li id=(format!("message-{}", message.id)) {
                        p.text { (message.text) }
                        p.meta {
                            "Posted "
                            time datetime=(in_milliseconds(message.posted_at)) {
                                (message.posted_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
                            }
                        }
                        // For the admin, behind the login as clearing.
                        form method="post" action="/board/delete" {
                            input type="hidden" name="id" value=(message.id);
                            button type="submit" title=(format!("Delete message {}", message.id)) { "Delete" }
                        }
                    }
                }
            }
        }
        nav {
            @if let (true, Some(oldest)) = (page.has_older, page.messages.first()) {
                a href=(format!("/board?before={}", oldest.id)) { "Older messages" }
                " "
            }
            @if is_older_page {
                a href="/board" { "Newest messages" }
            }
        }
        form method="post" action="/board/clear" {
            p { button type="submit" { "Clear Messages" } }
        }
        p { a href="/" { "Home" } }
    };
    let head = html! {
        link rel="stylesheet" href="/index.css";
        style { (BOARD_STYLE) }
    };
    layout("Message Board", head, body)
}

/// A time as HTML's `datetime` takes it: at most three fractional digits
/// (jiff writes as many as it has, up to nine).
fn in_milliseconds(time: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(time.as_millisecond()).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Message;
    use jiff::Timestamp;

    #[test]
    fn a_time_has_at_most_milliseconds() {
        // Issue 32: nine fractional digits are not an HTML date.
        let time = Timestamp::new(1_763_690_188, 123_456_789).unwrap();
        assert_eq!(
            in_milliseconds(time).to_string(),
            "2025-11-21T01:56:28.123Z"
        );
        let whole = Timestamp::from_second(1_763_690_188).unwrap();
        assert_eq!(in_milliseconds(whole).to_string(), "2025-11-21T01:56:28Z");
    }

    #[test]
    fn board_messages_are_escaped_text_with_their_time() {
        let page = Page {
            messages: vec![Message {
                id: 7,
                text: "<img src=x onerror=alert(1)> & </textarea>".to_owned(),
                posted_at: Timestamp::from_second(1_763_690_188).unwrap(),
            }],
            has_older: true,
        };
        let form = BoardForm {
            notice: Some("<b>no</b>"),
            draft: "</textarea><script>",
            token: Some("0123456789abcdef0123456789abcdef"),
        };
        let html = board_page(&page, false, form);
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;/textarea&gt;"));
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<script>") && !html.contains("<b>no"));
        assert!(
            html.contains("<time datetime=\"2025-11-21T01:56:28Z\">2025-11-21 01:56:28 UTC</time>")
        );
        assert!(html.contains("<title>Message Board</title>"));
        assert!(html.contains("href=\"/board?before=7\""));
        assert!(html.contains("<form method=\"post\" action=\"/board\">"));
        assert!(html.contains("name=\"message\""));
        assert!(html.contains(
            "<input type=\"hidden\" name=\"token\" value=\"0123456789abcdef0123456789abcdef\">"
        ));
        assert!(html.contains("Save Message") && html.contains("Clear Messages"));
        // Issue 32: each message has the admin's delete button.
        assert!(html.contains(
            "<form method=\"post\" action=\"/board/delete\"><input type=\"hidden\" name=\"id\" value=\"7\">"
        ));
    }

    #[test]
    fn an_empty_board_says_so() {
        let html = board_page(&Page::default(), false, BoardForm::default());
        assert!(html.contains("No messages yet."));
        assert!(!html.contains("name=\"token\""), "no token, no field");
        assert!(!html.contains("Older messages") && !html.contains("Newest messages"));
    }

    #[test]
    fn the_page_policy_allows_the_board_style_by_its_hash() {
        use base64::Engine;
        use sha2::Digest;
        let page = board_page(&Page::default(), false, BoardForm::default());
        assert!(
            page.contains(&format!("<style>{BOARD_STYLE}</style>")),
            "unescaped"
        );
        let digest = sha2::Sha256::digest(BOARD_STYLE.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        let source = format!("'sha256-{hash}'");
        assert!(
            crate::http::security_headers::PAGE_POLICY.contains(&source),
            "the policy needs {source}"
        );
    }
}
