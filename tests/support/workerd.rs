//! sitebox on workerd (`deploy/workerd/`): the worker built once per test
//! process by `build.mjs` from the component the runner embeds and the
//! repository's `static/`, and `workerd serve` on it. The test holds the
//! listening socket and hands it to workerd (`--socket-fd`): no race for a
//! free port, and a restarted workerd answers on the same address.

use super::{embedded_component, repo_root, skipped};
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const WHAT: &str = "the workerd tests";
const INSTALL: &str = "cd deploy/workerd && npm ci";

fn deploy_dir() -> PathBuf {
    repo_root().join("deploy/workerd")
}

/// The built worker: `config.capnp` and its modules in a temporary directory.
pub struct Worker {
    dir: TempDir,
}

impl Worker {
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("out/config.capnp")
    }
}

/// The worker of the repository's `static/`, built on first use; `None`
/// (with a notice, or a failure under `CI=true`) when Node or
/// `deploy/workerd/node_modules` is missing.
pub fn worker() -> Option<&'static Worker> {
    static WORKER: OnceLock<Option<Worker>> = OnceLock::new();
    WORKER
        .get_or_init(|| worker_for(&repo_root().join("static")))
        .as_ref()
}

/// A worker of the site in `site`, built now; `None` as for `worker`.
pub fn worker_for(site: &Path) -> Option<Worker> {
    if !tools_found() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = build(site, &dir.path().join("out"), &[]);
    assert!(
        output.status.success(),
        "build.mjs failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if std::env::var_os("SITEBOX_TEST_VERBOSE").is_some() {
        eprintln!(
            "build.mjs took {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Some(Worker { dir })
}

/// Whether Node and `deploy/workerd/node_modules` are here (else a notice,
/// or a failure under `CI=true`).
pub fn tools_found() -> bool {
    let node_found = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !node_found {
        skipped(WHAT, &format!("Node.js 20 or later, then {INSTALL}"));
        return false;
    }
    if !workerd_binary().is_file() || !deploy_dir().join("node_modules/esbuild").is_dir() {
        skipped(WHAT, INSTALL);
        return false;
    }
    true
}

/// `node build.mjs` of the embedded component and `site` into `out`, with
/// `extra` arguments; what it printed and how it ended.
pub fn build(site: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new("node")
        .arg(deploy_dir().join("build.mjs"))
        .arg("--component")
        .arg(embedded_component())
        .arg("--static")
        .arg(site)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("node runs")
}

/// The Durable Object's SQLite files under `storage` (not workerd's
/// `metadata.sqlite`): there once the object has run a request.
pub fn object_files(storage: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![storage.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".sqlite") && name != "metadata.sqlite" {
                found.push(path);
            }
        }
    }
    found
}

/// workerd's own binary. `node_modules/workerd/bin/workerd` is that binary
/// once workerd's install script has linked it there; before, it is a Node
/// launcher, and a SIGKILL to the launcher would leave its workerd running:
/// then the platform package's binary (`@cloudflare/workerd-linux-64`, ...).
fn workerd_binary() -> PathBuf {
    let modules = deploy_dir().join("node_modules");
    let linked = modules.join("workerd/bin/workerd");
    let is_elf = |path: &Path| {
        let mut magic = [0; 4];
        File::open(path)
            .and_then(|mut file| file.read_exact(&mut magic))
            .is_ok()
            && magic == *b"\x7fELF"
    };
    if is_elf(&linked) {
        return linked;
    }
    std::fs::read_dir(modules.join("@cloudflare"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/workerd"))
        .find(|path| is_elf(path))
        .unwrap_or(linked)
}

/// `workerd serve` on `worker`, its board in `storage`. Killed (SIGKILL) when
/// dropped, and by the kernel if the thread that started it ends first.
pub struct Workerd {
    pub addr: SocketAddr,
    listener: TcpListener,
    storage: PathBuf,
    config: PathBuf,
    log: PathBuf,
    /// RLIMIT_FSIZE for workerd, if any: a write past it fails (EFBIG).
    max_file_bytes: Option<u64>,
    child: Option<Child>,
}

impl Workerd {
    /// Starts workerd on a new loopback socket and waits until it answers.
    pub async fn start(worker: &Worker, storage: &Path) -> Workerd {
        Workerd::start_config(&worker.config(), storage).await
    }

    /// `start` with a `config.capnp` of one's own (beside the worker's modules).
    pub async fn start_config(config: &Path, storage: &Path) -> Workerd {
        Workerd::start_with(config, storage, None).await
    }

    /// `start`, with no file of workerd's allowed past `max_file_bytes`: a
    /// disk that fails SQLite's writes once the board has grown.
    pub async fn start_limited(worker: &Worker, storage: &Path, max_file_bytes: u64) -> Workerd {
        Workerd::start_with(&worker.config(), storage, Some(max_file_bytes)).await
    }

    async fn start_with(config: &Path, storage: &Path, max_file_bytes: Option<u64>) -> Workerd {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut workerd = Workerd {
            addr: listener.local_addr().unwrap(),
            listener,
            storage: storage.to_owned(),
            config: config.to_owned(),
            log: storage.with_extension("workerd.log"),
            max_file_bytes,
            child: None,
        };
        workerd.spawn().await;
        workerd
    }

    /// SIGKILL, as a crash would: no shutdown, nothing flushed by workerd.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills workerd and starts a new one on the same socket and storage.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// What workerd has written to its stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        std::fs::create_dir_all(&self.storage).unwrap();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let fd = self.listener.as_raw_fd();
        let max_file_bytes = self.max_file_bytes;
        let mut command = Command::new(workerd_binary());
        command
            .arg("serve")
            .arg(&self.config)
            .arg("--socket-fd")
            .arg(format!("http={fd}"))
            .arg("--directory-path")
            .arg(format!("storage={}", self.storage.display()))
            // The worker's `fromEnvironment` binding reads it.
            .env("SITEBOX_ADMIN_PASSWORD_HASH", super::admin_hash())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: fcntl, prctl, signal and setrlimit are async-signal-safe;
        // nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // The listener is close-on-exec in the test; workerd needs it.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if let Some(bytes) = max_file_bytes {
                    // A write past the limit fails with EFBIG instead of
                    // killing workerd with SIGXFSZ.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let limit = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: bytes,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        self.child = Some(command.spawn().expect("workerd starts"));
        self.wait_until_ready().await;
    }

    /// The socket accepts at once (the test holds it), so ready means that a
    /// request is answered.
    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "workerd exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            let attempt = super::client::get(self.addr, "/index.css");
            if let Ok(reply) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
                assert!(reply.status.is_success(), "workerd answered {reply:?}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "workerd did not answer within a minute:\n{}",
                self.log()
            );
        }
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        self.kill();
    }
}
