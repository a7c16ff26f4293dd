//! The server side: everything between a client and a guest. The server's
//! life from start-up to a graceful stop (`server`), its listeners
//! (`listeners`, `tls`, `protocols`), one connection (`connection`, `idle`,
//! `pace`: the body-rate floor), what a request passes before it takes an
//! instance (`request_rules`, `client_address`, `write_limit`, `logins`,
//! `gate` with `read_ahead` and `client_slots`), the answers the runner
//! writes itself (`host_pages`, `health`), and what SIGHUP reloads
//! (`reload`).
//!
//! May use: `guest` (the host that runs a request), `ops` (the metrics and
//! the access log it records into) and `filters` (compression and the
//! observed body). Nothing else uses it but the crate root and `cli`.

pub(crate) mod client_address;
mod client_slots;
mod connection;
mod gate;
pub(crate) mod health;
mod host_pages;
mod idle;
pub mod listeners;
mod logins;
mod pace;
mod protocols;
mod read_ahead;
pub(crate) mod reload;
mod request_rules;
pub(crate) mod server;
pub(crate) mod tls;
pub(crate) mod write_limit;
