//! The static root as the core sees it: one trait ("open this checked path",
//! "list this directory"), so the static-file logic runs on `wasi:filesystem`
//! in the component and on an in-memory tree in unit tests.

use crate::http::site_path::SitePath;
use std::time::SystemTime;

/// A read-only tree of files below a root the paths cannot leave.
pub trait StaticFs {
    /// An open file, handed back in the response body to be streamed.
    type File;

    fn open(&self, path: &SitePath) -> Result<Entry<Self::File>, FsError>;

    /// The first `len` bytes of an open file, read whole (the site's small
    /// rules files; bodies are streamed instead).
    fn read(&self, file: &Self::File, len: u64) -> Result<Vec<u8>, FsError>;

    /// Calls `visit` with the name of each file and directory (through
    /// symlinks) in directory `path`, and whether it is a directory, in no
    /// particular order, one at a time: a directory of any size takes no
    /// memory here. Left out: names that are not UTF-8 (no request can name
    /// them), entries of other types, and those the host refuses to
    /// describe (a symlink out of the root).
    fn list(&self, path: &SitePath, visit: &mut dyn FnMut(&str, bool)) -> Result<(), FsError>;

    /// The size and time of the file or directory at `path`, for listings.
    fn describe(&self, path: &SitePath) -> Result<FileMeta, FsError>;
}

pub enum Entry<F> {
    File { file: F, meta: FileMeta },
    Directory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    NotFound,
    /// The host refused: a symlink out of the root, or permissions.
    Forbidden,
    /// Anything else; the text is for the log, never for the client.
    Io(String),
}

/// An in-memory tree for unit tests: file contents by `/`-joined path;
/// directories are implied by the files below them.
#[cfg(any(test, fuzzing))]
pub mod memory {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct MemoryFs {
        files: BTreeMap<String, Vec<u8>>,
        forbidden: Vec<String>,
        /// How many times a path was opened, for tests of what is looked up.
        opened: std::sync::atomic::AtomicUsize,
    }

    impl MemoryFs {
        pub fn opened(&self) -> usize {
            self.opened.load(std::sync::atomic::Ordering::Relaxed)
        }

        pub fn with(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
            self.files.insert(path.to_owned(), contents.into());
            self
        }

        pub fn without(mut self, path: &str) -> Self {
            self.files.remove(path);
            self
        }

        /// Makes `open(path)` fail the way an escaping symlink does.
        pub fn forbid(mut self, path: &str) -> Self {
            self.forbidden.push(path.to_owned());
            self
        }
    }

    /// Every file's modification time, so validators are predictable.
    pub const MODIFIED_SECS: u64 = 1_700_000_000;

    fn meta(contents: &[u8]) -> FileMeta {
        FileMeta {
            len: contents.len() as u64,
            modified: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(MODIFIED_SECS)),
        }
    }

    impl StaticFs for MemoryFs {
        type File = Vec<u8>;

        fn list(&self, path: &SitePath, visit: &mut dyn FnMut(&str, bool)) -> Result<(), FsError> {
            if !matches!(self.open(path)?, Entry::Directory) {
                return Err(FsError::NotFound);
            }
            let prefix = path
                .segments()
                .iter()
                .map(|s| format!("{s}/"))
                .collect::<String>();
            let mut previous_dir: Option<&str> = None;
            for key in self.files.keys() {
                let Some(rest) = key.strip_prefix(&prefix) else {
                    continue;
                };
                match rest.split_once('/') {
                    // The files below a directory are next to each other.
                    Some((dir, _)) if previous_dir == Some(dir) => {}
                    Some((dir, _)) => {
                        previous_dir = Some(dir);
                        visit(dir, true);
                    }
                    None => visit(rest, false),
                }
            }
            Ok(())
        }

        fn describe(&self, path: &SitePath) -> Result<FileMeta, FsError> {
            match self.open(path)? {
                Entry::File { meta, .. } => Ok(meta),
                Entry::Directory => Ok(meta(&[])),
            }
        }

        fn read(&self, file: &Vec<u8>, len: u64) -> Result<Vec<u8>, FsError> {
            let len = usize::try_from(len).unwrap_or(usize::MAX).min(file.len());
            Ok(file[..len].to_vec())
        }

        fn open(&self, path: &SitePath) -> Result<Entry<Vec<u8>>, FsError> {
            self.opened
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let key = path.segments().join("/");
            if self.forbidden.contains(&key) {
                return Err(FsError::Forbidden);
            }
            if let Some(contents) = self.files.get(&key) {
                return Ok(Entry::File {
                    file: contents.clone(),
                    meta: meta(contents),
                });
            }
            let prefix = format!("{key}/");
            if key.is_empty() || self.files.keys().any(|k| k.starts_with(&prefix)) {
                Ok(Entry::Directory)
            } else {
                Err(FsError::NotFound)
            }
        }
    }
}
