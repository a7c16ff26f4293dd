//! The board's admin through the `sitebox` binary: `sitebox hash-password`
//! makes the hash, `--admin-password-hash` (or its environment variable)
//! sets it up, the admin clears with it, and a hash the component could not
//! use stops the start with one line.

mod common;

use common::{Running, admin_login, exchange_with_headers, hash_password, sitebox};

const PASSWORD: &str = "an admin's pass phrase";

fn site() -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "home").unwrap();
    site
}

fn serve(
    site: &tempfile::TempDir,
    data: &tempfile::TempDir,
    hash: Option<(&str, bool)>,
) -> Running {
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(site.path())
        .arg("--data")
        .arg(data.path())
        // Just enough for the default hash's 19 MiB and the request.
        .args(["--max-memory", "22"])
        .env_remove("SITEBOX_ADMIN_PASSWORD_HASH");
    match hash {
        Some((hash, true)) => {
            command.args(["--admin-password-hash", hash]);
        }
        Some((hash, false)) => {
            command.env("SITEBOX_ADMIN_PASSWORD_HASH", hash);
        }
        None => {}
    }
    Running::start(command)
}

/// The start-up log's line about the admin (after the URL's).
fn admin_line(server: &mut Running) -> String {
    for _ in 0..10 {
        let line = server.next_log_line();
        if line.contains("board admin") {
            return line;
        }
    }
    panic!("no line about the board's admin")
}

fn post(addr: &str, text: &str) {
    let body = serde_json::json!({ "text": text }).to_string();
    let (status, _, body) =
        exchange_with_headers(addr, "POST", "/api/messages", "", &body).unwrap();
    assert_eq!(status, 201, "{body}");
}

fn clear(addr: &str, login: &str) -> (u16, String) {
    let (status, head, _) =
        exchange_with_headers(addr, "DELETE", "/api/messages", login, "").unwrap();
    (status, head)
}

#[test]
fn the_hash_from_hash_password_lets_the_admin_clear() {
    let hash = hash_password(PASSWORD);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_ne!(hash, hash_password(PASSWORD), "salted");
    let (site, data) = (site(), tempfile::tempdir().unwrap());
    // By the flag and by the environment variable alike.
    for by_flag in [true, false] {
        let mut server = serve(&site, &data, Some((&hash, by_flag)));
        let line = admin_line(&mut server);
        assert!(line.contains("board admin: set up"), "{line}");
        assert!(!line.contains(&hash), "the hash is not logged");
        server.drain_log();
        post(&server.addr, "doomed");
        let (status, head) = clear(&server.addr, "");
        assert_eq!(status, 401);
        assert!(
            head.contains("www-authenticate: Bearer realm=\"sitebox admin\""),
            "{head}"
        );
        assert_eq!(clear(&server.addr, &admin_login("wrong")).0, 401);
        assert_eq!(common::board(&server.addr).len(), 1);
        assert_eq!(clear(&server.addr, &admin_login(PASSWORD)).0, 204);
        assert!(common::board(&server.addr).is_empty());
        let bearer = format!("Authorization: Bearer {PASSWORD}\r\n");
        post(&server.addr, "doomed too");
        assert_eq!(clear(&server.addr, &bearer).0, 204);
    }
}

#[test]
fn without_a_hash_clearing_is_turned_off() {
    let (site, data) = (site(), tempfile::tempdir().unwrap());
    let mut server = serve(&site, &data, None);
    let line = admin_line(&mut server);
    assert!(line.contains("clearing is turned off"), "{line}");
    server.drain_log();
    post(&server.addr, "kept");
    assert_eq!(clear(&server.addr, &admin_login(PASSWORD)).0, 403);
    assert_eq!(common::board(&server.addr).len(), 1);
}

#[test]
fn an_unusable_hash_stops_the_start_with_one_line() {
    let site = site();
    let costly = "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
                  DKDJDdB8L5Jl0mZ1h5pLhR0dIpWUXk7Y8y9q6f6VQm0";
    for (hash, extra, expected) in [
        ("hunter2", &[][..], "unusable"),
        (
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            &[],
            "unusable",
        ),
        (costly, &["--max-memory", "32"][..], "64 MiB"),
    ] {
        let output = sitebox()
            .args(["--port", "0", "--static"])
            .arg(site.path())
            .args(["--admin-password-hash", hash])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{hash}");
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(message.lines().count(), 1, "one line: {message:?}");
        assert!(message.contains(expected), "{hash}: {message}");
    }
}

#[test]
fn hash_password_refuses_an_empty_password() {
    let output = sitebox()
        .arg("hash-password")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("empty"));
    assert!(output.stdout.is_empty());
}
