//! Builds the sitebox component (the workspace root crate) for
//! `wasm32-wasip2` so the runner can embed it: `cargo run -p sitebox-runner`
//! then needs nothing else.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";

fn main() {
    let runner_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = runner_dir.parent().expect("runner/ sits in the workspace");
    for input in [
        "src",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    // The wasi:http 0.2 component (embedded, the default), and the same core
    // for wasi:http 0.3 (`--features p3`), each in a target directory of its
    // own: the outer cargo holds the lock on the main one while this script
    // runs, and one directory per feature set keeps each build incremental.
    let p2 = build_component(workspace, "component", &[]);
    println!("cargo:rustc-env=SITEBOX_COMPONENT_WASM={}", p2.display());
    let p3 = build_component(workspace, "component-p3", &["--features", "p3"]);
    println!("cargo:rustc-env=SITEBOX_COMPONENT_P3_WASM={}", p3.display());
}

/// Builds the component crate for `TARGET` in `target/<dir>` with `extra`
/// arguments and returns the component's path.
fn build_component(workspace: &Path, dir: &str, extra: &[&str]) -> PathBuf {
    let target_dir = workspace.join("target").join(dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", "sitebox", "--lib", "--target", TARGET])
        .args(["--profile", PROFILE])
        .args(extra)
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer cargo has resolved and written Cargo.lock already.
    command.arg("--locked");
    // Flags meant for the host build (coverage, sanitizers, target-cpu) must not
    // leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }

    let status = command
        .status()
        .unwrap_or_else(|error| panic!("cannot run cargo to build the component: {error}"));
    if !status.success() {
        panic!(
            "building the sitebox component failed (see above). Is the target installed? \
             Run: rustup target add {TARGET}"
        );
    }

    let wasm = target_dir.join(TARGET).join(PROFILE).join("sitebox.wasm");
    assert!(
        is_file(&wasm),
        "the component build did not produce {}",
        wasm.display()
    );
    wasm
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}
