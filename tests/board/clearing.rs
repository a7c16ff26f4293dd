//! Clearing the board from its page: the admin's, by Basic login (by the
//! button and by the form's field), a 401 with a login prompt for anyone
//! else, and turned off (403) on a site without an admin password.

use super::{FORM, board_texts, post, support};
use http::{Method, StatusCode};
use sitebox_runner::{ADMIN_USER, SiteSettings};
use support::client::{self, Connection};
use support::{ADMIN_PASSWORD, Server, TestSite};

async fn the_admin_clears_by_button_and_by_field(server: &Server) {
    let (name, login) = support::admin_login();
    let admin = (name, login.as_str());
    post(server, "message=one", &[]).await;
    let reply = Connection::open(server.addr)
        .await
        .send(Method::POST, "/board/clear", &[FORM, admin])
        .await;
    assert_eq!(
        (reply.status, reply.header("location")),
        (StatusCode::SEE_OTHER, "/board")
    );
    assert!(board_texts(server).await.is_empty());
    assert!(
        client::get(server.addr, "/board")
            .await
            .text()
            .contains("No messages yet.")
    );
    post(server, "message=two", &[]).await;
    assert_eq!(
        post(server, "clear=Clear+Messages", &[admin]).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(board_texts(server).await.is_empty());
    post(server, "message=three", &[]).await;
    assert_eq!(board_texts(server).await, ["three"]);
}

/// Without the admin's login, the button and the field get a 401 whose
/// challenge makes a browser ask for it, the same for any wrong login.
async fn clearing_asks_for_the_admin(server: &Server) {
    post(server, "message=kept", &[]).await;
    let wrong_password = support::basic_login(ADMIN_USER, "guess");
    let wrong_user = support::basic_login("root", ADMIN_PASSWORD);
    let logins: [&[(&str, &str)]; 5] = [
        &[],
        &[(wrong_password.0, &wrong_password.1)],
        &[(wrong_user.0, &wrong_user.1)],
        &[("authorization", "Bearer guess")],
        &[("authorization", "Basic !!!")],
    ];
    let mut pages = Vec::new();
    for login in logins {
        let headers = [&[FORM][..], login].concat();
        let button = Connection::open(server.addr)
            .await
            .send(Method::POST, "/board/clear", &headers)
            .await;
        assert_eq!(button.status, StatusCode::UNAUTHORIZED, "{login:?}");
        assert_eq!(
            button.header("www-authenticate"),
            r#"Basic realm="sitebox admin", charset="UTF-8""#
        );
        assert_eq!(button.header("content-type"), "text/html; charset=utf-8");
        let field = post(server, "clear=1", login).await;
        assert_eq!(field.status, StatusCode::UNAUTHORIZED, "{login:?}");
        pages.push(button.text());
    }
    assert!(pages[0].contains("admin"), "{}", pages[0]);
    assert!(
        pages.iter().all(|page| *page == pages[0]),
        "every refusal reads the same"
    );
    assert_eq!(board_texts(server).await, ["kept"]);
}

/// A site started without an admin password has clearing turned off, not
/// open: 403 for everyone, on the form and the API.
#[tokio::test]
async fn without_an_admin_clearing_is_turned_off() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    for (backend, addr) in support::start_servers(site, SiteSettings::default()) {
        let server = Server {
            addr,
            backend,
            site,
        };
        // Both servers keep the board in the one site's data directory.
        post(&server, "message=kept", &[]).await;
        let before = board_texts(&server).await;
        assert!(before.contains(&"kept".to_owned()));
        let (name, login) = support::admin_login();
        let button = Connection::open(addr)
            .await
            .send(Method::POST, "/board/clear", &[FORM, (name, &login)])
            .await;
        assert_eq!(button.status, StatusCode::FORBIDDEN, "{backend:?}");
        assert!(button.text().contains("turned off"), "{backend:?}");
        assert!(button.headers.get("www-authenticate").is_none());
        let api = client::request(addr, Method::DELETE, "/api/messages", &[(name, &login)]).await;
        assert_eq!(api.status, StatusCode::FORBIDDEN, "{backend:?}");
        assert!(api.json()["error"].as_str().unwrap().contains("turned off"));
        assert_eq!(board_texts(&server).await, before, "{backend:?}");
    }
}

support::on_each_backend!(
    fresh_server =>
    the_admin_clears_by_button_and_by_field,
    clearing_asks_for_the_admin,
);
