//! The `sitebox` binary: flags, usage errors, a port in use, start-up and
//! access log lines.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn sitebox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sitebox"))
}

fn run(args: &[&str]) -> Output {
    sitebox().args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_flag() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--port",
        "--static",
        "--data",
        "--component",
        "--max-memory",
        "--help",
        "--version",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    for args in [
        &["--frobnicate"][..],
        &["--port", "http"],
        &["--port", "65536"],
        &["--addr", "nowhere"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = stderr(&output);
        assert!(
            message.starts_with("error:") && message.contains("--help"),
            "{args:?}: {message}"
        );
    }
}

#[test]
fn a_port_in_use_is_one_line_and_exit_code_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let site = tempfile::tempdir().unwrap();
    let output = run(&["--port", &port, "--static", site.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message:?}");
    assert!(
        message.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("in use"), "{message}");
}

#[test]
fn a_missing_static_directory_is_one_line_and_exit_code_1() {
    let output = run(&["--port", "0", "--static", "/no/such/site"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message:?}");
    assert!(message.contains("/no/such/site"), "{message}");
}

/// Kills the server when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sitebox --port 0` in a directory holding `static/`: the defaults serve
/// it, create `data/`, print the URL, and log each request.
#[test]
fn serves_the_static_directory_with_the_defaults() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("static")).unwrap();
    std::fs::write(cwd.path().join("static/index.html"), "hello from sitebox").unwrap();
    let child = sitebox()
        .args(["--port", "0"])
        .current_dir(cwd.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let mut log = BufReader::new(server.0.stderr.take().unwrap());

    let mut line = String::new();
    log.read_line(&mut line).unwrap();
    let url = line
        .split_once("on http://")
        .map(|(_, rest)| rest.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| panic!("no start-up line with the URL: {line:?}"));
    assert!(url.starts_with("127.0.0.1:"), "{line}");
    assert!(
        cwd.path().join("data").is_dir(),
        "the data directory was created"
    );

    let body = http_get(&url, "/");
    assert!(body.ends_with("hello from sitebox"), "{body}");

    let mut access = String::new();
    log.read_line(&mut access).unwrap();
    for part in ["GET / 200", "18B", "ms"] {
        assert!(
            access.contains(part),
            "access log line lacks {part:?}: {access:?}"
        );
    }
    assert!(Path::new(&cwd.path().join("static")).exists());
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}
