//! sitebox's host: runs the sitebox component (or another `wasi:http` proxy
//! component) behind a hyper server, with a fresh wasmtime instance per request.
//!
//! `serve(listener, config)` is the whole server; the `sitebox` binary only
//! parses flags (`cli`) and binds the port, so tests can serve on port 0.

mod access_log;
pub mod cli;
mod guest_log;
mod host;
mod server;

use std::path::PathBuf;

pub use server::{Server, serve};

/// The sitebox component built from this workspace by `build.rs`.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("SITEBOX_COMPONENT_WASM"));

/// Where `EMBEDDED_COMPONENT` was built, for tools that need it as a file
/// (e.g. `wasmtime serve` in the tests).
pub const EMBEDDED_COMPONENT_PATH: &str = env!("SITEBOX_COMPONENT_WASM");

/// The guest path of the read-only site directory.
pub const STATIC_GUEST_DIR: &str = "/static";
/// The guest path of the read-write data directory.
pub const DATA_GUEST_DIR: &str = "/data";

#[derive(Debug, Clone)]
pub struct Config {
    /// Served read-only as `/static`.
    pub static_dir: PathBuf,
    /// Mounted read-write as `/data`; created if missing.
    pub data_dir: PathBuf,
    pub component: ComponentSource,
    /// The most linear memory one instance may use, in bytes.
    pub max_instance_memory: usize,
    /// How many instances may run at once; further requests wait for a slot.
    pub max_instances: u32,
    /// How many requests one instance may serve before it is dropped. 1 (the
    /// default) gives every request a fresh instance; more trades that
    /// isolation (a request can see what an earlier one left in the
    /// instance's memory) for speed.
    pub reuse_instances: u32,
    /// What the component does with the site, handed over as environment
    /// variables (the component's `settings` module reads them).
    pub site: SiteOptions,
}

/// The component's settings (`SITEBOX_*` environment variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOptions {
    /// `Cache-Control: max-age` for assets other than HTML, in seconds.
    pub max_age: u64,
    /// List directories that have no `index.html`.
    pub listing: bool,
    /// Serve names starting with a dot.
    pub dotfiles: bool,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            max_age: 3600,
            listing: false,
            dotfiles: false,
        }
    }
}

impl SiteOptions {
    /// The environment the component reads these from.
    pub fn environment(&self) -> Vec<(String, String)> {
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        vec![
            ("SITEBOX_MAX_AGE".to_owned(), self.max_age.to_string()),
            ("SITEBOX_LISTING".to_owned(), flag(self.listing)),
            ("SITEBOX_DOTFILES".to_owned(), flag(self.dotfiles)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    Embedded,
    File(PathBuf),
}

impl Config {
    pub const DEFAULT_MAX_INSTANCE_MEMORY: usize = 64 << 20;
    pub const DEFAULT_MAX_INSTANCES: u32 = 1000;

    /// The defaults for serving `static_dir` with the embedded component.
    pub fn new(static_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            static_dir: static_dir.into(),
            data_dir: data_dir.into(),
            component: ComponentSource::Embedded,
            max_instance_memory: Self::DEFAULT_MAX_INSTANCE_MEMORY,
            max_instances: Self::DEFAULT_MAX_INSTANCES,
            reuse_instances: 1,
            site: SiteOptions::default(),
        }
    }
}
