//! Many clients at once, keep-alive, and failures that stay contained to their
//! own request.

use sitebox_tests as support;

use http::{Method, StatusCode};
use support::{Server, client};

/// 200 clients, each on its own connection, all at the same time.
async fn two_hundred_parallel_requests(server: &Server) {
    let css = server.site.read("index.css");
    let logo = server.site.read("logo.png");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let addr = server.addr;
        let target = if i % 2 == 0 {
            "/index.css"
        } else {
            "/logo.png"
        };
        tasks.spawn(async move { (target, client::get(addr, target).await) });
    }
    let mut answered = 0;
    while let Some(result) = tasks.join_next().await {
        let (target, reply) = result.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{target}");
        let expected = if target == "/index.css" { &css } else { &logo };
        assert_eq!(&reply.body[..], &expected[..], "{target}");
        answered += 1;
    }
    assert_eq!(answered, 200);
}

/// One connection carries many requests, including failing ones.
async fn keep_alive_survives_failed_requests(server: &Server) {
    let mut connection = client::Connection::open(server.addr).await;
    let sequence = [
        (Method::GET, "/index.css", StatusCode::OK),
        (Method::GET, "/missing", StatusCode::NOT_FOUND),
        (Method::GET, "/%2e%2e/secret.txt", StatusCode::BAD_REQUEST),
        (Method::DELETE, "/index.css", StatusCode::METHOD_NOT_ALLOWED),
        (Method::HEAD, "/logo.png", StatusCode::OK),
        (Method::GET, "/", StatusCode::OK),
    ];
    for (method, target, status) in sequence {
        let reply = connection.send(method.clone(), target, &[]).await;
        assert_eq!(reply.status, status, "{method} {target}");
    }
    assert!(!connection.is_closed(), "the connection was kept alive");
}

/// A request the HTTP layer rejects closes its connection; the next
/// connection is served.
async fn malformed_request_then_a_good_one(server: &Server) {
    let (status, _, _) = client::raw(
        server.addr,
        "GET / HTTP/1.1\r\nHost: test\r\nBad Header\r\n",
    );
    assert_eq!(status, 400);
    let (status, _, _) = client::raw(server.addr, "NOT-HTTP\r\n");
    assert_eq!(status, 400);
    assert_eq!(
        client::get(server.addr, "/index.css").await.status,
        StatusCode::OK
    );
}

support::on_each_backend!(
    shared_server =>
    two_hundred_parallel_requests,
    keep_alive_survives_failed_requests,
    malformed_request_then_a_good_one,
);
