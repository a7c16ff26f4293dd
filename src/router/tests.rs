//! The router over an in-memory site; the site's rules in `site_rules`.

mod site_rules;

use super::*;
use crate::fs::memory::MemoryFs;
use crate::http::response::Body;
use crate::store::MemoryStore;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, RETRY_AFTER};

fn site() -> Site<MemoryFs, MemoryStore> {
    Site {
        static_root: MemoryFs::default()
            .with("index.html", "home")
            .with("NotFound.html", "lost"),
        store: MemoryStore::default(),
        settings: Settings::default(),
        clock: Timestamp::now,
        random: crate::random::os,
        handed_rules: HandedRules::default(),
    }
}

fn request(method: Method, target: &str) -> Request<()> {
    Request::builder()
        .method(method)
        .uri(target)
        .body(())
        .unwrap()
}

#[test]
fn head_keeps_headers_and_drops_the_body() {
    let get = handle(request(Method::GET, "/"), &site());
    let head = handle(request(Method::HEAD, "/"), &site());
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers(), get.headers());
    assert_eq!(head.headers()[CONTENT_LENGTH], "4");
    assert!(matches!(head.body(), Body::Empty));
}

#[test]
fn other_methods_are_not_allowed() {
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let response = handle(request(method.clone(), "/"), &site());
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()[ALLOW], "GET, HEAD, OPTIONS");
    }
}

#[test]
fn options_lists_the_methods_and_unknown_methods_are_501() {
    for (target, allow) in [
        ("/", "GET, HEAD, OPTIONS"),
        ("/index.css", "GET, HEAD, OPTIONS"),
        ("/board", "GET, HEAD, POST, OPTIONS"),
        ("/api/messages", "GET, HEAD, POST, DELETE, OPTIONS"),
        ("*", "GET, HEAD, POST, DELETE, OPTIONS"),
    ] {
        let response = handle(request(Method::OPTIONS, target), &site());
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{target}");
        assert_eq!(response.headers()[ALLOW], allow, "{target}");
        assert!(
            response.headers().get("content-length").is_none(),
            "204 has no Content-Length"
        );
    }
    for target in ["/", "/board", "/api/messages"] {
        let brew = Method::from_bytes(b"BREW").unwrap();
        let response = handle(request(brew, target), &site());
        assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED, "{target}");
    }
}

#[test]
fn missing_files_get_the_site_404_page() {
    let response = handle(request(Method::GET, "/missing"), &site());
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(matches!(response.body(), Body::File { file, .. } if file == b"lost"));
    let head = handle(request(Method::HEAD, "/missing"), &site());
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(head.headers()[CONTENT_LENGTH], "4");
}

#[test]
fn a_failing_store_is_a_503_with_retry_after_and_files_still_serve() {
    use crate::store::kv_store::{KvStore, memory::MemoryBucket};
    let site = Site {
        static_root: MemoryFs::default().with("index.html", "home"),
        store: KvStore::new(MemoryBucket::default(), Timestamp::now, crate::random::os),
        settings: Settings::default(),
        clock: Timestamp::now,
        random: crate::random::os,
        handed_rules: HandedRules::default(),
    };
    site.store.bucket().set_failing(true);
    let post = Request::post("/api/messages")
        .header("content-type", "application/json")
        .body(br#"{"text":"hi"}"#.to_vec())
        .unwrap();
    let form = Request::post("/board")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"message=hi".to_vec())
        .unwrap();
    let get = |target: &str| request(Method::GET, target).map(|()| Vec::new());
    for (request, json) in [
        (get("/board"), false),
        (form, false),
        (get("/api/messages"), true),
        (get("/api/messages/1"), true),
        (post, true),
    ] {
        let target = request.uri().to_string();
        let response = handle(request, &site);
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{target}"
        );
        assert_eq!(response.headers()[RETRY_AFTER], "5", "{target}");
        let content_type = &response.headers()["content-type"];
        assert_eq!(
            content_type.as_bytes().starts_with(b"application/json"),
            json
        );
        let Body::Bytes(body) = response.into_body() else {
            panic!("{target}: no body")
        };
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("try again"), "{target}: {body}");
        assert!(!body.contains("failing (test)"), "{target} leaks: {body}");
    }
    let home = handle(request(Method::GET, "/"), &site);
    assert_eq!(home.status(), StatusCode::OK);
    site.store.bucket().set_failing(false);
    let board = handle(request(Method::GET, "/board"), &site);
    assert_eq!(board.status(), StatusCode::OK);
}

