//! The site's rules files through the `sitebox` binary: each problem is
//! logged once at start with its line, by the component's own parser, and
//! again when a file changes (at once under `--watch`, else at the next
//! request, which follows the new rules); requests meanwhile follow
//! the rules that parse; and `sitebox check-rules` reports the same problems.

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

#[test]
fn a_changed_file_is_followed_by_the_next_request_and_its_problems_logged() {
    let site = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "home").unwrap();
    std::fs::write(site.path().join("_redirects"), "/a /index.html 302\n").unwrap();
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(site.path())
        .arg("--data")
        .arg(data.path());
    let mut server = Running::start(command);
    server.kill_after(Duration::from_secs(60));
    let (status, _, _) = exchange_with_head(&server.addr, "GET", "/a", "").unwrap();
    assert_eq!(status, 302);

    // Same size, at once: the runner must not trust the file's stamp yet.
    std::fs::write(site.path().join("_redirects"), "/b /index.html 307\n").unwrap();
    let (status, _, _) = exchange_with_head(&server.addr, "GET", "/a", "").unwrap();
    assert_eq!(status, 404, "the old rule is gone");
    let (status, head, _) = exchange_with_head(&server.addr, "GET", "/b", "").unwrap();
    assert_eq!(status, 307, "{head}");
    assert!(!line_with(&mut server, "_redirects changed").is_empty());

    std::fs::write(site.path().join("_redirects"), "/b /index.html 307\n/c\n").unwrap();
    let (status, _, _) = exchange_with_head(&server.addr, "GET", "/b", "").unwrap();
    assert_eq!(status, 307, "the rule that parses still applies");
    let problem = line_with(&mut server, "_redirects line");
    assert!(
        problem.contains("site rules: _redirects line 2:"),
        "{problem}"
    );

    std::fs::remove_file(site.path().join("_redirects")).unwrap();
    let (status, _, _) = exchange_with_head(&server.addr, "GET", "/b", "").unwrap();
    assert_eq!(status, 404, "removed: no rules");
}

#[test]
fn check_rules_prints_each_problem_and_fails_on_any() {
    let site = tempfile::tempdir().unwrap();
    let check = || {
        let output = sitebox()
            .arg("check-rules")
            .arg(site.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        (output.status.code(), stdout, stderr)
    };
    let (code, stdout, stderr) = check();
    assert_eq!((code, stdout.as_str()), (Some(0), ""), "{stderr}");
    assert!(stderr.contains("no _redirects or _headers"), "{stderr}");

    std::fs::write(
        site.path().join("_redirects"),
        "/a /b 302\n/* /index.html 200\n",
    )
    .unwrap();
    let (code, _, stderr) = check();
    assert_eq!(code, Some(0));
    assert_eq!(stderr.trim(), "_redirects: no problems");

    std::fs::write(site.path().join("_redirects"), "/a /b 418\n/c\n").unwrap();
    std::fs::write(site.path().join("_headers"), "/*\n  Content-Length: 1\n").unwrap();
    let (code, stdout, stderr) = check();
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("_redirects line 1: `418` is not a status"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("_redirects line 2: a rule is FROM TO"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("_headers line 2: content-length frames"),
        "{stdout}"
    );
    assert_eq!(stderr.trim(), "3 problems");

    // Notes on lines that apply (issue 31) are printed but do not fail.
    std::fs::write(site.path().join("_redirects"), "/old* /:splat 301\n").unwrap();
    std::fs::write(site.path().join("_headers"), "/*\n  ! X-Frame-Options\n").unwrap();
    let (code, stdout, stderr) = check();
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(!stdout.contains("(skipped)"), "{stdout}");
    assert_eq!(stderr.trim(), "no problems, 2 notes");

    let (code, _, stderr) = {
        let output = sitebox()
            .args(["check-rules", "/no/such/site"])
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        (output.status.code(), (), stderr)
    };
    assert_eq!(code, Some(1));
    assert!(stderr.contains("cannot open /no/such/site"), "{stderr}");
}
