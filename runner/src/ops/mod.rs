//! Operations: what an operator reads of a running server — the Prometheus
//! metrics and their listener (`metrics`), and the access log (`access_log`).
//! The guest side and the server side record into them.
//!
//! May use: `filters` (the observed body the access log counts by).

pub(crate) mod access_log;
pub(crate) mod metrics;
