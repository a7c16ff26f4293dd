//! The `sitebox` binary: flags, usage errors, a port in use, start-up and
//! access log lines.

mod common;

use common::{Running, exchange, sitebox};
use std::net::TcpListener;
use std::process::Output;

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
        "--max-age",
        "--listing",
        "--dotfiles",
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

/// `sitebox --port 0` in a directory holding `static/`: the defaults serve
/// it, create `data/`, print the URL, and log each request.
#[test]
fn serves_the_static_directory_with_the_defaults() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("static")).unwrap();
    std::fs::write(cwd.path().join("static/index.html"), "hello from sitebox").unwrap();
    let mut command = sitebox();
    command.args(["--port", "0"]).current_dir(cwd.path());
    let mut server = Running::start(command);
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
    assert!(
        cwd.path().join("data").is_dir(),
        "the data directory was created"
    );

    let (status, body) = exchange(&server.addr, "GET", "/", "").unwrap();
    assert_eq!((status, body.as_str()), (200, "hello from sitebox"));
    let access = server.next_log_line();
    for part in ["GET / 200", "18B", "ms"] {
        assert!(
            access.contains(part),
            "access log line lacks {part:?}: {access:?}"
        );
    }
}
