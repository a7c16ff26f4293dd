//! `wasmtime serve` over a test site with a component: started through the
//! fixture (so it dies with the tests), its address read from its stderr.

use super::{TestSite, fixture, site_settings, skipped};
use sitebox_runner::SiteSettings;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

/// Starts `wasmtime serve -S cli -S keyvalue` on `component` over `site`
/// (the board in its data directory, the test admin set up) and waits until
/// it listens. `None` (with a notice) when `wasmtime` is not on PATH; under
/// `CI=true` that is a failure instead.
pub fn start_wasmtime_serve(site: &TestSite, component: &Path) -> Option<SocketAddr> {
    start_wasmtime_serve_with(site, component, &site_settings())
}

/// `start_wasmtime_serve` with the component's settings passed as `--env`,
/// as a user of `wasmtime serve` would.
pub fn start_wasmtime_serve_with(
    site: &TestSite,
    component: &Path,
    options: &SiteSettings,
) -> Option<SocketAddr> {
    start(&site_dirs(site, true), component, options, &[]).map(|(addr, _)| addr)
}

/// What a `wasmtime serve` wrote to its stderr so far, line by line (its
/// own messages and the component's, `stderr [instance] :: …`).
#[derive(Clone, Default)]
pub struct ServeLog(Arc<Mutex<Vec<String>>>);

impl ServeLog {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// `start_wasmtime_serve` with `extra` environment variables for the
/// component, and its stderr kept.
pub fn start_wasmtime_serve_logged(
    site: &TestSite,
    component: &Path,
    extra: &[(&str, &str)],
) -> Option<(SocketAddr, ServeLog)> {
    start(&site_dirs(site, true), component, &site_settings(), extra)
}

/// `wasmtime serve` with no `/data`: the component looks for its key-value
/// bucket, which wasmtime's in-memory store does not have.
pub fn start_wasmtime_serve_without_data(site: &TestSite, component: &Path) -> Option<SocketAddr> {
    start(&site_dirs(site, false), component, &site_settings(), &[]).map(|(addr, _)| addr)
}

/// `wasmtime serve` with `dirs` (host path, guest path) as its preopens
/// instead of a test site's `/static` and `/data`.
pub fn start_wasmtime_serve_on(dirs: &[(&Path, &str)], component: &Path) -> Option<SocketAddr> {
    let dirs: Vec<(PathBuf, String)> = dirs
        .iter()
        .map(|(host, guest)| (host.to_path_buf(), (*guest).to_owned()))
        .collect();
    start(&dirs, component, &site_settings(), &[]).map(|(addr, _)| addr)
}

/// A test site's preopens: `/static`, and `/data` if `data`.
fn site_dirs(site: &TestSite, data: bool) -> Vec<(PathBuf, String)> {
    let mut dirs = vec![(site.static_dir.clone(), "/static".to_owned())];
    if data {
        std::fs::create_dir_all(&site.data_dir).unwrap();
        dirs.push((site.data_dir.clone(), "/data".to_owned()));
    }
    dirs
}

fn start(
    dirs: &[(PathBuf, String)],
    component: &Path,
    options: &SiteSettings,
    extra: &[(&str, &str)],
) -> Option<(SocketAddr, ServeLog)> {
    if !wasmtime_installed() {
        return None;
    }
    let mut command = Command::new("wasmtime");
    command
        .args(["serve", "-S", "cli", "-S", "keyvalue"])
        .args(["--addr", "127.0.0.1:0"]);
    for (host, guest) in dirs {
        command
            .arg("--dir")
            .arg(format!("{}::{guest}", host.display()));
    }
    for (name, value) in options.environment() {
        command.arg("--env").arg(format!("{name}={value}"));
    }
    for (name, value) in extra {
        command.arg("--env").arg(format!("{name}={value}"));
    }
    command
        .arg(component)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let stderr = fixture().spawn(command);
    let (addr_tx, addr_rx) = mpsc::channel();
    let log = ServeLog::default();
    let kept = log.clone();
    std::thread::spawn(move || {
        let mut addr_tx = Some(addr_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            kept.0.lock().unwrap().push(line.clone());
            if let Some(rest) = line.strip_prefix("Serving HTTP on http://") {
                let addr: SocketAddr = rest.trim_end_matches('/').parse().unwrap();
                if let Some(tx) = addr_tx.take() {
                    let _ = tx.send(addr);
                }
            } else if std::env::var_os("SITEBOX_TEST_VERBOSE").is_some() {
                eprintln!("wasmtime serve: {line}");
            }
        }
    });
    let addr = addr_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("wasmtime serve printed its address");
    Some((addr, log))
}

fn wasmtime_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let found = Command::new("wasmtime")
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success());
        if !found {
            skipped(
                "`wasmtime` is not on PATH, so the `wasmtime serve` variants of these tests",
                "cargo install wasmtime-cli --locked --version 48.0.8",
            );
        }
        found
    })
}
