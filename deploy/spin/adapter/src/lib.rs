//! The Spin adapter: exports `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft`
//! (what sitebox imports) on top of `@0.2.0-draft2` (what Spin offers), so
//! `sitebox.wasm` plugged with it runs on Spin unchanged. The two drafts
//! differ in three places, handled by the pure modules here; the WASI calls
//! themselves are in `glue` (built for wasm only).
//! - `list-keys`' cursor: a `u64` in draft, a string in draft2 (`cursors`);
//! - `increment`: `u64` in draft, `s64` in draft2 (`counts`);
//! - `get-many`: draft answers one `option<tuple<key, value>>` per key
//!   asked, draft2 `tuple<key, option<value>>` pairs (`entries`).

pub mod counts;
pub mod cursors;
pub mod entries;

#[cfg(target_os = "wasi")]
mod glue;
