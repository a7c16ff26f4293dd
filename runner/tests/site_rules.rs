//! The site's rules files through the `sitebox` binary: each problem is
//! logged once at start with its line, by the component's own parser, and
//! again when the file changes under `--watch`; requests meanwhile follow
//! the rules that parse.

mod common;

use common::{Running, exchange_with_head, sitebox};
use std::time::Duration;

/// The next log line that contains `needle`, skipping others; "" if the log
/// ends first.
fn line_with(server: &mut Running, needle: &str) -> String {
    loop {
        let line = server.next_log_line();
        if line.is_empty() || line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn problems_are_logged_at_start_and_when_a_file_changes() {
    let site = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "home").unwrap();
    std::fs::write(
        site.path().join("_redirects"),
        "/a /index.html 302\n/broken\n",
    )
    .unwrap();
    std::fs::write(site.path().join("_headers"), "/*\n  X-Site: yes\n").unwrap();
    let bin = tempfile::tempdir().unwrap();
    let component = bin.path().join("sitebox.wasm");
    std::fs::copy(sitebox_runner::EMBEDDED_COMPONENT_PATH, &component).unwrap();
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(site.path())
        .arg("--data")
        .arg(data.path())
        .arg("--component")
        .arg(&component)
        .arg("--watch");
    let mut server = Running::start(command);
    server.kill_after(Duration::from_secs(60));
    let problem = line_with(&mut server, "site rules:");
    assert!(
        problem.contains("_redirects line 2: a rule is FROM TO [STATUS]: TO is missing (skipped)"),
        "{problem}"
    );
    let (status, head, _) = exchange_with_head(&server.addr, "GET", "/a", "").unwrap();
    assert_eq!(status, 302, "the rule that parses applies");
    assert!(head.to_ascii_lowercase().contains("x-site: yes"), "{head}");

    std::fs::write(
        site.path().join("_headers"),
        "/*\n  X-Site: yes\n  Transfer-Encoding: x\n",
    )
    .unwrap();
    let changed = line_with(&mut server, "_headers changed");
    assert!(!changed.is_empty(), "no line about the change");
    let problem = line_with(&mut server, "site rules: _headers");
    assert!(
        problem.contains("_headers line 3: transfer-encoding frames the response"),
        "{problem}"
    );
}
