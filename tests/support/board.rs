//! The board as a visitor and its admin use it over HTTP, on any host: post
//! by form and by the API, read the page and the list, clear it. Shared by
//! the tests of each host so each asserts the same things the same way.

use super::client::{self, Connection, Reply};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// A form POST of `fields` that must be accepted (303 to the board).
pub async fn post_form(addr: SocketAddr, target: &str, fields: &[(&str, &str)]) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let reply = client::post_form(addr, target, body).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "POST {target}: {}",
        reply.text()
    );
    assert_eq!(reply.header("location"), "/board");
    reply
}

/// The texts shown on the board page, in order (as they are in the HTML).
pub async fn shown(addr: SocketAddr) -> Vec<String> {
    let reply = client::get(addr, "/board").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    let page = reply.text();
    let texts: Vec<String> = page
        .split("<p class=\"text\">")
        .skip(1)
        .map(|rest| rest.split("</p>").next().unwrap().to_owned())
        .collect();
    assert_eq!(texts.is_empty(), page.contains("No messages yet."));
    texts
}

/// A message posted through the API (201, with its `Location`).
pub async fn create(addr: SocketAddr, text: &str) -> Value {
    let reply = client::post_json(addr, "/api/messages", json!({ "text": text }).to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/json");
    let created = reply.json();
    assert_eq!(created["text"], text);
    let id = created["id"].as_u64().expect("an id");
    assert_eq!(reply.header("location"), format!("/api/messages/{id}"));
    created
}

/// The texts `GET /api/messages` lists, in order.
pub async fn listed(addr: SocketAddr) -> Vec<Value> {
    let reply = client::get(addr, "/api/messages").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let list = reply.json();
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect()
}

/// The admin clears the board from its page (Basic login): 303.
pub async fn clear_as_admin(addr: SocketAddr) {
    let (name, login) = super::admin_login();
    let cleared = Connection::open(addr)
        .await
        .send(
            Method::POST,
            "/board/clear",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                (name, &login),
            ],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.text());
}

/// The admin clears the board through the API (the bearer password): 204.
pub async fn clear_by_api(addr: SocketAddr) {
    let bearer = format!("Bearer {}", super::ADMIN_PASSWORD);
    let reply = client::request(
        addr,
        Method::DELETE,
        "/api/messages",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
}
