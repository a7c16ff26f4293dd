//! The board survives the runner being killed with SIGKILL at any moment: a
//! message that was acknowledged (201) is there after a restart, the board is
//! whole (every message readable, ids consecutive), and nothing is doubled.

mod common;

use common::{Running, board, exchange, sitebox};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

fn start(root: &Path) -> Running {
    let mut command = sitebox();
    command
        .args(["--port", "0", "--static"])
        .arg(root.join("static"));
    command.arg("--data").arg(root.join("data"));
    let mut runner = Running::start(command);
    runner.drain_log();
    runner
}

fn post(addr: &str, text: &str) -> bool {
    let body = serde_json::json!({ "text": text }).to_string();
    matches!(
        exchange(addr, "POST", "/api/messages", &body),
        Some((201, _))
    )
}

fn site() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("static")).unwrap();
    std::fs::write(root.path().join("static/index.html"), "home").unwrap();
    root
}

#[test]
fn a_message_posted_before_sigkill_is_there_after_restart() {
    let root = site();
    let runner = start(root.path());
    assert!(post(&runner.addr, "written just before the crash"));
    runner.kill();
    let runner = start(root.path());
    let texts: Vec<String> = board(&runner.addr)
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert_eq!(texts, ["written just before the crash"]);
    assert!(post(&runner.addr, "and life goes on"));
    assert_eq!(
        board(&runner.addr).last().unwrap(),
        &(2, "and life goes on".to_owned())
    );
}

/// Eight writers post as fast as they can while the runner is killed at an
/// arbitrary moment, five times over.
#[test]
fn sigkill_while_posting_loses_nothing_acknowledged() {
    let root = site();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let attempted = Arc::new(Mutex::new(BTreeSet::new()));
    for round in 0..5 {
        let runner = start(root.path());
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (addr, stop) = (runner.addr.clone(), stop.clone());
                let (acknowledged, attempted) = (acknowledged.clone(), attempted.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        let text = format!("round {round} writer {w} post {i}");
                        attempted.lock().unwrap().insert(text.clone());
                        if !post(&addr, &text) || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        acknowledged.lock().unwrap().insert(text);
                    }
                })
            })
            .collect();
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        std::thread::sleep(Duration::from_millis(100 + u64::from(nanos % 300)));
        runner.kill();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }
    }
    let runner = start(root.path());
    let board = board(&runner.addr);
    let ids: Vec<u64> = board.iter().map(|(id, _)| *id).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids are consecutive: {ids:?}"
    );
    let texts: BTreeSet<String> = board.iter().map(|(_, text)| text.clone()).collect();
    assert_eq!(texts.len(), board.len(), "no message is stored twice");
    let acknowledged = acknowledged.lock().unwrap();
    let missing: Vec<_> = acknowledged.difference(&texts).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(
        texts.is_subset(&attempted.lock().unwrap()),
        "only posted texts are stored"
    );
    assert!(
        acknowledged.len() > 40,
        "the writers got some posts in ({})",
        acknowledged.len()
    );
}
