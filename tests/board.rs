//! The message board in HTML, over real HTTP, as a browser without
//! JavaScript uses it: the page, posting (303 back to the board), clearing
//! (the admin's, by Basic login: `clearing`), paging, and every kind of bad
//! input. Each test gets a fresh, empty board.

use sitebox_tests as support;

use http::{Method, StatusCode};
use support::Server;
use support::client::{self, Connection, Reply};

#[path = "board/clearing.rs"]
mod clearing;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

async fn post(server: &Server, body: &str, extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![FORM];
    headers.extend_from_slice(extra);
    let body = body.to_owned();
    Connection::open(server.addr)
        .await
        .send_body(Method::POST, "/board", &headers, body)
        .await
}

/// The texts shown on the board page, in order.
fn shown(page: &str) -> Vec<String> {
    page.split("<p class=\"text\">")
        .skip(1)
        .map(|rest| rest.split("</p>").next().unwrap().to_owned())
        .collect()
}

async fn board_texts(server: &Server) -> Vec<String> {
    shown(&client::get(server.addr, "/board").await.text())
}

async fn the_page_has_the_form_and_buttons(server: &Server) {
    let reply = client::get(server.addr, "/board").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    let page = reply.text();
    for needle in [
        "<title>Message Board</title>",
        "<form method=\"post\" action=\"/board\">",
        "<textarea id=\"message\" name=\"message\"",
        ">Save Message</button>",
        "<form method=\"post\" action=\"/board/clear\">",
        ">Clear Messages</button>",
        "No messages yet.",
    ] {
        assert!(page.contains(needle), "the board page lacks {needle}");
    }
    let head = client::head(server.addr, "/board").await;
    assert_eq!((head.status, head.body.len()), (StatusCode::OK, 0));
    assert_eq!(head.header("content-length"), reply.body.len().to_string());
}

async fn a_post_redirects_and_shows_with_its_time(server: &Server) {
    let reply = post(server, "message=Hello%2C+board%21", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/board");
    assert!(reply.body.is_empty());
    let reply = post(server, "message=caf%C3%A9+%E2%98%95%0D%0Aline+two", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);

    let page = client::get(server.addr, "/board").await.text();
    assert_eq!(shown(&page), ["Hello, board!", "café ☕\r\nline two"]);
    let year = jiff::Timestamp::now().strftime("%Y").to_string();
    assert!(
        page.contains(&format!("<time datetime=\"{year}-")),
        "a machine-readable time"
    );
    assert!(page.contains(" UTC</time>"), "a human-readable UTC time");
    // Reading the board again (what a reload after the 303 does) posts nothing.
    assert_eq!(board_texts(server).await.len(), 2);
}

async fn markup_in_messages_is_shown_as_text(server: &Server) {
    let attacks = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "</textarea><b>&amp;",
    ];
    for attack in attacks {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("message", attack)
            .finish();
        assert_eq!(post(server, &body, &[]).await.status, StatusCode::SEE_OTHER);
    }
    let page = client::get(server.addr, "/board").await.text();
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"));
    assert_eq!(
        shown(&page),
        [
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "&lt;img src=x onerror=alert(1)&gt;",
            "&lt;/textarea&gt;&lt;b&gt;&amp;amp;",
        ]
    );
}

