//! A real Redis (Debian's `redis-server`) for the tests: on a free loopback
//! port, in its own temporary directory, with every write on disk before it
//! is acknowledged (`appendonly yes`, `appendfsync always`), so killing it
//! loses nothing it confirmed; with a password (`requirepass`) if the test
//! asks. Shared by `tests/` and `runner/tests/`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
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

/// Whether a test on a real Redis can run: `redis-server` is installed;
/// if not, a notice (the test skips), or a failure under `CI=true`.
pub fn available() -> bool {
    if installed() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, but redis-server is missing ({INSTALL})"
    );
    eprintln!("NOTICE: skipped; install: {INSTALL}");
    false
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
    wait_until_ready_with(port, None)
}

/// `wait_until_ready` for a Redis with `password` (its `requirepass`).
fn wait_until_ready_with(port: u16, password: Option<&str>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if send(port, password, &["PING"]).as_deref() == Some("+PONG") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Sends `command` (after an AUTH with `password`, if any) to the Redis on
/// `port`: its reply's first line, or the text of a bulk string reply;
/// `None` if the exchange failed.
fn send(port: u16, password: Option<&str>, command: &[&str]) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    if let Some(password) = password {
        stream.write_all(&resp(&["AUTH", password])).ok()?;
        reader.read_line(&mut line).ok()?;
        if line.trim_end() != "+OK" {
            return Some(line.trim_end().to_owned());
        }
        line.clear();
    }
    stream.write_all(&resp(command)).ok()?;
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end();
    match line.strip_prefix('$').map(str::parse::<usize>) {
        Some(Ok(length)) => {
            let mut bulk = vec![0; length + 2];
            reader.read_exact(&mut bulk).ok()?;
            bulk.truncate(length);
            String::from_utf8(bulk).ok()
        }
        _ => Some(line.to_owned()),
    }
}

/// `command` in RESP (an array of bulk strings).
fn resp(command: &[&str]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", command.len()).into_bytes();
    for part in command {
        bytes.extend(format!("${}\r\n{part}\r\n", part.len()).as_bytes());
    }
    bytes
}

/// A Redis this test owns: killed when dropped, and its child dies with
/// the thread that started it (the test).
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    appendfsync: &'static str,
    /// Its `requirepass`, if any (kept across restarts).
    password: Option<String>,
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
            password: None,
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
        assert!(
            wait_until_ready_with(self.port, self.password.as_deref()),
            "redis-server did not restart"
        );
    }

    /// `restart`, with `password` as its `requirepass` from the start (a
    /// failover to a Redis whose password was changed).
    pub fn restart_with_password(&mut self, password: Option<&str>) {
        self.password = password.map(str::to_owned);
        self.restart();
    }

    /// Changes its password while it runs (`CONFIG SET requirepass`);
    /// connections already logged in stay logged in.
    pub fn set_password(&mut self, password: Option<&str>) {
        let reply = self.command(&["CONFIG", "SET", "requirepass", password.unwrap_or("")]);
        assert_eq!(reply, "+OK", "CONFIG SET requirepass");
        self.password = password.map(str::to_owned);
    }

    /// Sends `command`, logged in with its password: the reply's first
    /// line, or the text of a bulk string.
    pub fn command(&self, command: &[&str]) -> String {
        send(self.port, self.password.as_deref(), command).expect("redis-server answers")
    }

    fn spawn(&mut self) {
        let mut command = command_with_fsync(&self.dir, self.port, self.appendfsync);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        // (Not `super::die_with_the_test`: runner/tests include this file
        // on its own.) SAFETY: prctl is async-signal-safe; nothing else runs
        // between fork and exec.
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
