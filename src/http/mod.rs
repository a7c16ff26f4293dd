//! HTTP itself, as every answer needs it: request paths (`site_path`, on
//! strict `percent`-decoding), request bodies (`body`), responses and the
//! headers common to all of them (`response`, `security_headers`), the HTML
//! every page of sitebox's own shares (`html`: the layout, the error pages),
//! and the request headers read alike for any resource (`range`;
//! `precompressed`, the content codings `Accept-Encoding` allows, also the
//! runner's). Conditional requests sit with the static files: their
//! validators are a file's.
//!
//! May use: nothing else in the crate; every other area builds on it.

pub(crate) mod body;
pub(crate) mod html;
pub(crate) mod percent;
pub mod precompressed;
pub(crate) mod range;
pub(crate) mod response;
pub(crate) mod security_headers;
pub(crate) mod site_path;
