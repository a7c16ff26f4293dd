//! sitebox's request handler, a `wasi:http/incoming-handler` component.
//!
//! The core is plain Rust over `http` types and two traits (`StaticFs` for
//! the site, `Store` for the board), unit-tested on the host, in areas that
//! each use only those listed before them:
//!
//! - `http`: paths, bodies, responses and the headers common to all, ranges,
//!   content codings, the HTML layout and error pages;
//! - `fs` (the site as a trait), `error` (what can go wrong, each with its
//!   status), `random` (the randomness the host hands in);
//! - `rules`: the site's `_redirects` and `_headers`;
//! - `compression` and `settings`: what the host configures, shared with the
//!   runner;
//! - `static_files`: what a path names, listings, conditional requests,
//!   ranges and sidecars;
//! - `store`: the board's storage (files, key-value) and keyed posts;
//! - `board`: the HTML flow and the JSON API, the rules a write must meet,
//!   the admin;
//! - `router`: the one flat `match` that ties the areas together;
//! - `glue`: the one module that touches WASI, only built for
//!   `wasm32-wasip2`.
//!
//! `arena` (the guest's heap) and `fuzzing` (the fuzz targets' entry points)
//! stand apart. Only what the runner and the fuzzers use is exported
//! (`board::admin`, `board::api_error`, `compression`,
//! `http::precompressed`, `rules`, `settings`, `fuzzing`); the rest is the
//! crate's own, so the dead-code lint sees it. It speaks for the component
//! and the unit tests: a plain host build (the runner's dependency) has no
//! `glue`, so most of it is unused there by design.
#![cfg_attr(not(any(target_os = "wasi", test)), allow(dead_code))]

pub mod http;

pub(crate) mod error;
pub(crate) mod fs;
pub(crate) mod random;

pub mod rules;

pub mod compression;
pub mod settings;

pub(crate) mod static_files;

pub(crate) mod store;

pub mod board;

pub(crate) mod router;

#[cfg(target_os = "wasi")]
mod glue;

pub(crate) mod arena;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
