//! The admin's moderation over real HTTP (issue 32): deleting one message
//! through the API and by the page's button, on every store. A deleted id
//! is a gap that pages read past and no post takes again; a file deleted by
//! hand is a gap too; posts racing deletes lose nothing else.

use sitebox_tests as support;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use support::client::{self, Connection, Reply};
use support::{Backend, Server};

async fn create(addr: SocketAddr, text: &str) -> u64 {
    let reply = client::post_json(addr, "/api/messages", json!({ "text": text }).to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["id"].as_u64().unwrap()
}

async fn delete(addr: SocketAddr, id: u64, login: &[(&str, &str)]) -> Reply {
    let target = format!("/api/messages/{id}");
    client::request(addr, Method::DELETE, &target, login).await
}

async fn delete_as_admin(addr: SocketAddr, id: u64) -> Reply {
    let (name, login) = support::admin_login();
    delete(addr, id, &[(name, &login)]).await
}

/// The API's messages `(id, text)`, oldest first, walking its pages of
/// `limit` by their `Link: rel="next"`.
async fn listed(addr: SocketAddr, limit: usize) -> Vec<(u64, String)> {
    let mut messages = Vec::new();
    let mut target = Some(format!("/api/messages?limit={limit}"));
    while let Some(current) = target {
        let reply = client::get(addr, &current).await;
        assert_eq!(reply.status, StatusCode::OK, "{current}");
        let page: Vec<(u64, String)> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m: &Value| {
                (
                    m["id"].as_u64().unwrap(),
                    m["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        messages.splice(0..0, page);
        target = reply.headers.get("link").map(|link| {
            let link = link.to_str().unwrap();
            link.split(['<', '>']).nth(1).unwrap().to_owned()
        });
    }
    messages
}

/// The texts on the board page, in order.
async fn board_texts(addr: SocketAddr) -> Vec<String> {
    let page = client::get(addr, "/board").await.text();
    page.split("<p class=\"text\">")
        .skip(1)
        .map(|rest| rest.split("</p>").next().unwrap().to_owned())
        .collect()
}

/// Post three, delete #2: the page and the API show 1 and 3, #2 is 404 to
/// read and to delete again, and the next post gets id 4.
async fn the_admin_deletes_one_message(server: &Server) {
    let addr = server.addr;
    for text in ["one", "two", "three"] {
        create(addr, text).await;
    }
    let refused = delete(addr, 2, &[("authorization", "Bearer guess")]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.header("www-authenticate").starts_with("Bearer "));
    let anonymous = delete(addr, 2, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let cross_site = [("sec-fetch-site", "cross-site")];
    assert_eq!(
        delete(addr, 2, &cross_site).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(listed(addr, 50).await.len(), 3, "nothing deleted yet");

    let deleted = delete_as_admin(addr, 2).await;
    assert_eq!(
        (deleted.status, deleted.body.len()),
        (StatusCode::NO_CONTENT, 0)
    );
    let one_and_three = vec![(1, "one".to_owned()), (3, "three".to_owned())];
    assert_eq!(listed(addr, 50).await, one_and_three);
    assert_eq!(
        listed(addr, 1).await,
        one_and_three,
        "pages read past the gap"
    );
    assert_eq!(board_texts(addr).await, ["one", "three"]);
    assert_eq!(
        client::get(addr, "/api/messages/2").await.status,
        StatusCode::NOT_FOUND
    );
    for gone in [2, 4, 99] {
        let again = delete_as_admin(addr, gone).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "#{gone}");
        assert_eq!(again.header("content-type"), "application/json");
    }
    assert_eq!(create(addr, "four").await, 4);
    assert_eq!(board_texts(addr).await, ["one", "three", "four"]);
}

/// The page's Delete button: the login as for clearing, then back to the
/// board without the message.
async fn the_page_button_deletes_behind_the_login(server: &Server) {
    let addr = server.addr;
    create(addr, "fine").await;
    let spam = create(addr, "spam").await;
    let page = client::get(addr, "/board").await.text();
    let button = format!(
        "<form method=\"post\" action=\"/board/delete\"><input type=\"hidden\" name=\"id\" value=\"{spam}\">"
    );
    assert!(page.contains(&button), "{page}");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let press = |login: Option<(&'static str, String)>| async move {
        let mut headers = vec![form];
        if let Some((name, value)) = &login {
            headers.push((name, value));
        }
        Connection::open(addr)
            .await
            .send_body(
                Method::POST,
                "/board/delete",
                &headers,
                format!("id={spam}"),
            )
            .await
    };
    let challenged = press(None).await;
    assert_eq!(challenged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenged.header("www-authenticate"),
        r#"Basic realm="sitebox admin", charset="UTF-8""#
    );
    assert_eq!(board_texts(addr).await, ["fine", "spam"]);
    let pressed = press(Some(support::admin_login())).await;
    assert_eq!(
        (pressed.status, pressed.header("location")),
        (StatusCode::SEE_OTHER, "/board")
    );
    assert_eq!(board_texts(addr).await, ["fine"]);
    // A double click: the message is gone already, back to the board.
    assert_eq!(
        press(Some(support::admin_login())).await.status,
        StatusCode::SEE_OTHER
    );
}

/// Eight clients post (every other message spam) while the admin deletes
/// every spam it sees: every other message stays with its id, no id is
/// handed out twice, and the next post's id is above them all.
async fn posts_racing_deletes_lose_nothing_else(server: &Server) {
    let addr = server.addr;
    let mut writers = tokio::task::JoinSet::new();
    for c in 0..8 {
        writers.spawn(async move {
            let mut posted = Vec::new();
            for i in 0..12 {
                let text = format!("{}-{c}-{i}", if i % 2 == 0 { "keep" } else { "spam" });
                posted.push((create(addr, &text).await, text));
            }
            posted
        });
    }
    let deleter = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut deleted = 0;
        while deleted < 8 * 6 {
            assert!(started.elapsed().as_secs() < 120, "{deleted} spam deleted");
            for (id, text) in listed(addr, 200).await {
                if text.starts_with("spam") {
                    assert_eq!(
                        delete_as_admin(addr, id).await.status,
                        StatusCode::NO_CONTENT
                    );
                    deleted += 1;
                }
            }
        }
        deleted
    });
    let mut posts = BTreeMap::new();
    while let Some(posted) = writers.join_next().await {
        for (id, text) in posted.unwrap() {
            assert!(posts.insert(id, text).is_none(), "id {id} handed out twice");
        }
    }
    assert_eq!(deleter.await.unwrap(), 8 * 6, "every spam deleted once");
    let kept: Vec<(u64, String)> = posts
        .into_iter()
        .filter(|(_, text)| text.starts_with("keep"))
        .collect();
    assert_eq!(listed(addr, 50).await, kept);
    let newest = kept.last().unwrap().0;
    assert!(create(addr, "after").await > newest);
}

support::on_each_backend!(
    fresh_server =>
    the_admin_deletes_one_message,
    the_page_button_deletes_behind_the_login,
    posts_racing_deletes_lose_nothing_else,
);

/// A message file deleted by hand (the only moderation there was) hid every
/// later message, and the next post took its id: now it is a gap.
async fn a_file_deleted_by_hand_is_a_gap(server: &Server) {
    let addr = server.addr;
    for i in 1..=6 {
        create(addr, &format!("m{i}")).await;
    }
    for id in [2, 3] {
        let file = server
            .site
            .data_dir
            .join(format!("board/messages/{id:020}.json"));
        std::fs::remove_file(file).unwrap();
    }
    assert_eq!(board_texts(addr).await, ["m1", "m4", "m5", "m6"]);
    assert_eq!(create(addr, "m7").await, 7);
    assert_eq!(listed(addr, 2).await.len(), 5);
}

mod files {
    use super::*;

    #[tokio::test]
    async fn a_file_deleted_by_hand_is_a_gap_on_the_runner() {
        let server = support::fresh_server(Backend::Runner).unwrap();
        super::a_file_deleted_by_hand_is_a_gap(server).await;
    }

    #[tokio::test]
    async fn a_file_deleted_by_hand_is_a_gap_under_wasmtime_serve() {
        if let Some(server) = support::fresh_server(Backend::WasmtimeServe) {
            super::a_file_deleted_by_hand_is_a_gap(server).await;
        }
    }
}
