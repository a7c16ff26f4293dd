//! Builds the sitebox component (the workspace root crate) for
//! `wasm32-wasip2` so the runner can embed it: `cargo run -p sitebox-runner`
//! then needs nothing else. Beside it, the component for Spin:
//! `sitebox.wasm` plugged with the Spin adapter (`deploy/spin/adapter`), so
//! it imports Spin's `wasi:keyvalue@0.2.0-draft2` instead of `0.2.0-draft`
//! (`target/component/sitebox-spin.wasm`; what `wac plug` does, by its
//! library).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

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
        "deploy/spin/adapter",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    // A target directory of its own: the outer cargo holds the lock on the
    // main one while this script runs.
    let target_dir = workspace.join("target").join("component");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--package",
            "sitebox",
            "--package",
            "sitebox-spin-adapter",
        ])
        .args(["--lib", "--target", TARGET])
        .args(["--profile", PROFILE])
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

    let built = target_dir.join(TARGET).join(PROFILE);
    let wasm = built.join("sitebox.wasm");
    let adapter = built.join("sitebox_spin_adapter.wasm");
    for file in [&wasm, &adapter] {
        assert!(
            is_file(file),
            "the component build did not produce {}",
            file.display()
        );
    }
    println!("cargo:rustc-env=SITEBOX_COMPONENT_WASM={}", wasm.display());

    let spin = target_dir.join("sitebox-spin.wasm");
    let composed = plug(&wasm, &adapter).unwrap_or_else(|error| {
        panic!("cannot plug the Spin adapter into sitebox.wasm: {error:?}")
    });
    std::fs::write(&spin, composed)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", spin.display()));
    println!("cargo:rustc-env=SITEBOX_SPIN_WASM={}", spin.display());
}

/// `wac plug --plug ADAPTER SOCKET`: the socket's imports that the adapter
/// exports are satisfied by it; the rest stay imports.
fn plug(socket: &Path, adapter: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_file("sitebox", None, socket, graph.types_mut())?;
    let socket = graph.register_package(socket)?;
    let adapter = Package::from_file("spin-adapter", None, adapter, graph.types_mut())?;
    let adapter = graph.register_package(adapter)?;
    wac_graph::plug(&mut graph, vec![adapter], socket)?;
    // Validates the result, as `wac plug` does.
    Ok(graph.encode(EncodeOptions::default())?)
}

fn is_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}
