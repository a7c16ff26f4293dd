//! `check`: every problem of a rules file reported with its line, the
//! lines that apply with a warning apart from those skipped.

use crate::rules::{HEADERS_FILE, MAX_FILE_BYTES, REDIRECTS_FILE, check};

#[test]
fn check_reports_each_problem_with_its_line() {
    let problems = check(REDIRECTS_FILE, b"# ok\n/a /b\n/c\n/d /e 999\n");
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3, 4]);
    assert_eq!(
        problems[0].to_string(),
        "_redirects line 3: a rule is FROM TO [STATUS]: TO is missing (skipped)"
    );
    let headers = check(
        HEADERS_FILE,
        b"X-A: 1\n/*\n  X-B: 2\n  Content-Length: 3\n/a b\n",
    );
    let lines: Vec<usize> = headers.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 4, 5]);
    assert!(check(HEADERS_FILE, b"/*\n  X-A: 1\n").is_empty());
    let large = vec![b'#'; MAX_FILE_BYTES as usize + 1];
    let whole = check(REDIRECTS_FILE, &large);
    assert_eq!(whole.len(), 1);
    assert_eq!(
        whole[0].to_string(),
        "_redirects: larger than 64 KiB: none of its rules apply"
    );
    assert_eq!(check(HEADERS_FILE, b"/* \xff\n")[0].line, 0);
}

#[test]
fn check_warns_of_redirects_that_need_the_guards() {
    let text = b"/old* /:splat 301\n/trailing2 /trailing2/ 301\n/docs/* /docs/:splat 301\n/a /b 301\n/x /x 200\n/blog/* /:splat 301\n/u/* /:splat/x 302\n";
    let problems = check(REDIRECTS_FILE, text);
    let lines: Vec<(usize, bool)> = problems.iter().map(|p| (p.line, p.skipped)).collect();
    assert_eq!(lines, [(1, false), (2, false), (3, false), (7, false)]);
    assert!(
        problems[0].to_string().contains("collapsed"),
        "{}",
        problems[0]
    );
    assert!(!problems[1].to_string().contains("(skipped)"));
    assert!(problems[1].to_string().contains("not redirected to itself"));
}

/// Issue 31: `! Name` removes Name, as on Cloudflare Pages; Netlify ignores
/// the line. check-rules says so (the line applies).
#[test]
fn check_notes_removals_and_refuses_headers_without_a_value() {
    let problems = check(HEADERS_FILE, b"/*\n  ! X-Frame-Options\n  X-Empty:\n");
    let lines: Vec<(usize, bool)> = problems.iter().map(|p| (p.line, p.skipped)).collect();
    assert_eq!(lines, [(2, false), (3, true)]);
    assert!(problems[0].message.contains("removes"), "{}", problems[0]);
}

/// Issue 31: every line skipped is reported, the header lines of a block
/// whose path is skipped too (they were skipped silently).
#[test]
fn check_reports_the_header_lines_of_a_skipped_path() {
    let problems = check(HEADERS_FILE, b"/a b\n  X-A: 1\n  X-B: 2\n/ok\n  X-C: 3\n");
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].starts_with("_headers line 1: "), "{lines:#?}");
    for (at, line) in [(1, 2), (2, 3)] {
        assert_eq!(
            lines[at],
            format!("_headers line {line}: the path of its block (line 1) is skipped (skipped)")
        );
    }
}

/// Issue 32: a name a `wasi:http` host refuses made every matching answer
/// a 500, and check said nothing.
#[test]
fn check_reports_names_a_host_refuses() {
    let text = "/*\n  Host: x\n  Proxy-Authenticate: Basic\n  Proxy-Authorization: Basic YTpi\n  HTTP2-Settings: AA\n  ! host\n  X-Kept: yes\n";
    let problems = check(HEADERS_FILE, text.as_bytes());
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6], "{problems:#?}");
    assert!(problems.iter().all(|p| p.skipped));
    assert!(problems[0].message.contains("refused by wasi:http hosts"));
}