#[test]
fn clearing_challenges_for_the_admin_login() {
    use crate::board::admin::{USER, testing};
    use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
    let mut site = site();
    site.settings.admin_password_hash = Some(testing::HASH.clone());
    site.store.append("kept", Timestamp::now()).unwrap();
    let clear = |method: Method, target: &str, authorization: Option<String>| {
        let mut request = Request::builder().method(method).uri(target);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        handle(request.body(Vec::new()).unwrap(), &site)
    };
    let challenges = |response: &Response<_>| -> Vec<String> {
        let values = response.headers().get_all(WWW_AUTHENTICATE);
        values
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    let form = clear(Method::POST, "/board/clear", None);
    assert_eq!(form.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges(&form),
        [r#"Basic realm="sitebox admin", charset="UTF-8""#]
    );
    assert_eq!(form.headers()["content-type"], "text/html; charset=utf-8");
    let api = clear(Method::DELETE, "/api/messages", Some("Bearer nope".into()));
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenges(&api).len(), 2);
    assert!(challenges(&api)[0].starts_with("Bearer "));
    assert_eq!(api.headers()["content-type"], "application/json");
    assert_eq!(site.store.page(None, 10).unwrap().messages.len(), 1);
    let bearer = format!("Bearer {}", testing::PASSWORD);
    let cleared = clear(Method::DELETE, "/api/messages", Some(bearer));
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    site.store.append("again", Timestamp::now()).unwrap();
    let login = testing::basic(USER, testing::PASSWORD);
    let cleared = clear(Method::POST, "/board/clear", Some(login));
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    assert!(site.store.page(None, 10).unwrap().messages.is_empty());
}

/// Issue 32: the admin deletes one message, through the API or the page's
/// button, behind the same login as clearing.
#[test]
fn deleting_one_message_takes_the_admin_login() {
    use crate::board::admin::{USER, testing};
    let mut site = site();
    let send = |site: &Site<MemoryFs, MemoryStore>,
                method: Method,
                target: &str,
                login: Option<String>| {
        let mut request = Request::builder().method(method).uri(target);
        if let Some(value) = login {
            request = request.header(http::header::AUTHORIZATION, value);
        }
        if target == "/board/delete" {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let body = if target == "/board/delete" {
            b"id=2".to_vec()
        } else {
            Vec::new()
        };
        handle(request.body(body).unwrap(), site)
    };
    for text in ["a", "b", "c"] {
        site.store.append(text, Timestamp::now()).unwrap();
    }
    let off = send(&site, Method::DELETE, "/api/messages/2", None);
    assert_eq!(off.status(), StatusCode::FORBIDDEN, "no admin: turned off");
    site.settings.admin_password_hash = Some(testing::HASH.clone());
    let bearer = || Some(format!("Bearer {}", testing::PASSWORD));
    for (method, target) in [
        (Method::DELETE, "/api/messages/2"),
        (Method::POST, "/board/delete"),
    ] {
        let refused = send(&site, method.clone(), target, Some("Bearer nope".into()));
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{target}");
        assert!(
            refused
                .headers()
                .contains_key(http::header::WWW_AUTHENTICATE)
        );
        let cross = Request::builder()
            .method(method)
            .uri(target)
            .header("sec-fetch-site", "cross-site")
            .header(http::header::AUTHORIZATION, bearer().unwrap())
            .body(Vec::new())
            .unwrap();
        assert_eq!(
            handle(cross, &site).status(),
            StatusCode::FORBIDDEN,
            "{target}"
        );
    }
    assert_eq!(site.store.page(None, 10).unwrap().messages.len(), 3);
    let deleted = send(&site, Method::DELETE, "/api/messages/2", bearer());
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for target in ["/api/messages/2", "/api/messages/9", "/api/messages/x"] {
        let gone = send(&site, Method::DELETE, target, bearer());
        assert_eq!(gone.status(), StatusCode::NOT_FOUND, "{target}");
        assert_eq!(gone.headers()["content-type"], "application/json");
    }
    let texts = |site: &Site<MemoryFs, MemoryStore>| -> Vec<String> {
        let page = site.store.page(None, 10).unwrap();
        page.messages.into_iter().map(|m| m.text).collect()
    };
    assert_eq!(texts(&site), ["a", "c"]);
    // The page's button: back to the board, also for a message gone already.
    let login = || Some(testing::basic(USER, testing::PASSWORD));
    let button = send(&site, Method::POST, "/board/delete", login());
    assert_eq!(button.status(), StatusCode::SEE_OTHER);
    assert_eq!(button.headers()["location"], "/board");
    site.store.append("d", Timestamp::now()).unwrap();
    assert_eq!(texts(&site), ["a", "c", "d"]);
    assert_eq!(allowed("/api/messages/1"), "GET, HEAD, DELETE, OPTIONS");
    assert_eq!(allowed("/board/delete"), "POST, OPTIONS");
    let get = send(&site, Method::GET, "/board/delete", None);
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn bad_paths_get_a_400_page() {
    let response = handle(request(Method::GET, "/%2e%2e/secret"), &site());
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(matches!(response.body(), Body::Bytes(page) if !page.is_empty()));
}
