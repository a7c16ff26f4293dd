//! REDbot (PyPI `redbot`), an HTTP linter none of us wrote, checks `/`,
//! `/index.css`, `/logo.png`, a page large enough to be compressed on the
//! fly (REDbot asks for gzip) and a 404 on the runner and under `wasmtime
//! serve`: it may find nothing BAD. It also sends its own conditional,
//! range and uncompressed requests, so those are checked a second time by
//! other hands.
//!
//! `.ci/run` installs it in a virtualenv at `target/redbot`; elsewhere set
//! `SITEBOX_REDBOT` to the `redbot` executable or put it on `PATH`.

use sitebox_tests as support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use support::Backend;

fn redbot() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SITEBOX_REDBOT").map(PathBuf::from),
        Some(support::repo_root().join("target/redbot/bin/redbot")),
        Some(PathBuf::from("redbot")),
    ];
    let found = candidates.into_iter().flatten().find(|path| {
        Command::new(path)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        support::skipped(
            "the REDbot checks (redbot is not installed)",
            "python3 -m venv target/redbot && target/redbot/bin/pip install redbot",
        );
    }
    found
}

/// REDbot's BAD findings for `url`, as "NOTE_ID: summary" lines.
fn bad_findings(redbot: &PathBuf, url: &str) -> Vec<String> {
    let output = Command::new(redbot)
        .args(["-o", "har", url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "redbot failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let har: Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "redbot reached {url}");
    entries
        .iter()
        .flat_map(|entry| entry["_red_messages"].as_array().unwrap())
        .filter(|note| note["level"] == "BAD")
        .map(|note| format!("{}: {}", note["note_id"], note["summary"]))
        .collect()
}

#[test]
fn redbot_finds_nothing_bad() {
    let Some(redbot) = redbot() else { return };
    for backend in [
        Backend::Runner,
        Backend::RunnerP3,
        Backend::WasmtimeServe,
        Backend::WasmtimeServeP3,
    ] {
        let Some(server) = support::shared_server(backend) else {
            continue;
        };
        let entry = "<p>An entry of a page long enough to be compressed.</p>\n";
        server.site.write("long.html", entry.repeat(100));
        for path in [
            "/",
            "/index.css",
            "/logo.png",
            "/long.html",
            "/no-such-page",
        ] {
            let url = format!("http://{}{path}", server.addr);
            let bad = bad_findings(&redbot, &url);
            assert!(bad.is_empty(), "{backend:?} {path}: {bad:#?}");
        }
    }
}
