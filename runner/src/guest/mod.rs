//! The guest side: the component and one request through an instance of it
//! (`host`: on one of its own, `alone`, or a shared one, `shared`; `failure`
//! when it cannot), on wasmtime's engine and the sitebox world (`engine`); what
//! every instance is given (`mounts`: the preopens, the environment, the
//! guest's output in `guest_log`; `keyvalue`: the board's store on Redis;
//! `site_rules`: the rules files read for it); the instance slots and their
//! queue (`admission`); what bounds a guest (`limited_body`, the request body
//! limit; `progress`, the no-progress deadline; `guest_thread`, the thread it
//! runs on); a 0.3 instance serving several requests at once (`shared`, with
//! `severable`, a body it can cut); and reloading the component when its file
//! changes (`watch`).
//!
//! May use: `ops` (the metrics it records) and `filters` (the observed body).
//! The server side uses `host`, `admission`, `progress`, `watch` and
//! `site_rules`; the rest is the guest side's own.

pub(crate) mod admission;
mod alone;
mod engine;
mod failure;
mod guest_log;
mod guest_thread;
pub(crate) mod host;
pub(crate) mod keyvalue;
mod limited_body;
mod mounts;
pub(crate) mod progress;
mod severable;
mod shared;
pub(crate) mod site_rules;
pub(crate) mod watch;
mod worlds;
