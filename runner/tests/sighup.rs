//! SIGHUP — what `systemctl reload` sends — never stops the runner: it
//! reloads what can be (the TLS certificate: `tls_reload.rs`; the component
//! file; the rules files) and says that the rest waits for a restart.

mod common;

use common::{Running, sitebox};

/// Waits for the log line of a SIGHUP that names `what`.
fn sighup_line(server: &mut Running, what: &str) -> String {
    loop {
        let line = server.next_log_line();
        assert!(!line.is_empty(), "the server's log ended");
        if line.contains("SIGHUP") && line.contains(what) {
            return line;
        }
    }
}

fn front_page(server: &Running) -> u16 {
    let reply = common::exchange(&server.addr, "GET", "/", "");
    reply.expect("the server answers").0
}

#[test]
fn sighup_without_tls_keeps_the_server_serving() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<p>hi</p>").unwrap();
    let mut command = sitebox();
    command.args(["--port", "0", "--static"]).arg(site.path());
    let mut server = Running::start(command);
    server.kill_after(std::time::Duration::from_secs(60));
    assert_eq!(front_page(&server), 200);
    for _ in 0..2 {
        server.signal(libc::SIGHUP);
        let line = sighup_line(&mut server, "rules files checked");
        assert!(line.contains("next start"), "{line}");
        assert_eq!(front_page(&server), 200);
    }
}

#[test]
fn sighup_reloads_the_component_file_and_keeps_a_broken_one_out() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<p>hi</p>").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("site.wasm");
    std::fs::copy(sitebox_runner::EMBEDDED_COMPONENT_PATH, &component).unwrap();
    let mut command = sitebox();
    command
        .args(["--port", "0", "--no-cache", "--static"])
        .arg(site.path())
        .arg("--component")
        .arg(&component);
    let mut server = Running::start(command);
    server.kill_after(std::time::Duration::from_secs(120));

    std::fs::write(&component, b"not a component").unwrap();
    server.signal(libc::SIGHUP);
    let line = sighup_line(&mut server, "component");
    assert!(line.contains("keeping the old one"), "{line}");
    assert_eq!(front_page(&server), 200);

    std::fs::copy(sitebox_runner::EMBEDDED_COMPONENT_PATH, &component).unwrap();
    server.signal(libc::SIGHUP);
    let line = sighup_line(&mut server, "component");
    assert!(line.contains("component reloaded"), "{line}");
    assert_eq!(front_page(&server), 200);
}
