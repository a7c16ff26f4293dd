//! The API's errors, `{"error": "…"}` as `application/json`, and which
//! requests get them: one shape and one rule for the component's errors and
//! the runner's own answers in its stead (a body over `--max-body`, a full
//! queue), so a client of the API never meets an HTML page.

use serde::Serialize;

pub const JSON: &str = "application/json";

/// Whether an error answer to a request for `path` (as it came, not
/// decoded) is JSON rather than an HTML page: the API's paths.
pub fn answers_in_json(path: &str) -> bool {
    path.starts_with("/api/")
}

/// `{"error": message}`.
pub fn body(message: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct ErrorJson<'a> {
        error: &'a str,
    }
    serde_json::to_vec(&ErrorJson { error: message }).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shape_for_every_message() {
        let body = body("Request bodies are limited to 10 bytes. \"Quoted\"");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"error": "Request bodies are limited to 10 bytes. \"Quoted\""})
        );
    }

    #[test]
    fn the_api_answers_in_json() {
        assert!(answers_in_json("/api/messages"));
        assert!(answers_in_json("/api/messages/1"));
        assert!(answers_in_json("/api/anything"));
        for page in ["/", "/board", "/api", "/apiary/", "/static/api/x"] {
            assert!(!answers_in_json(page), "{page}");
        }
    }
}
