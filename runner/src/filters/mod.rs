//! Response filters: body wrappers the server puts around a guest's answer
//! on its way out — compression on the fly (`compression`), and the frames
//! shown to an observer (`observed`: the access log's byte count, the
//! no-progress deadline).
//!
//! May use: nothing else in the runner (the crate root's settings only).

pub(crate) mod compression;
pub(crate) mod observed;
