//! The board's JSON API over real HTTP: create, read, list with paging, clear,
//! and JSON errors for every kind of bad input. Each test gets a fresh board.

use sitebox_tests as support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use support::Server;
use support::client::{self, Connection, Reply};

const JSON: (&str, &str) = ("content-type", "application/json");

async fn create(server: &Server, text: &str) -> Reply {
    client::post_json(
        server.addr,
        "/api/messages",
        json!({ "text": text }).to_string(),
    )
    .await
}

fn assert_json_error(reply: &Reply, status: StatusCode, context: &str) {
    assert_eq!(reply.status, status, "{context}: {}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        "application/json",
        "{context}"
    );
    let error = &reply.json()["error"];
    assert!(
        error.as_str().is_some_and(|e| !e.is_empty()),
        "{context}: {error}"
    );
}

async fn create_and_read_back(server: &Server) {
    let reply = create(server, "first <b>bold</b>").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.header("content-type"), "application/json");
    let created = reply.json();
    assert_eq!(created["text"], "first <b>bold</b>");
    let id = created["id"].as_u64().unwrap();
    assert_eq!(reply.header("location"), format!("/api/messages/{id}"));
    let posted_at: jiff::Timestamp = created["posted_at"].as_str().unwrap().parse().unwrap();
    let age = jiff::Timestamp::now().duration_since(posted_at);
    assert!(
        age.as_secs() < 60 && !age.is_negative(),
        "posted_at is now: {posted_at}"
    );

    let fetched = client::get(server.addr, reply.header("location")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.json(), created);
    let second = create(server, "second").await.json();
    assert!(second["id"].as_u64().unwrap() > id);
}

async fn list_in_posting_order_with_paging(server: &Server) {
    let empty = client::get(server.addr, "/api/messages").await;
    assert_eq!((empty.status, empty.json()), (StatusCode::OK, json!([])));
    let mut ids = Vec::new();
    for i in 1..=7 {
        ids.push(
            create(server, &format!("m{i}")).await.json()["id"]
                .as_u64()
                .unwrap(),
        );
    }
    let texts = |reply: &Reply| -> Vec<Value> {
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].clone())
            .collect()
    };
    let all = client::get(server.addr, "/api/messages").await;
    assert_eq!(
        texts(&all),
        (1..=7).map(|i| json!(format!("m{i}"))).collect::<Vec<_>>()
    );
    assert!(all.headers.get("link").is_none());

    let newest = client::get(server.addr, "/api/messages?limit=3").await;
    assert_eq!(texts(&newest), [json!("m5"), json!("m6"), json!("m7")]);
    let next = format!("</api/messages?before={}&limit=3>; rel=\"next\"", ids[4]);
    assert_eq!(newest.header("link"), next);
    let older = client::get(
        server.addr,
        &format!("/api/messages?before={}&limit=3", ids[4]),
    )
    .await;
    assert_eq!(texts(&older), [json!("m2"), json!("m3"), json!("m4")]);
    let oldest = client::get(
        server.addr,
        &format!("/api/messages?before={}&limit=3", ids[1]),
    )
    .await;
    assert_eq!(texts(&oldest), [json!("m1")]);
    assert!(oldest.headers.get("link").is_none());

    let head = client::head(server.addr, "/api/messages").await;
    assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
    for bad in ["limit=0", "limit=201", "limit=x", "before=-1", "before=%zz"] {
        let reply = client::get(server.addr, &format!("/api/messages?{bad}")).await;
        assert_json_error(&reply, StatusCode::BAD_REQUEST, bad);
    }
}

