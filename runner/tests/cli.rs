//! The `sitebox` binary: flags, usage errors, a port in use, start-up and
//! access log lines, signals, the compiled-component cache.

mod common;

use common::{Running, exchange, sitebox};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    sitebox().args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The long flags `--help` names, each where its option starts (column 2
/// after a short flag, or column 6), not in the descriptions.
fn flags_in_help(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("      ").or_else(|| {
                let short = line.strip_prefix("  -")?;
                short.get(3..).filter(|_| short.get(1..3) == Some(", "))
            })?;
            let name: String = rest
                .strip_prefix("--")?
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(format!("--{name}"))
        })
        .collect()
}

/// The long flags in the first column of a Markdown table's rows in `file`.
fn flags_in_table(file: &str) -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    text.lines()
        .filter_map(|row| row.strip_prefix("| `--"))
        .flat_map(|row| {
            // `\|` is a `|` inside a cell.
            let first_cell = row.replace("\\|", "");
            let first_cell = first_cell.split('|').next().unwrap();
            format!("--{first_cell}")
                .split("--")
                .skip(1)
                .map(|flag| {
                    let name: String = flag
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    format!("--{name}")
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The README's flag table, the operator's guide's, and `--help` name the
/// same flags: a new flag cannot miss a table, nor a table keep a gone one.
#[test]
fn help_and_the_flag_tables_name_the_same_flags() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let mut flags = flags_in_help(&help);
    assert!(flags.len() > 40, "flags read from --help: {flags:?}");
    for flag in ["hash-password", "check-rules", "SITEBOX_PORT", "--version"] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    flags.remove("--help");
    flags.remove("--version");
    assert_eq!(flags_in_table("README.md"), flags, "README.md's flag table");
    let mut guide = flags_in_table("docs/runner.md");
    guide.remove("--help");
    guide.remove("--version");
    assert_eq!(guide, flags, "docs/runner.md's flag table");
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    for args in [
        &["--frobnicate"][..],
        &["--port", "http"],
        &["--port", "65536"],
        &["--addr", "nowhere"],
        &["--request-timeout", "soon"],
        &["--tls-cert", "c.pem"],
        &["--watch"],
        &["--log-format", "xml"],
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
    let board = server.next_log_line();
    assert!(board.contains("board: files in /"), "{board}");
    assert!(board.trim_end().ends_with("/data"), "{board}");

    let (status, body) = exchange(&server.addr, "GET", "/", "").unwrap();
    assert_eq!((status, body.as_str()), (200, "hello from sitebox"));
    let access = server.next_access_line();
    // Common Log Format: client, identity, user, [time], "request", status, bytes.
    let (client, rest) = access.split_once(" - - [").unwrap();
    assert_eq!(client, "127.0.0.1");
    let (time, rest) = rest.split_once("] ").unwrap();
    assert!(time.ends_with(" +0000") && time.len() == 26, "{time:?}");
    assert_eq!(rest.trim_end(), "\"GET / HTTP/1.1\" 200 18");
}

/// The start-up log says the board is on Redis, never with the URL's
/// password, and the runner starts even though Redis does not answer.
#[test]
fn the_store_on_redis_is_logged_without_its_password() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("static")).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/3");
    let mut command = sitebox();
    command
        .args(["--port", "0", "--store", &url, "--bucket", "blog"])
        .args(["--store-timeout", "200ms"])
        .current_dir(cwd.path());
    let mut server = Running::start(command);
    let board = server.next_log_line();
    assert!(
        board.contains(&format!(
            "board: bucket \"blog\" on redis://:***@127.0.0.1:{port}/3"
        )),
        "{board}"
    );
    let admin = server.next_log_line();
    assert!(admin.contains("board admin"), "{admin}");
    // The start-up check's line, and the reconnecting connection's own
    // (in either order).
    let warning = format!("{}{}", server.next_log_line(), server.next_log_line());
    assert!(warning.contains("Redis does not answer yet"), "{warning}");
    assert!(warning.contains("no connection to Redis"), "{warning}");
    assert!(!format!("{:?}{board}{warning}", server.startup).contains("hunter2"));
    assert!(
        !cwd.path().join("data").exists(),
        "no data directory for Redis"
    );
    let (status, _) = exchange(&server.addr, "GET", "/api/messages", "").unwrap();
    assert_eq!(status, 503);
}

/// Probes are not logged unless `--log-health`; `--metrics-addr` serves the
/// metrics on a listener of its own, named in the start-up log.
#[test]
fn probes_are_logged_only_when_asked_and_metrics_have_their_own_listener() {
    let site = tempfile::tempdir().unwrap();
    let dir = site.path().to_str().unwrap();
    let start = |flags: &[&str]| {
        let mut command = sitebox();
        command.args(["--port", "0", "--static", dir]).args(flags);
        Running::start(command)
    };
    let mut server = start(&["--metrics-addr", "127.0.0.1:0"]);
    let metrics = loop {
        let line = server.next_log_line();
        assert!(!line.is_empty(), "no metrics line");
        if let Some((_, url)) = line.split_once("metrics on http://") {
            break url.trim().trim_end_matches("/metrics").to_owned();
        }
    };
    assert_eq!(
        exchange(&server.addr, "GET", "/healthz", "").unwrap(),
        (200, "live\n".into())
    );
    exchange(&server.addr, "GET", "/nothing", "").unwrap();
    assert!(
        server
            .next_access_line()
            .contains("\"GET /nothing HTTP/1.1\" 404")
    );
    let (status, page) = exchange(&metrics, "GET", "/metrics", "").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("sitebox_http_requests_total{method=\"GET\",status=\"404\"} 1"),
        "{page}"
    );
    assert!(
        !page.contains("status=\"200\""),
        "the probe is not counted: {page}"
    );

    let mut logged = start(&["--log-health", "--ready-path", "/-/ready"]);
    exchange(&logged.addr, "GET", "/-/ready", "").unwrap();
    assert!(
        logged
            .next_access_line()
            .contains("\"GET /-/ready HTTP/1.1\" 200")
    );
}

/// Behind a trusted proxy the access log names the client it forwards for;
/// from anyone else, the same header changes nothing.
#[test]
fn the_access_log_names_the_client_a_trusted_proxy_forwards_for() {
    let site = tempfile::tempdir().unwrap();
    let dir = site.path().to_str().unwrap();
    let forwarded = "X-Forwarded-For: 203.0.113.50\r\n";
    for (trusted, client) in [("127.0.0.1", "203.0.113.50"), ("10.0.0.0/8", "127.0.0.1")] {
        let mut command = sitebox();
        command.args(["--port", "0", "--static", dir, "--trusted-proxies", trusted]);
        let mut server = Running::start(command);
        common::exchange_with_headers(&server.addr, "GET", "/", forwarded, "").unwrap();
        let line = server.next_access_line();
        assert!(
            line.starts_with(&format!("{client} - - [")),
            "{trusted}: {line}"
        );
    }
}

#[test]
fn the_access_log_as_json_or_not_at_all() {
    let site = tempfile::tempdir().unwrap();
    let dir = site.path().to_str().unwrap();
    let mut command = sitebox();
    command.args(["--port", "0", "--static", dir, "--log-format", "json"]);
    let mut server = Running::start(command);
    exchange(&server.addr, "GET", "/nothing?x=1", "").unwrap();
    let line: serde_json::Value = serde_json::from_str(&server.next_access_line()).unwrap();
    assert_eq!(line["method"], "GET");
    assert_eq!(line["target"], "/nothing?x=1");
    assert_eq!(line["status"], 404);
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0);

    let mut command = sitebox();
    command.args(["--port", "0", "--static", dir, "-q"]);
    let mut quiet = Running::start(command);
    exchange(&quiet.addr, "GET", "/", "").unwrap();
    assert_eq!(quiet.stop_with(libc::SIGTERM).code(), Some(0));
    assert_eq!(quiet.next_access_line(), "", "-q writes no access log");
}

