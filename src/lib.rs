//! sitebox's request handler, a `wasi:http/incoming-handler` component.
//!
//! The core — routing, paths, static files, the message board and its JSON
//! API, HTML — is plain Rust over `http` types and two traits (`StaticFs` for
//! the site, `Store` for the board), unit-tested on the host. `glue` is the one
//! module that touches WASI and is only built for `wasm32-wasip2`.

pub mod admin;
pub mod api;
pub mod arena;
pub mod board;
pub mod body;
pub mod conditional;
pub mod encoding;
pub mod error;
pub mod file_store;
pub mod fs;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod html;
pub mod kv_store;
pub mod listing;
pub mod percent;
pub mod random;
pub mod range;
pub mod response;
pub mod router;
pub mod settings;
pub mod site_path;
pub mod static_files;
pub mod store;
pub mod submission;

#[cfg(target_os = "wasi")]
mod glue;