async fn the_admin_clears_the_board_with_delete(server: &Server) {
    let id = create(server, "doomed").await.json()["id"]
        .as_u64()
        .unwrap();
    let bearer = format!("Bearer {}", support::ADMIN_PASSWORD);
    let reply = client::request(
        server.addr,
        Method::DELETE,
        "/api/messages",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    assert_eq!(
        client::get(server.addr, "/api/messages").await.json(),
        json!([])
    );
    let gone = client::get(server.addr, &format!("/api/messages/{id}")).await;
    assert_json_error(&gone, StatusCode::NOT_FOUND, "a cleared message");
    let after = create(server, "after").await.json();
    assert!(
        after["id"].as_u64().unwrap() > id,
        "ids are not reused after a clear"
    );
    // Basic works as well (`curl -u admin:...`).
    let (name, login) = support::admin_login();
    let reply = client::request(
        server.addr,
        Method::DELETE,
        "/api/messages",
        &[(name, &login)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        client::get(server.addr, "/api/messages").await.json(),
        json!([])
    );
}

/// Without the admin's credentials a DELETE is a JSON 401 that challenges
/// for a Bearer token (or a Basic login), and the board stays.
async fn delete_needs_the_admin(server: &Server) {
    create(server, "kept").await;
    let wrong = support::basic_login(sitebox_runner::ADMIN_USER, "guess");
    for headers in [
        vec![],
        vec![("authorization", "Bearer guess")],
        vec![(wrong.0, wrong.1.as_str())],
    ] {
        let reply = client::request(server.addr, Method::DELETE, "/api/messages", &headers).await;
        assert_json_error(&reply, StatusCode::UNAUTHORIZED, &format!("{headers:?}"));
        let challenges: Vec<_> = reply
            .headers
            .get_all("www-authenticate")
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect();
        assert_eq!(
            challenges,
            [
                r#"Bearer realm="sitebox admin""#,
                r#"Basic realm="sitebox admin", charset="UTF-8""#
            ]
        );
    }
    let board = client::get(server.addr, "/api/messages").await.json();
    assert_eq!(board[0]["text"], "kept");
    assert_eq!(board.as_array().unwrap().len(), 1);
}

async fn bad_input_gets_json_errors(server: &Server) {
    let long = "z".repeat(4001);
    let huge = format!("{{\"text\":\"{}\"}}", "h".repeat(65 * 1024));
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<u8>, StatusCode);
    let cases: Vec<Case> = vec![
        (vec![JSON], b"{".to_vec(), StatusCode::BAD_REQUEST),
        (vec![JSON], b"[]".to_vec(), StatusCode::BAD_REQUEST),
        (
            vec![JSON],
            br#"{"txt":"typo"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![JSON],
            br#"{"text":42}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![JSON],
            br#"{"text":" \n\t "}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![JSON],
            json!({ "text": "\u{200B}\u{FEFF} \u{200E}" })
                .to_string()
                .into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![JSON],
            b"{\"text\":\"\xff\xfe\"}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![JSON],
            json!({ "text": long }).to_string().into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (vec![JSON], huge.into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
        (
            vec![("content-type", "text/plain")],
            br#"{"text":"x"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            vec![],
            br#"{"text":"x"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            vec![JSON, ("origin", "https://evil.example")],
            br#"{"text":"x"}"#.to_vec(),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (headers, body, status) in cases {
        let context = String::from_utf8_lossy(&body[..body.len().min(30)]).into_owned();
        let reply = Connection::open(server.addr)
            .await
            .send_body(Method::POST, "/api/messages", &headers, body)
            .await;
        assert_json_error(&reply, status, &context);
    }
    assert_eq!(
        client::get(server.addr, "/api/messages").await.json(),
        json!([]),
        "nothing was stored"
    );

    let methods = [
        (
            Method::PUT,
            "/api/messages",
            "GET, HEAD, POST, DELETE, OPTIONS",
        ),
        // DELETE is the admin's (issue 32, tests/board_moderation.rs).
        (
            Method::POST,
            "/api/messages/1",
            "GET, HEAD, DELETE, OPTIONS",
        ),
        (Method::PUT, "/api/messages/1", "GET, HEAD, DELETE, OPTIONS"),
    ];
    for (method, target, allow) in methods {
        let reply = client::request(server.addr, method.clone(), target, &[]).await;
        assert_json_error(&reply, StatusCode::METHOD_NOT_ALLOWED, target);
        assert_eq!(reply.header("allow"), allow);
    }
    for target in ["/api/messages/999", "/api/messages/abc", "/api/nothing"] {
        assert_json_error(
            &client::get(server.addr, target).await,
            StatusCode::NOT_FOUND,
            target,
        );
    }
    let forbidden = client::request(
        server.addr,
        Method::DELETE,
        "/api/messages",
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_json_error(&forbidden, StatusCode::FORBIDDEN, "cross-site DELETE");
}

support::on_each_backend!(
    fresh_server =>
    create_and_read_back,
    list_in_posting_order_with_paging,
    the_admin_clears_the_board_with_delete,
    delete_needs_the_admin,
    bad_input_gets_json_errors,
);

/// The runner's own answers on the API are the API's JSON errors: a body
/// over `--max-body`, declared or streamed, is refused before the component
/// runs, in the same `{"error": …}` (issue 32: an HTML page). The site's
/// pages keep the HTML one.
#[tokio::test]
async fn the_runners_413_on_the_api_is_json() {
    let site: &'static support::TestSite = Box::leak(Box::new(support::TestSite::new()));
    let config = sitebox_runner::Config {
        limits: sitebox_runner::Limits {
            max_body: 1000,
            ..sitebox_runner::Limits::default()
        },
        ..site.config()
    };
    let addr = support::start_runner(config);
    let too_large = json!({ "text": "t".repeat(2000) }).to_string().into_bytes();
    let reply = Connection::open(addr)
        .await
        .send_body(Method::POST, "/api/messages", &[JSON], too_large.clone())
        .await;
    assert_json_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "declared");
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("1000 bytes"),
        "{}",
        reply.text()
    );
    let streamed = tokio::task::spawn_blocking(move || {
        let head = "POST /api/messages HTTP/1.1\r\nHost: test\r\nContent-Type: application/json";
        client::unfinished_chunked(addr, head, &[&too_large])
    })
    .await
    .unwrap();
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    assert!(
        streamed
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "streamed: {streamed}"
    );
    assert!(streamed.ends_with("\"}"), "streamed: {streamed}");
    let page = Connection::open(addr)
        .await
        .send_body(
            Method::POST,
            "/board",
            &[("content-type", "application/x-www-form-urlencoded")],
            vec![b'x'; 2000],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
}
