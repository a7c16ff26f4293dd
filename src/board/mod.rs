//! The message board, on the store below it: the HTML flow a browser
//! follows (`form`, its page drawn by `page`), the JSON API (`api`; its
//! errors' shape and paths in `api_error`, which the runner's own answers
//! under `/api/` share), the rules a write must meet (`submission`) and who
//! may clear the board or delete a message (`admin`).
//!
//! May use: `store`, `http`, `error` and `random`; never the static files
//! or the site's rules (the router puts the board beside them).

pub mod admin;
pub(crate) mod api;
pub mod api_error;
pub(crate) mod form;
pub(crate) mod page;
pub(crate) mod submission;

/// The largest body a board write takes, for hosts that cap bodies before
/// the component sees them (workerd's `serve.js`, checked by a test).
pub use submission::MAX_BODY_BYTES;
