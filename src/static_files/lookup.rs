//! What a static path names — a file (the index of a directory, the
//! `.html` behind a clean URL), a directory to redirect to with its slash, a
//! listing — or nothing: one lookup for serving and for the site rules'
//! "does something exist here".

use super::INDEX_FILE;
use crate::error::Error;
use crate::fs::{Entry, FileMeta, FsError, StaticFs};
use crate::http::site_path::SitePath;
use crate::settings::Settings;

/// What `get` would find at `path` (a file, a directory, a listing):
/// something there shadows a site rule that is not forced.
pub fn look_up<R: StaticFs>(root: &R, path: &SitePath, settings: &Settings) -> Lookup<R::File> {
    Lookup {
        path: path.clone(),
        found: find(root, path, settings),
    }
}

/// What a path named when it was looked up for a rule (whether a file
/// shadows it), kept so that serving the same path does not open it again.
pub struct Lookup<F> {
    path: SitePath,
    found: Result<Found<F>, Error>,
}

impl<F> Lookup<F> {
    pub fn exists(&self) -> bool {
        self.found.is_ok()
    }

    /// What it found, if it was for `path`.
    pub(super) fn take_for(self, path: &SitePath) -> Option<Result<Found<F>, Error>> {
        (self.path == *path).then_some(self.found)
    }
}

/// What a static path names.
pub(super) enum Found<F> {
    File {
        /// The file's own path (the index of a directory, `about.html` for
        /// a clean `/about`).
        path: SitePath,
        file: F,
        meta: FileMeta,
    },
    /// A directory named without its trailing slash.
    Directory,
    /// With clean URLs, `about.html` named as it is: its clean path, to
    /// redirect a client there (a rewrite serves the file).
    HtmlFile {
        clean: SitePath,
        path: SitePath,
        file: F,
        meta: FileMeta,
    },
    /// A directory without an index, listings on.
    Listing,
}

pub(super) fn find<R: StaticFs>(
    root: &R,
    path: &SitePath,
    settings: &Settings,
) -> Result<Found<R::File>, Error> {
    if !settings.shows(path) {
        return Err(Error::NotFound);
    }
    let clean_urls = settings.clean_urls && !path.has_trailing_slash();
    match root.open(path) {
        // `/page.html/` names a directory that is a file: nothing there.
        Ok(Entry::File { .. }) if path.has_trailing_slash() => Err(Error::NotFound),
        Ok(Entry::File { file, meta }) if clean_urls && path.file_name().is_some_and(is_html) => {
            Ok(Found::HtmlFile {
                clean: clean(path),
                path: path.clone(),
                file,
                meta,
            })
        }
        Ok(Entry::File { file, meta }) => Ok(Found::File {
            path: path.clone(),
            file,
            meta,
        }),
        Ok(Entry::Directory) if !path.has_trailing_slash() => Ok(Found::Directory),
        Ok(Entry::Directory) => {
            let index = path.child(INDEX_FILE);
            match root.open(&index) {
                Ok(Entry::File { file, meta }) => Ok(Found::File {
                    path: index,
                    file,
                    meta,
                }),
                Ok(Entry::Directory) | Err(FsError::NotFound) if settings.listing => {
                    Ok(Found::Listing)
                }
                Ok(Entry::Directory) | Err(FsError::NotFound) => Err(Error::NotFound),
                Err(error) => Err(error.into()),
            }
        }
        Err(FsError::NotFound) if clean_urls && path.file_name().is_some_and(|n| !is_html(n)) => {
            let html = path.with_suffix(HTML_SUFFIX);
            match root.open(&html) {
                Ok(Entry::File { file, meta }) => Ok(Found::File {
                    path: html,
                    file,
                    meta,
                }),
                _ => Err(Error::NotFound),
            }
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) const HTML_SUFFIX: &str = ".html";

fn is_html(name: &str) -> bool {
    name.len() > HTML_SUFFIX.len() && name.ends_with(HTML_SUFFIX)
}

/// The clean URL of an HTML file: `/about.html` → `/about`,
/// `/docs/index.html` → `/docs/`.
fn clean(path: &SitePath) -> SitePath {
    match path.file_name() {
        Some(INDEX_FILE) => path.parent(),
        _ => {
            let name = path.file_name().unwrap_or_default();
            path.parent().child(&name[..name.len() - HTML_SUFFIX.len()])
        }
    }
}
