//! A real Redis (Debian's `redis-server`) for the tests: on a free loopback
//! port, in its own temporary directory, with every write on disk before it
//! is acknowledged (`appendonly yes`, `appendfsync always`), so killing it
//! loses nothing it confirmed. Shared by `tests/` and `runner/tests/`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL: &str = "sudo apt-get install redis-server";

/// Whether `redis-server` can be run.
pub fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The `redis-server` command for `port`, keeping its data in `dir`.
pub fn command(dir: &Path, port: u16) -> Command {
    command_with_fsync(dir, port, "always")
}

/// `command` with another `appendfsync` policy (`everysec`, `no`).
pub fn command_with_fsync(dir: &Path, port: u16, appendfsync: &str) -> Command {
    let mut command = Command::new("redis-server");
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes", "--appendfsync", appendfsync])
        .args(["--save", ""])
        .args(["--protected-mode", "no", "--loglevel", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the Redis on `port` answers PING; false after 10 s.
pub fn wait_until_ready(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ping(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// A Redis this test owns: killed when dropped, and its child dies with
/// the thread that started it (the test).
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    appendfsync: &'static str,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts Redis in `dir` on a free port.
    pub fn start(dir: &Path) -> RedisServer {
        Self::start_with_fsync(dir, "always")
    }

    /// `start` with another `appendfsync` policy.
    pub fn start_with_fsync(dir: &Path, appendfsync: &'static str) -> RedisServer {
        let mut server = RedisServer {
            port: 0,
            dir: dir.to_owned(),
            appendfsync,
            child: None,
        };
        // Another process may take the free port first: try a few.
        for _ in 0..5 {
            server.port = free_port();
            server.spawn();
            if wait_until_ready(server.port) {
                return server;
            }
            server.kill();
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// SIGKILL: no chance to flush anything it had not already written.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory (it reloads its
    /// append-only file).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        assert!(wait_until_ready(self.port), "redis-server did not restart");
    }

    fn spawn(&mut self) {
        let mut command = command_with_fsync(&self.dir, self.port, self.appendfsync);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork
        // and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(
            command
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts"),
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
