//! Where the binary listens: several `--listen` addresses at once (IPv4,
//! IPv6 and a Unix socket, removed at the end), and systemd's sockets
//! (socket activation, by `systemd-socket-activate`), with the unit files
//! of `deploy/systemd` checked by `systemd-analyze verify`.

mod common;

use common::{Running, exchange, sitebox};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("static")).unwrap();
    std::fs::write(dir.path().join("static/index.html"), "hello").unwrap();
    dir
}

/// `GET /` over the Unix socket at `path`: the status line and body.
fn get_over_unix(path: &Path) -> String {
    let mut stream = std::os::unix::net::UnixStream::connect(path).unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// A tool the test needs: missing is a failure under `CI=true` (`.ci/run`
/// installs it), else the test is skipped with a notice.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, but {tool} is missing (.ci/run installs Debian's systemd)"
    );
    if !found {
        eprintln!("skipped: {tool} is not installed (apt-get install systemd)");
    }
    found
}

#[test]
fn every_listen_address_serves_and_the_unix_socket_is_removed_at_the_end() {
    let dir = site();
    let socket = dir.path().join("sitebox.sock");
    let mut command = sitebox();
    command
        .current_dir(dir.path())
        .args(["--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--listen"])
        .arg(&socket);
    let mut server = Running::start(command);
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
    let v6 = server.next_log_line();
    let (_, v6) = v6.split_once("http://").expect("the IPv6 listener's line");
    let v6 = v6.trim().trim_end_matches('/').to_owned();
    assert!(v6.starts_with("[::1]:"), "{v6}");
    let unix = server.next_log_line();
    assert!(
        unix.contains(&format!("unix:{}", socket.display())),
        "{unix}"
    );
    for addr in [&server.addr, &v6] {
        assert_eq!(
            exchange(addr, "GET", "/", "").unwrap(),
            (200, "hello".into()),
            "{addr}"
        );
    }
    let reply = get_over_unix(&socket);
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("hello"),
        "{reply}"
    );
    // Over the Unix socket the client counts as 127.0.0.1.
    let access: Vec<String> = (0..3).map(|_| server.next_access_line()).collect();
    assert!(
        access
            .iter()
            .all(|line| line.starts_with("127.0.0.1 ") || line.starts_with("::1 ")),
        "{access:?}"
    );
    assert_eq!(server.stop_with(libc::SIGTERM).code(), Some(0));
    assert!(!socket.exists(), "the socket file is removed");
}

#[test]
fn a_unix_socket_in_use_is_one_line_and_exit_code_1() {
    let dir = site();
    let socket = dir.path().join("taken.sock");
    let _taken = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let output = sitebox()
        .current_dir(dir.path())
        .arg("--listen")
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("in use") && message.lines().count() == 1,
        "{message}"
    );
}

#[test]
fn the_sockets_systemd_passes_are_served() {
    if !have("systemd-socket-activate") {
        return;
    }
    let dir = site();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut command = Command::new("systemd-socket-activate");
    command
        .current_dir(dir.path())
        .args(["-l", &addr])
        .arg(env!("CARGO_BIN_EXE_sitebox"))
        // Ignored: systemd's socket takes their place.
        .args(["--port", "1", "--listen", "127.0.0.1:2"]);
    // systemd-socket-activate starts the service at the first connection,
    // which waits in the socket's backlog meanwhile.
    let first = std::thread::spawn({
        let addr = addr.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            exchange(&addr, "GET", "/", "")
        }
    });
    let server = Running::start(command);
    server.kill_after(std::time::Duration::from_secs(60));
    let systemd = "listening on 1 sockets from systemd";
    let said = server.startup.iter().any(|line| line.contains(systemd));
    assert!(said, "{:?}", server.startup);
    assert_eq!(server.addr, addr);
    assert_eq!(first.join().unwrap().unwrap(), (200, "hello".into()));
    let again = exchange(&addr, "GET", "/", "").unwrap();
    assert_eq!(again, (200, "hello".into()));
}

#[test]
fn the_systemd_units_verify() {
    if !have("systemd-analyze") {
        return;
    }
    let units = tempfile::tempdir().unwrap();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    for unit in ["sitebox.socket", "sitebox.service"] {
        let text = std::fs::read_to_string(deploy.join(unit)).unwrap();
        // The unit names the installed binary; verify wants one that exists.
        let text = text.replace("/usr/local/bin/sitebox", env!("CARGO_BIN_EXE_sitebox"));
        std::fs::write(units.path().join(unit), text).unwrap();
    }
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.path().join("sitebox.socket"))
        .arg(units.path().join("sitebox.service"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && said.trim().is_empty(), "{said}");
}

/// As on TCP, a Unix connection that sends nothing is closed after the
/// header timeout, and one that sends a request is answered.
#[test]
fn a_silent_unix_connection_is_closed_after_the_header_timeout() {
    let dir = site();
    let socket = dir.path().join("s.sock");
    let mut command = sitebox();
    command
        .current_dir(dir.path())
        .args([
            "--header-timeout",
            "1s",
            "--listen",
            "127.0.0.1:0",
            "--listen",
        ])
        .arg(&socket);
    let _server = Running::start(command);
    while !socket.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut silent = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let read = silent.read(&mut [0; 16]).unwrap();
    assert_eq!(read, 0, "closed without a word");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "{waited:?}"
    );
    assert!(get_over_unix(&socket).starts_with("HTTP/1.1 200"));
}