#[test]
fn sigterm_and_sigint_stop_it_with_exit_code_0() {
    let site = tempfile::tempdir().unwrap();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut command = sitebox();
        command.args(["--port", "0", "--static", site.path().to_str().unwrap()]);
        let mut server = Running::start(command);
        assert!(exchange(&server.addr, "GET", "/", "").is_some());
        let status = server.stop_with(signal);
        assert_eq!(status.code(), Some(0), "after signal {signal}");
    }
}

/// The second start loads the compiled component instead of compiling it.
#[test]
fn the_compiled_component_is_cached_between_starts() {
    let site = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let args = [
        "--port",
        "0",
        "--static",
        site.path().to_str().unwrap(),
        "--cache-dir",
        cache.path().to_str().unwrap(),
    ];
    let mut command = sitebox();
    command.args(args);
    let first = Running::start(command);
    assert!(
        first
            .startup
            .iter()
            .any(|l| l.contains("compiled the component in")),
        "{:?}",
        first.startup
    );
    first.kill();
    let mut command = sitebox();
    command.args(args);
    let second = Running::start(command);
    assert!(
        second.startup.iter().any(|l| l.contains("from the cache")),
        "{:?}",
        second.startup
    );
    assert!(exchange(&second.addr, "GET", "/", "").is_some());
}

#[test]
fn bad_tls_files_are_one_line_and_exit_code_1() {
    let site = tempfile::tempdir().unwrap();
    let output = run(&[
        "--port",
        "0",
        "--static",
        site.path().to_str().unwrap(),
        "--tls-cert",
        "/no/cert.pem",
        "--tls-key",
        "/no/key.pem",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("/no/cert.pem"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

/// Sharing instances needs a component that can run requests side by side,
/// and instances that serve at least that many.
#[test]
fn instance_concurrency_needs_a_0_3_component_and_enough_reuse() {
    let site = tempfile::tempdir().unwrap();
    let site = site.path().to_str().unwrap();
    let p2 = run(&[
        "--port",
        "0",
        "--static",
        site,
        "--instance-concurrency",
        "4",
        "--reuse-instances",
        "8",
    ]);
    assert_eq!(p2.status.code(), Some(1));
    let message = stderr(&p2);
    assert!(
        message.contains("needs a wasi:http 0.3 component"),
        "{message}"
    );
    let p3 = sitebox_runner::P3_COMPONENT_PATH;
    let args = ["--port", "0", "--static", site, "--component", p3];
    let too_little_reuse = run(&[
        &args[..],
        &["--instance-concurrency", "8", "--reuse-instances", "4"],
    ]
    .concat());
    assert_eq!(too_little_reuse.status.code(), Some(1));
    let message = stderr(&too_little_reuse);
    assert!(
        message.contains("--reuse-instances of at least 8"),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}
