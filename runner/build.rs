//! Builds the sitebox component (the workspace root crate) for
//! `wasm32-wasip2` so the runner can embed it: `cargo run -p sitebox-runner`
//! then needs nothing else. Beside it, the component for Spin:
//! `sitebox.wasm` plugged with the Spin adapter (`deploy/spin/adapter`), so
//! it imports Spin's `wasi:keyvalue@0.2.0-draft2` instead of `0.2.0-draft`
//! (`target/component/sitebox-spin.wasm`; what `wac plug` does, by its
//! library), and the wasi:http 0.3 component plugged the same way
//! (`sitebox-p3-spin.wasm`).

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

    // The wasi:http 0.2 component (embedded, the default) with the Spin
    // adapter, and the same core for wasi:http 0.3 (`--features p3`), each in
    // a target directory of its own: the outer cargo holds the lock on the
    // main one while this script runs, and one directory per feature set
    // keeps each build incremental.
    let built = build_components(
        workspace,
        "component",
        &["sitebox", "sitebox-spin-adapter"],
        &[],
    );
    let wasm = built.join("sitebox.wasm");
    let adapter = built.join("sitebox_spin_adapter.wasm");
    println!("cargo:rustc-env=SITEBOX_COMPONENT_WASM={}", wasm.display());
    let spin = workspace.join("target/component/sitebox-spin.wasm");
    write_plugged(&wasm, &adapter, &spin);
    println!("cargo:rustc-env=SITEBOX_SPIN_WASM={}", spin.display());

    let built = build_components(
        workspace,
        "component-p3",
        &["sitebox"],
        &["--features", "p3"],
    );
    let wasm_p3 = built.join("sitebox.wasm");
    println!(
        "cargo:rustc-env=SITEBOX_COMPONENT_P3_WASM={}",
        wasm_p3.display()
    );
    write_plugged(
        &wasm_p3,
        &adapter,
        &workspace.join("target/component/sitebox-p3-spin.wasm"),
    );
}

/// Writes `socket` plugged with the Spin `adapter` to `out`.
fn write_plugged(socket: &Path, adapter: &Path, out: &Path) {
    let composed = plug(socket, adapter).unwrap_or_else(|error| {
        panic!(
            "cannot plug the Spin adapter into {}: {error:?}",
            socket.display()
        )
    });
    std::fs::write(out, composed)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", out.display()));
}

/// Builds `packages` (libraries) for `TARGET` in `target/<dir>` with `extra`
/// arguments and returns the directory holding their `.wasm` files, each
/// checked to be there.
fn build_components(workspace: &Path, dir: &str, packages: &[&str], extra: &[&str]) -> PathBuf {
    let target_dir = workspace.join("target").join(dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .arg("build")
        .args(packages.iter().flat_map(|package| ["--package", package]))
        .args(["--lib", "--target", TARGET])
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

    let built = target_dir.join(TARGET).join(PROFILE);
    for package in packages {
        let file = built.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(
            is_file(&file),
            "the component build did not produce {}",
            file.display()
        );
    }
    built
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
