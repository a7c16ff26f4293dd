//! Running the `sitebox` binary in tests: start it, learn its address from the
//! start-up line, read its log (stderr) and access log (stdout), talk
//! HTTP/1.1 to it, signal it, kill it.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `root/static`, a site of one page (`index.html`, "home").
pub fn static_site(root: &std::path::Path) -> std::path::PathBuf {
    let static_dir = root.join("static");
    std::fs::create_dir(&static_dir).unwrap();
    std::fs::write(static_dir.join("index.html"), "home").unwrap();
    static_dir
}

pub fn sitebox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sitebox"))
}

/// A running `sitebox`, killed when dropped.
pub struct Running {
    child: Child,
    log: Option<BufReader<ChildStderr>>,
    access_log: Option<BufReader<ChildStdout>>,
    /// The log lines before the one with the URL.
    pub startup: Vec<String>,
    pub addr: String,
}

impl Running {
    /// Spawns `command` (a `sitebox` invocation with `--port 0`) and waits
    /// for the start-up line with its URL.
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let access_log = BufReader::new(child.stdout.take().unwrap());
        let mut startup = Vec::new();
        let addr = loop {
            let mut line = String::new();
            if log.read_line(&mut line).unwrap() == 0 {
                panic!("no start-up line with the URL: {startup:?}");
            }
            if let Some((_, rest)) = line.split_once("://") {
                break rest.trim().trim_end_matches('/').to_owned();
            }
            startup.push(line);
        };
        Running {
            child,
            log: Some(log),
            access_log: Some(access_log),
            startup,
            addr,
        }
    }

    /// The server's process id (its memory is in `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server after `timeout` unless it is gone by then, so a
    /// test waiting for a log line that never comes fails instead of hanging.
    pub fn kill_after(&self, timeout: Duration) {
        let pid = self.child.id() as i32;
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            // SAFETY: kill(2) on our child's pid; harmless if it is gone.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
    }

    pub fn next_log_line(&mut self) -> String {
        let mut line = String::new();
        self.log.as_mut().unwrap().read_line(&mut line).unwrap();
        line
    }

    pub fn next_access_line(&mut self) -> String {
        let mut line = String::new();
        self.access_log
            .as_mut()
            .unwrap()
            .read_line(&mut line)
            .unwrap();
        line
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0);
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) and waits for the exit.
    pub fn stop_with(&mut self, signal: i32) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0);
        self.child.wait().unwrap()
    }

    /// Reads the log in the background from now on, so a busy server never
    /// blocks on a full pipe.
    pub fn drain_log(&mut self) {
        self.read_log_in_background(|_| {});
    }

    /// `drain_log`, keeping the log's lines (not the access log's) for the
    /// test to read.
    pub fn collect_log(&mut self) -> Arc<Mutex<Vec<String>>> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        self.read_log_in_background(move |line| kept.lock().unwrap().push(line));
        lines
    }

    fn read_log_in_background(&mut self, mut keep: impl FnMut(String) + Send + 'static) {
        let log = self.log.take().unwrap();
        std::thread::spawn(move || log.lines().map_while(Result::ok).for_each(&mut keep));
        let access_log = self.access_log.take().unwrap();
        std::thread::spawn(move || for _ in access_log.lines() {});
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange with a JSON body; `None` if the connection fails
/// (the server died).
pub fn exchange(addr: &str, method: &str, target: &str, body: &str) -> Option<(u16, String)> {
    exchange_with_head(addr, method, target, body).map(|(status, _, body)| (status, body))
}

/// `exchange`, with the response's head (status line and headers) too.
pub fn exchange_with_head(
    addr: &str,
    method: &str,
    target: &str,
    body: &str,
) -> Option<(u16, String, String)> {
    exchange_with_headers(addr, method, target, "", body)
}

/// `exchange_with_head`, sending the header lines `extra` (each ending in
/// `\r\n`) as well.
pub fn exchange_with_headers(
    addr: &str,
    method: &str,
    target: &str,
    extra: &str,
    body: &str,
) -> Option<(u16, String, String)> {
    let stream = TcpStream::connect(addr).ok()?;
    exchange_over(stream, addr, method, target, extra, body)
}

/// `exchange_with_headers` over `stream`, connected to `addr`.
pub fn exchange_over(
    mut stream: TcpStream,
    addr: &str,
    method: &str,
    target: &str,
    extra: &str,
    body: &str,
) -> Option<(u16, String, String)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    // A server killed mid-answer may have sent its head but not all of the
    // body: that is no answer (nothing was acknowledged).
    if !complete(head, body) {
        return None;
    }
    Some((status, head.to_owned(), body.to_owned()))
}

/// Whether `body` is all the body `head` announces.
fn complete(head: &str, body: &str) -> bool {
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    if let Some(length) = header("content-length") {
        return length.parse() == Ok(body.len());
    }
    if header("transfer-encoding").is_some_and(|coding| coding.eq_ignore_ascii_case("chunked")) {
        return body.ends_with("0\r\n\r\n");
    }
    true
}

/// `sitebox hash-password` with `password` on its stdin: the PHC string.
pub fn hash_password(password: &str) -> String {
    let mut child = sitebox()
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// An `Authorization: Basic` header line for the admin.
pub fn admin_login(password: &str) -> String {
    use base64::Engine;
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
    format!("Authorization: Basic {pair}\r\n")
}

/// The whole board through the API (which fails on any unreadable message).
pub fn board(addr: &str) -> Vec<(u64, String)> {
    let mut all = Vec::new();
    let mut before = String::new();
    loop {
        let (status, body) =
            exchange(addr, "GET", &format!("/api/messages?limit=200{before}"), "").unwrap();
        assert_eq!(status, 200, "{body}");
        let page: Vec<Value> = serde_json::from_str(&body).unwrap();
        let mut page: Vec<(u64, String)> = page
            .iter()
            .map(|m| {
                (
                    m["id"].as_u64().unwrap(),
                    m["text"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let Some(&(oldest, _)) = page.first() else {
            return all;
        };
        page.extend(all);
        all = page;
        before = format!("&before={oldest}");
    }
}
