//! The shared test fixture: a temporary site (the repository's `static/` plus
//! test files, with a secret file beside it), the servers under test
//! (`servers`: the runner serving it on port 0, the board on files or on a
//! shared Redis; `wasmtime serve` serving the same files with the same
//! component when it is installed), and a small HTTP client (`client`).

mod admin;
pub mod board;
pub mod client;
pub mod fault_proxy;
mod fixture;
pub mod metrics;
pub mod nats;
pub mod proxy;
pub mod redis;
mod servers;
pub mod slow_peers;
pub mod tls;
pub mod wasmcloud;
mod wasmtime_serve;
pub mod workerd;

pub use admin::{ADMIN_PASSWORD, admin_hash, admin_login, basic_login, site_settings};
// Not every test file uses every launcher.
#[allow(unused_imports)]
pub use wasmtime_serve::{
    ServeLog, start_wasmtime_serve, start_wasmtime_serve_logged, start_wasmtime_serve_on,
    start_wasmtime_serve_with, start_wasmtime_serve_without_data,
};

pub use servers::{
    Backend, Server, Started, embedded_component, fresh_server, new_bucket, on_redis, on_spin,
    p3_component, runner_once, shared_redis, shared_server, spin_component, start_runner,
    start_runner_with, start_servers, with_p3, with_p3_alone,
};

use fixture::fixture;
use sitebox_runner::Config;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

pub const SECRET: &str = "TOP-SECRET-6f1c2b: this must never be served";

/// The repository's root (this package is its `tests/`).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
}

/// A site in a temporary directory: `root/site` is served, `root/secret.txt`
/// sits beside it where no request may reach it.
pub struct TestSite {
    _dir: TempDir,
    pub static_dir: PathBuf,
    pub data_dir: PathBuf,
    pub secret_file: PathBuf,
}

impl TestSite {
    /// The default site plus the files the tests need.
    // Not `Default`: it creates directories on disk.
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestSite {
        let site = TestSite::empty();
        for entry in std::fs::read_dir(repo_root().join("static")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), site.static_dir.join(entry.file_name())).unwrap();
        }
        site.write("my page.html", "<p>spaces in the name</p>");
        site.write("sub/index.html", "<p>sub index</p>");
        site.write("sub/notes.txt", "notes");
        site.write("noindex/readme.txt", "a directory without index.html");
        site.write("blob.unknownext", [0u8, 1, 2, 3, 255]);
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, site.static_dir.join(name)).unwrap()
        };
        link(Path::new("../secret.txt"), "escape.txt");
        link(&site.secret_file, "escape-absolute.txt");
        link(Path::new(".."), "escape-dir");
        link(Path::new("index.css"), "inside-link.css");
        site.write(".hidden", "dotfile");
        site.write(".git/config", "[core]");
        site.write(
            ".well-known/security.txt",
            "Contact: mailto:security@example.com",
        );
        site.write("sub/.env", "SECRET=1");
        site
    }

    /// Only an `index.html`: no `NotFound.html`.
    pub fn bare() -> TestSite {
        let site = TestSite::empty();
        site.write("index.html", "<p>bare</p>");
        site
    }

    fn empty() -> TestSite {
        let dir = tempfile::tempdir().unwrap();
        let static_dir = dir.path().join("site");
        let data_dir = dir.path().join("data");
        let secret_file = dir.path().join("secret.txt");
        std::fs::create_dir(&static_dir).unwrap();
        std::fs::write(&secret_file, SECRET).unwrap();
        TestSite {
            _dir: dir,
            static_dir,
            data_dir,
            secret_file,
        }
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.static_dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.static_dir.join(relative)).unwrap()
    }

    /// The runner's configuration for this site, with the test admin.
    pub fn config(&self) -> Config {
        Config {
            site: site_settings(),
            ..Config::new(&self.static_dir, &self.data_dir)
        }
    }
}

/// A test that needs a tool which is missing: a failure under `CI=true`
/// (where `.ci/run` installs it), else a notice of what was skipped and how
/// to install the tool.
pub fn skipped(what: &str, install: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, but {what} cannot run (.ci/run installs what they need: {install})"
    );
    // Straight to the terminal: the test harness captures eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: {what} were skipped. Install what they need with: {install}"
    );
}

/// Makes `command`'s process get SIGKILL when the thread that spawns it
/// ends (`PR_SET_PDEATHSIG`): no server a test started outlives it.
pub fn die_with_the_test(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Builds `tests/guests/<name>` for wasm32-wasip2 (once per test process) and
/// returns the component's path.
pub fn test_guest(name: &str) -> PathBuf {
    let manifest = repo_root()
        .join("tests/guests")
        .join(name)
        .join("Cargo.toml");
    let target_dir = repo_root().join("target/test-guests");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the test guest {name} failed");
    let crate_name = format!("{}_guest.wasm", name.replace('-', "_"));
    target_dir.join("wasm32-wasip2/release").join(crate_name)
}

#[cfg(test)]
mod tests {
    /// With `autotests = false` a test file that `Cargo.toml` does not list
    /// would never run: every `tests/*.rs` must be there.
    #[test]
    fn every_test_file_is_a_test_target() {
        let dir = super::repo_root().join("tests");
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let listed: std::collections::BTreeSet<String> = manifest
            .lines()
            .filter_map(|line| line.strip_prefix("path = \""))
            .filter_map(|path| path.strip_suffix('"'))
            // The library, `support/mod.rs`, is not a test file.
            .filter(|path| !path.contains('/'))
            .map(str::to_owned)
            .collect();
        let files: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".rs"))
            .collect();
        assert_eq!(listed, files);
    }
}
