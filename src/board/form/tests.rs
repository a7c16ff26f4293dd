use super::*;
use crate::board::admin::testing::{self, PASSWORD};
use crate::board::submission::{MAX_BODY_BYTES, MAX_MESSAGE_CHARS};
use crate::store::{MemoryStore, Store};
use http::Request;

fn parts(method: &str, target: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn form_post(
    store: &MemoryStore,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<Response<()>, Error> {
    let mut all = vec![("content-type", FORM)];
    all.extend_from_slice(headers);
    post(
        store,
        testing::admin(),
        &parts("POST", "http://site.test/board", &all),
        body.as_bytes().to_vec(),
        Timestamp::now(),
        crate::random::os,
    )
}

fn texts(store: &MemoryStore) -> Vec<String> {
    store
        .page(None, 100)
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.text)
        .collect()
}

#[test]
fn a_post_is_stored_and_redirects_to_the_board() {
    let store = MemoryStore::default();
    let response = form_post(&store, "message=Hello+there%21%0D%0ASecond+line", &[]).unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/board");
    assert_eq!(texts(&store), ["Hello there!\r\nSecond line"]);
}

/// The token in a board page, as a browser sends it back.
fn token_of(page: Response<()>) -> String {
    let crate::http::response::Body::Bytes(html) = page.into_body() else {
        panic!("no page")
    };
    let html = String::from_utf8(html).unwrap();
    let start = html.find("name=\"token\" value=\"").expect("a token field") + 20;
    html[start..start + 32].to_owned()
}

fn page_token(store: &impl Store) -> String {
    token_of(show(store, &"/board".parse().unwrap(), crate::random::os).unwrap())
}

#[test]
fn a_form_sent_twice_posts_once() {
    let store = MemoryStore::default();
    let token = page_token(&store);
    let body = format!("message=Hello&token={token}");
    for _ in 0..3 {
        let response = form_post(&store, &body, &[]).unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/board");
    }
    assert_eq!(texts(&store), ["Hello"]);
    // Another page's form posts anew; a form without a token posts
    // each time it is sent, as before tokens.
    let other = page_token(&store);
    assert_ne!(other, token);
    form_post(&store, &format!("token={other}&message=Hello"), &[]).unwrap();
    form_post(&store, "message=Hello", &[]).unwrap();
    form_post(&store, "message=Hello", &[]).unwrap();
    assert_eq!(texts(&store), ["Hello"; 4]);
}

#[test]
fn a_token_sent_with_another_text_keeps_the_text_with_a_new_token() {
    let store = MemoryStore::default();
    let token = page_token(&store);
    form_post(&store, &format!("message=First&token={token}"), &[]).unwrap();
    let refused = form_post(&store, &format!("message=Second&token={token}"), &[]).unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fresh = token_of(refused);
    assert_ne!(fresh, token);
    assert_eq!(texts(&store), ["First"]);
    let sent = form_post(&store, &format!("message=Second&token={fresh}"), &[]).unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(texts(&store), ["First", "Second"]);
}

#[test]
fn a_refused_message_leaves_its_token_unused() {
    let store = MemoryStore::default();
    let token = page_token(&store);
    let empty = form_post(&store, &format!("message=+&token={token}"), &[]).unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert_eq!(token_of(empty), token, "the page again, with its token");
    let fixed = form_post(&store, &format!("message=Fixed&token={token}"), &[]).unwrap();
    assert_eq!(fixed.status(), StatusCode::SEE_OTHER);
    assert_eq!(texts(&store), ["Fixed"]);
}

#[test]
fn malformed_tokens_and_busy_ones_are_refused() {
    let store = MemoryStore::default();
    for token in ["", "abc", "0123456789ABCDEF0123456789ABCDEF"] {
        let error = form_post(&store, &format!("message=x&token={token}"), &[]).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{token:?}");
    }
    assert!(texts(&store).is_empty());
    let busy = crate::store::BusyStore::default();
    let token = page_token(&busy);
    let error = post::<_, (), _>(
        &busy,
        testing::admin(),
        &parts("POST", "/board", &[("content-type", FORM)]),
        format!("message=x&token={token}").into_bytes(),
        Timestamp::now(),
        crate::random::os,
    )
    .unwrap_err();
    assert_eq!(error.status(), StatusCode::CONFLICT);
}

#[test]
fn the_admin_clears_by_field_or_by_button() {
    let store = MemoryStore::default();
    let login = testing::basic(crate::board::admin::USER, PASSWORD);
    let as_admin = [("authorization", login.as_str())];
    form_post(&store, "message=one", &[]).unwrap();
    let response = form_post(&store, "clear=1", &as_admin).unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(texts(&store).is_empty());
    form_post(&store, "message=two", &[]).unwrap();
    let button = parts("POST", "http://site.test/board/clear", &as_admin);
    clear::<_, ()>(&store, testing::admin(), &button).unwrap();
    assert!(texts(&store).is_empty());
}

#[test]
fn clearing_needs_the_admin() {
    let store = MemoryStore::default();
    form_post(&store, "message=kept", &[]).unwrap();
    let wrong = testing::basic(crate::board::admin::USER, "guess");
    for headers in [vec![], vec![("authorization", wrong.as_str())]] {
        let by_field = form_post(&store, "clear=1", &headers).unwrap_err();
        assert_eq!(by_field, Error::Unauthorized(Challenge::Basic));
        let button = parts("POST", "http://site.test/board/clear", &headers);
        let by_button = clear::<_, ()>(&store, testing::admin(), &button).unwrap_err();
        assert_eq!(by_button, Error::Unauthorized(Challenge::Basic));
    }
    let nobody = Admin {
        password_hash: None,
    };
    let login = testing::basic(crate::board::admin::USER, PASSWORD);
    let button = parts(
        "POST",
        "http://site.test/board/clear",
        &[("authorization", &login)],
    );
    let disabled = clear::<_, ()>(&store, nobody, &button).unwrap_err();
    assert_eq!(disabled.status(), StatusCode::FORBIDDEN);
    // A cross-site button press is refused before any login is asked for.
    let cross_site = parts(
        "POST",
        "http://site.test/board/clear",
        &[("origin", "http://evil.test")],
    );
    let refused = clear::<_, ()>(&store, testing::admin(), &cross_site).unwrap_err();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(texts(&store), ["kept"]);
}

#[test]
fn empty_and_oversized_messages_keep_the_text_and_store_nothing() {
    let store = MemoryStore::default();
    let empty = form_post(&store, "message=+%20%0A%09", &[]).unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
    let too_long = form_post(&store, &format!("message={long}"), &[]).unwrap();
    assert_eq!(too_long.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(texts(&store).is_empty());
    let exactly = "é".repeat(MAX_MESSAGE_CHARS);
    form_post(&store, &format!("message={exactly}"), &[]).unwrap();
    assert_eq!(texts(&store), [exactly]);
}

#[test]
fn malformed_bodies_are_refused() {
    let store = MemoryStore::default();
    let status = |body: &str, headers: &[(&str, &str)]| {
        form_post(&store, body, headers).unwrap_err().status()
    };
    assert_eq!(status("message=%zz", &[]), StatusCode::BAD_REQUEST);
    assert_eq!(status("message=%ff%fe", &[]), StatusCode::BAD_REQUEST);
    assert_eq!(status("other=1", &[]), StatusCode::BAD_REQUEST);
    let huge = format!("message={}", "a".repeat(MAX_BODY_BYTES));
    assert_eq!(status(&huge, &[]), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        status("message=x", &[("content-length", "70000")]),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let wrong_type = post::<_, (), _>(
        &store,
        testing::admin(),
        &parts("POST", "/board", &[("content-type", "text/plain")]),
        b"message=x".to_vec(),
        Timestamp::now(),
        crate::random::os,
    );
    assert_eq!(
        wrong_type.unwrap_err().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let no_type = post::<_, (), _>(
        &store,
        testing::admin(),
        &parts("POST", "/board", &[]),
        b"message=x".to_vec(),
        Timestamp::now(),
        crate::random::os,
    );
    assert_eq!(
        no_type.unwrap_err().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert!(texts(&store).is_empty());
}

#[test]
fn charset_parameters_and_case_are_accepted() {
    let store = MemoryStore::default();
    let headers = [(
        "content-type",
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
    )];
    post::<_, (), _>(
        &store,
        testing::admin(),
        &parts("POST", "http://site.test/board", &headers),
        b"message=ok".to_vec(),
        Timestamp::now(),
        crate::random::os,
    )
    .unwrap();
    assert_eq!(texts(&store), ["ok"]);
}

#[test]
fn cross_site_writes_are_forbidden() {
    let store = MemoryStore::default();
    let forbidden = [
        vec![("origin", "http://evil.test")],
        vec![("origin", "https://site.test")],
        vec![("origin", "http://site.test:8080")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("origin", "http://site.test"),
            ("sec-fetch-site", "cross-site"),
        ],
    ];
    for headers in forbidden {
        let error = form_post(&store, "message=x", &headers).unwrap_err();
        assert_eq!(error.status(), StatusCode::FORBIDDEN, "{headers:?}");
    }
    let allowed = [
        vec![],
        vec![("origin", "http://site.test")],
        vec![("origin", "http://SITE.test:80")],
        vec![
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://site.test"),
        ],
        vec![("sec-fetch-site", "none")],
    ];
    for headers in &allowed {
        form_post(&store, "message=x", headers).unwrap();
    }
    assert_eq!(texts(&store).len(), allowed.len());
}

#[test]
fn the_page_lists_messages_and_links_older_ones() {
    let store = MemoryStore::default();
    for i in 1..=60 {
        store
            .append(&format!("message {i}"), Timestamp::now())
            .unwrap();
    }
    let page = show::<_, ()>(&store, &"/board".parse().unwrap(), crate::random::os).unwrap();
    let crate::http::response::Body::Bytes(html) = page.into_body() else {
        panic!()
    };
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("message 60") && html.contains("message 11"));
    assert!(!html.contains("message 10<"));
    assert!(html.contains("href=\"/board?before=11\""));
    assert_eq!(
        Query::parse(&"/board?before=0".parse().unwrap())
            .unwrap_err()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        Query::parse(&"/board?before=x".parse().unwrap())
            .unwrap_err()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        Query::parse(&"/board?before=5&utm=1".parse().unwrap())
            .unwrap()
            .before,
        Some(5)
    );
}
