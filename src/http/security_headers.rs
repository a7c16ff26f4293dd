//! The security headers sitebox sends unless the site's `_headers` says
//! otherwise: `X-Content-Type-Options: nosniff` on every answer, and on the
//! pages sitebox writes itself (the board, listings, its error pages) a
//! strict `Content-Security-Policy` and `Referrer-Policy`.

use http::HeaderMap;
use http::header::{CONTENT_SECURITY_POLICY, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};

/// Nothing runs, nothing is framed, forms post only here, and the only
/// inline style is the board's own (by hash); stylesheets and images come
/// from the site.
pub const PAGE_POLICY: &str = concat!(
    "default-src 'none'; style-src 'self' '",
    // The hash of `board::page::BOARD_STYLE`, checked by `board::page::tests`.
    "sha256-l8fUFFnOwzLWoPx2NKIuvmfi92RBTAg/61czZs6mR/c=",
    "'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
);

/// `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
/// `Origin: null` with a form's POST, and the board's same-origin check
/// would refuse its own form.
const PAGE_REFERRER_POLICY: &str = "same-origin";

/// For a page sitebox wrote.
pub fn for_page(headers: &mut HeaderMap) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(
        REFERRER_POLICY,
        HeaderValue::from_static(PAGE_REFERRER_POLICY),
    );
}

/// For every answer: the type we send is the type (no sniffing HTML out of a
/// text file).
pub fn for_every_answer(headers: &mut HeaderMap) {
    headers
        .entry(X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_is_strict() {
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(PAGE_POLICY.contains(directive), "{directive}");
        }
        assert!(!PAGE_POLICY.contains("unsafe"));
        assert!(HeaderValue::from_str(PAGE_POLICY).is_ok());
    }
}
