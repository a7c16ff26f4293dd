//! The board's storage on workerd: a request is one storage transaction (a
//! trap after a write keeps nothing, across a SIGKILL too), and a failure at
//! the commit is the component's 503, not workerd's bare 500.

use super::{site, site_dir, support};
use http::StatusCode;
use support::client;
use support::workerd::Workerd;

/// A request runs in one storage transaction: when the component traps
/// after a write (here: `kv.js`'s `set` made to throw once it has written, in
/// the built worker), the client gets a 500 and the write is rolled back,
/// also after a SIGKILL and a restart.
#[tokio::test]
async fn a_trap_after_a_write_keeps_nothing() {
    let Some(worker) = support::workerd::worker_for(&site_dir()) else {
        return;
    };
    let bundle = worker.config().with_file_name("worker.js");
    let source = std::fs::read_to_string(&bundle).unwrap();
    let write = "guarded(() => kv.put(prefix + key, value.slice()));";
    assert_eq!(
        source.matches(write).count(),
        1,
        "kv.js's set in the bundle"
    );
    let trapping = format!("{write} throw new Error(\"a trap after a write\");");
    std::fs::write(&bundle, source.replace(write, &trapping)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut workerd = Workerd::start(&worker, &dir.path().join("storage")).await;

    let reply = client::post_json(workerd.addr, "/api/messages", r#"{"text":"half"}"#).await;
    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        reply.text()
    );
    std::fs::write(&bundle, source).unwrap();
    workerd.restart().await;
    let listed = client::get(workerd.addr, "/api/messages").await;
    assert_eq!(listed.text(), "[]", "the trapped request's write was kept");
}

/// A storage failure at workerd's commit (SQLite's write fails past a
/// file-size limit: `SQLITE_IOERR_WRITE`) is the component's 503 with
/// `Retry-After`, not workerd's bare 500; the failed post is not kept, and
/// the site and the board still answer.
#[tokio::test]
async fn a_storage_failure_at_commit_is_the_components_503() {
    let Some(worker) = site().1.as_ref() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let workerd = Workerd::start_limited(worker, &dir.path().join("storage"), 128 << 10).await;
    let text = "a".repeat(3900);
    let body = serde_json::json!({ "text": text }).to_string();
    let mut created = 0;
    let failed = loop {
        let reply = client::post_json(workerd.addr, "/api/messages", body.clone()).await;
        if reply.status != StatusCode::CREATED || created == 100 {
            break reply;
        }
        created += 1;
    };
    assert_eq!(
        failed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "after {created} posts: {}",
        failed.text()
    );
    assert!(failed.headers.contains_key("retry-after"));
    assert_eq!(failed.header("content-type"), "application/json");
    assert!(workerd.log().contains("SQLITE_IOERR"), "{}", workerd.log());
    assert_eq!(client::get(workerd.addr, "/").await.status, StatusCode::OK);
    let listed = client::get(workerd.addr, "/api/messages").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.json().as_array().unwrap().len(),
        created,
        "the failed post is not kept"
    );
}
