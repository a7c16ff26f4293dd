//! sitebox's request handler, a `wasi:http/incoming-handler` component.
//!
//! The core — routing, paths, static files, the message board and its JSON
//! API, HTML — is plain Rust over `http` types and two traits (`StaticFs` for
//! the site, `Store` for the board), unit-tested on the host. `glue` is the one
//! module that touches WASI and is only built for `wasm32-wasip2`.
//!
//! Only what the runner and the fuzzers use is exported (`admin`,
//! `api_error`, `compression`, `settings`, `fuzzing`); the rest is the
//! crate's own, so the dead-code lint sees it. It speaks for the component
//! and the unit tests: a plain host build (the runner's dependency) has no
//! `glue`, so most of it is unused there by design.
#![cfg_attr(not(any(target_os = "wasi", test)), allow(dead_code))]

pub(crate) mod arena;
pub mod board;
pub mod compression;
pub(crate) mod error;
pub(crate) mod fs;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod http;
pub(crate) mod random;
pub(crate) mod router;
pub mod rules;
pub mod settings;
pub(crate) mod static_files;
pub(crate) mod store;

#[cfg(target_os = "wasi")]
mod glue;
