//! Files that are not files, over real HTTP on the runner and `wasmtime
//! serve`: a named pipe (as a page or as a page's precompressed sidecar) and
//! a Unix socket in the site are never opened — opening a FIFO blocks until
//! a writer comes, and it froze the whole runner (issue 32) — and answer as
//! absent, 404, while the rest of the site answers as usual.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::SiteSettings;
use std::ffi::CString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;
use support::TestSite;
use support::client::{self, Reply};

fn mkfifo(path: &Path) {
    let path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// A reply within 5 s, or the test fails: before the fix these hung until
/// something wrote to the pipe.
async fn fetch(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Reply {
    let request = client::request(addr, Method::GET, target, headers);
    tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .unwrap_or_else(|_| panic!("GET {target} {headers:?} hung"))
}

#[tokio::test(flavor = "multi_thread")]
async fn pipes_and_sockets_in_the_site_are_absent_and_block_nothing() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    site.write("page.html", "<p>the page</p>");
    mkfifo(&site.static_dir.join("page.html.br"));
    mkfifo(&site.static_dir.join("pipe.html"));
    let socket = site.static_dir.join("socket.html");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    for (backend, addr) in support::start_servers(site, SiteSettings::default()) {
        for accept in [None, Some("br"), Some("br, gzip")] {
            let headers: Vec<_> = accept.map(|a| ("accept-encoding", a)).into_iter().collect();
            let page = fetch(addr, "/page.html", &headers).await;
            assert_eq!(page.status, StatusCode::OK, "{backend:?} {accept:?}");
            assert!(
                page.headers.get("content-encoding").is_none(),
                "{backend:?} {accept:?}"
            );
            assert_eq!(page.text(), "<p>the page</p>", "{backend:?} {accept:?}");
        }
        for absent in ["/pipe.html", "/socket.html", "/page.html.br"] {
            let reply = fetch(addr, absent, &[]).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{backend:?} {absent}");
        }
        let css = fetch(addr, "/index.css", &[]).await;
        assert_eq!(css.status, StatusCode::OK, "{backend:?}");
    }
}
