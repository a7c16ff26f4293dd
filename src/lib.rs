//! sitebox's request handler, a `wasi:http/incoming-handler` component.
//!
//! The core (routing, paths, static files, HTML) is plain Rust over `http`
//! types and the `StaticFs` trait, unit-tested on the host; `glue` is the one
//! module that touches WASI and is only built for `wasm32-wasip2`.

pub mod error;
pub mod fs;
pub mod html;
pub mod response;
pub mod router;
pub mod site_path;
pub mod static_files;

#[cfg(target_os = "wasi")]
mod glue;