async fn long_boards_are_paged_by_fifty(server: &Server) {
    for i in 1..=55 {
        assert_eq!(
            post(server, &format!("message=m{i}"), &[]).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let newest = client::get(server.addr, "/board").await.text();
    let expected: Vec<String> = (6..=55).map(|i| format!("m{i}")).collect();
    assert_eq!(shown(&newest), expected);
    assert!(newest.contains("<a href=\"/board?before=6\">Older messages</a>"));
    let older = client::get(server.addr, "/board?before=6").await.text();
    assert_eq!(shown(&older), ["m1", "m2", "m3", "m4", "m5"]);
    assert!(
        older.contains("<a href=\"/board\">Newest messages</a>")
            && !older.contains("Older messages")
    );
    for bad in ["/board?before=x", "/board?before=0", "/board?before=%zz"] {
        assert_eq!(
            client::get(server.addr, bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

async fn bad_posts_get_clear_errors_and_store_nothing(server: &Server) {
    let long = "x".repeat(4001);
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "message=".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            "message=+%20%09%0D%0A".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            format!("message={long}"),
            vec![FORM],
            StatusCode::PAYLOAD_TOO_LARGE,
            "4000",
        ),
        (
            format!("message={}", "y".repeat(70 * 1024)),
            vec![FORM],
            StatusCode::PAYLOAD_TOO_LARGE,
            "64 KiB",
        ),
        (
            "message=%FF%FE".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            "message=%C3%28".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            "message=100%".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "escape",
        ),
        (
            "message=%zz".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "escape",
        ),
        (
            "text=hello".into(),
            vec![FORM],
            StatusCode::BAD_REQUEST,
            "message field",
        ),
        (
            "message=hi".into(),
            vec![("content-type", "text/plain")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "x-www-form-urlencoded",
        ),
        (
            "message=hi".into(),
            vec![("content-type", "application/json")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "x-www-form-urlencoded",
        ),
        (
            "message=hi".into(),
            vec![],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "x-www-form-urlencoded",
        ),
    ];
    for (body, headers, status, explanation) in cases {
        let reply = Connection::open(server.addr)
            .await
            .send_body(Method::POST, "/board", &headers, body.clone())
            .await;
        let shown_body: String = body.chars().take(40).collect();
        assert_eq!(reply.status, status, "{shown_body}");
        assert_eq!(
            reply.header("content-type"),
            "text/html; charset=utf-8",
            "{shown_body}"
        );
        assert!(
            reply.text().contains(explanation),
            "{shown_body}: the page should mention {explanation:?}"
        );
    }
    // A refused message comes back in the text area, escaped.
    let reply = post(server, &format!("message=%3Cb%3E{long}"), &[]).await;
    assert!(
        reply
            .text()
            .contains(&format!(">&lt;b&gt;{long}</textarea>"))
    );
    // Exactly 4,000 characters (of two bytes each) is fine.
    let reply = post(server, &format!("message={}", "%C3%A9".repeat(4000)), &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(board_texts(server).await, ["é".repeat(4000)]);
}

async fn other_methods_are_refused_with_allow(server: &Server) {
    let cases = [
        (Method::PUT, "/board", "GET, HEAD, POST, OPTIONS"),
        (Method::DELETE, "/board", "GET, HEAD, POST, OPTIONS"),
        (Method::GET, "/board/clear", "POST, OPTIONS"),
        (Method::PATCH, "/board/clear", "POST, OPTIONS"),
    ];
    for (method, target, allow) in cases {
        let reply = client::request(server.addr, method.clone(), target, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {target}"
        );
        assert_eq!(reply.header("allow"), allow, "{method} {target}");
    }
}

async fn cross_site_posts_are_forbidden(server: &Server) {
    let own_origin = format!("http://{}", server.addr);
    let refused = [
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "http://sub.example"),
        ],
    ];
    for headers in &refused {
        let reply = post(server, "message=csrf", headers).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(reply.text().contains("other sites"));
        let clear = Connection::open(server.addr)
            .await
            .send(Method::POST, "/board/clear", headers)
            .await;
        assert_eq!(
            clear.status,
            StatusCode::FORBIDDEN,
            "clear with {headers:?}"
        );
    }
    let same_site = [
        ("origin", own_origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    assert_eq!(
        post(server, "message=mine", &same_site).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(server, "message=curl", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(board_texts(server).await, ["mine", "curl"]);
}

support::on_each_backend!(
    fresh_server =>
    the_page_has_the_form_and_buttons,
    a_post_redirects_and_shows_with_its_time,
    markup_in_messages_is_shown_as_text,
    long_boards_are_paged_by_fifty,
    bad_posts_get_clear_errors_and_store_nothing,
    other_methods_are_refused_with_allow,
    cross_site_posts_are_forbidden,
);
