//! A filesystem call that never returns stalls its own request, never
//! another's: the faulty test guest opens a FIFO in its site (a custom
//! guest may open anything its preopen holds), which blocks until a writer
//! comes, on more requests at once than the runtime has worker threads;
//! the runner's own `/healthz` and a file read by another request answer
//! meanwhile.

use sitebox_tests as support;

use http::StatusCode;
use sitebox_runner::{ComponentSource, Config};
use std::io::Write;
use std::time::{Duration, Instant};
use support::{TestSite, client};

/// More than the fixture runtime's two worker threads (and CI's two cores).
const HUNG_REQUESTS: usize = 4;

#[tokio::test]
async fn a_hung_file_call_stalls_only_its_own_request() {
    let site = TestSite::bare();
    site.write("page.txt", "page");
    let fifo = site.static_dir.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let addr = support::start_runner(Config {
        component: ComponentSource::File(support::test_guest("faulty")),
        ..site.config()
    });
    assert_eq!(client::get(addr, "/file?page.txt").await.text(), "page");

    let hung: Vec<_> = (0..HUNG_REQUESTS)
        .map(|_| tokio::spawn(client::get(addr, "/file?fifo")))
        .collect();
    // Time for every one of them to reach its `open`.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for target in ["/healthz", "/file?page.txt"] {
        let started = Instant::now();
        let reply = tokio::time::timeout(Duration::from_secs(10), client::get(addr, target))
            .await
            .unwrap_or_else(|_| panic!("{target} stalled behind the hung file calls"));
        assert_eq!(reply.status, StatusCode::OK, "{target}");
        eprintln!("{target} answered in {:?}", started.elapsed());
    }
    assert!(
        hung.iter().all(|request| !request.is_finished()),
        "the FIFO's readers are still waiting for a writer"
    );

    // A writer releases every reader, and their requests end (with the
    // guest's 500: a positioned read of a pipe fails). Opening it is what
    // releases them; the write may find every reader gone already (a broken
    // pipe, seen in a full run), which is no failure.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let _ = writer.write_all(b"released");
    drop(writer);
    for request in hung {
        let reply = tokio::time::timeout(Duration::from_secs(10), request)
            .await
            .expect("the released requests answer")
            .unwrap();
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(client::get(addr, "/file?page.txt").await.text(), "page");
}
