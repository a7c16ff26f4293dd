//! Which representation of a file a request gets: the file itself or one of
//! its precompressed sidecars, as `Accept-Encoding` (and a `Range` of
//! several parts) chooses, or the file for the host to compress.

use crate::error::Error;
use crate::fs::{Entry, FileMeta, StaticFs};
use crate::http::precompressed::{self, Choice, Coding};
use crate::http::range::{self, Ranges};
use crate::http::site_path::SitePath;
use crate::settings::Settings;
use http::Method;
use http::header::RANGE;
use http::request::Parts;

/// The file or one of its precompressed sidecars, as `Accept-Encoding`
/// chooses.
pub(super) struct Representation<F> {
    pub(super) file: F,
    pub(super) meta: FileMeta,
    pub(super) coding: Option<Coding>,
    /// Whether the file has sidecars, so the answer depends on
    /// `Accept-Encoding`.
    pub(super) varies: bool,
    /// The plain file, though the client refuses it plain: the host
    /// compresses it (`ForTheHost`).
    pub(super) for_the_host: bool,
}

pub(super) fn representation<R: StaticFs>(
    root: &R,
    request: &Parts,
    settings: &Settings,
    path: &SitePath,
    file: R::File,
    meta: FileMeta,
) -> Result<Representation<R::File>, Error> {
    let mut sidecars: Vec<(Coding, R::File, FileMeta)> = Coding::ALL
        .into_iter()
        .filter_map(
            |coding| match root.open(&path.with_suffix(coding.extension())) {
                Ok(Entry::File { file, meta }) => Some((coding, file, meta)),
                _ => None,
            },
        )
        .collect();
    let available: Vec<Coding> = sidecars.iter().map(|(coding, ..)| *coding).collect();
    let accept = precompressed::accept_encoding(&request.headers);
    let choice = match precompressed::choose(accept.as_deref(), &available) {
        // Several ranges of a sidecar come from the plain file when the
        // client takes it plain. A `multipart/byteranges` body is not in the
        // sidecar's coding, so a `Content-Encoding` over it would lie (it
        // names the coding of the whole content, RFC 9110 §8.4), and no
        // client reads one inside each part; the plain file's parts need no
        // coding at all. One range stays a range of the sidecar's bytes, as
        // `Content-Encoding` and `Content-Range` then say rightly.
        Choice::Coded(chosen)
            if several_ranges(request, &sidecars, chosen)
                && precompressed::choose(accept.as_deref(), &[]) == Choice::Identity =>
        {
            Choice::Identity
        }
        choice => choice,
    };
    let mut for_the_host = false;
    let (file, meta, coding) = match choice {
        Choice::Identity => (file, meta, None),
        Choice::Coded(chosen) => {
            let index = sidecars
                .iter()
                .position(|(coding, ..)| *coding == chosen)
                .expect("chosen from these");
            let (coding, file, meta) = sidecars.swap_remove(index);
            (file, meta, Some(coding))
        }
        // The host compresses on the way out with a coding the client
        // takes: the plain file, for it (the router checks that it will).
        Choice::NotAcceptable
            if (settings.host_compression.as_ref())
                .is_some_and(|host| host.coding_for(&request.headers).is_some()) =>
        {
            for_the_host = true;
            (file, meta, None)
        }
        Choice::NotAcceptable => return Err(Error::NotAcceptable),
    };
    Ok(Representation {
        file,
        meta,
        coding,
        varies: !available.is_empty(),
        for_the_host,
    })
}

/// Whether a GET's `Range` asks for more than one range of the `coding`
/// sidecar.
fn several_ranges<F>(request: &Parts, sidecars: &[(Coding, F, FileMeta)], coding: Coding) -> bool {
    let header = request.headers.get(RANGE).and_then(|v| v.to_str().ok());
    let len = sidecars
        .iter()
        .find(|(c, ..)| *c == coding)
        .map(|(.., meta)| meta.len);
    match (header, len) {
        (Some(header), Some(len)) if request.method == Method::GET => {
            matches!(range::resolve(header, len), Ranges::Partial(parts) if parts.len() > 1)
        }
        _ => false,
    }
}
