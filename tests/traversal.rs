//! Path traversal: a secret file sits beside the static root; no request,
//! however encoded, may read it (400, 403 or 404, never 200, never a 500).
//! Sent as raw bytes so no client library normalises the paths first.

use sitebox_tests as support;

use support::{SECRET, Server, client};

/// Request targets that try to leave the root, and what they must get.
const ATTACKS: &[&str] = &[
    "/../secret.txt",
    "/../../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/..%5csecret.txt",
    "/..%5Csecret.txt",
    "/..\\secret.txt",
    "/%2e%2e%5csecret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/..%00/secret.txt",
    "/secret.txt%00.html",
    "//secret.txt",
    "///secret.txt",
    "//../secret.txt",
    "/.//../secret.txt",
    "/%252e%252e/secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/./../secret.txt",
    "/%2fsecret.txt",
    "/..;/secret.txt",
    "http://127.0.0.1/../secret.txt",
    "/etc/passwd",
    "/%2fetc%2fpasswd",
];

fn assert_refused(server: &Server, target: &str, allowed: &[u16]) {
    let (status, head, body) =
        client::raw(server.addr, &format!("GET {target} HTTP/1.1\r\nHost: test"));
    let body = String::from_utf8_lossy(&body);
    assert!(!body.contains(SECRET), "{target} leaked the secret: {head}");
    assert!(
        allowed.contains(&status),
        "{target} answered {status}, expected one of {allowed:?}\n{head}"
    );
}

async fn encoded_traversal_is_refused(server: &Server) {
    for target in ATTACKS {
        assert_refused(server, target, &[400, 404]);
    }
}

/// Symlinks inside the root that point outside it never serve their target.
async fn escaping_symlinks_are_refused(server: &Server) {
    let targets = [
        "/escape.txt",
        "/escape-absolute.txt",
        "/escape-dir/",
        "/escape-dir",
        "/escape-dir/secret.txt",
    ];
    for target in targets {
        assert_refused(server, target, &[403, 404]);
    }
}

/// The refusals are answers, not crashes: the server still serves.
async fn the_server_survives_the_attacks(server: &Server) {
    let mut connection = client::Connection::open(server.addr).await;
    for target in ["/..%2fsecret.txt", "/escape.txt", "/%zz", "/index.css"] {
        let reply = connection.send(http::Method::GET, target, &[]).await;
        assert!(!reply.text().contains(SECRET));
    }
    let reply = connection.send(http::Method::GET, "/index.css", &[]).await;
    assert_eq!(reply.status, 200);
}

/// Malformed escapes and non-UTF-8 names are the client's error.
async fn malformed_paths_are_bad_requests(server: &Server) {
    for target in ["/%zz", "/100%", "/%ff", "/a%0ab", "/%00"] {
        let (status, _, _) =
            client::raw(server.addr, &format!("GET {target} HTTP/1.1\r\nHost: test"));
        assert_eq!(status, 400, "{target}");
    }
}

support::on_each_backend!(
    shared_server =>
    encoded_traversal_is_refused,
    escaping_symlinks_are_refused,
    the_server_survives_the_attacks,
    malformed_paths_are_bad_requests,
);
