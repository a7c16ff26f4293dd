//! `Dir` on `std::fs`, so the store's concurrency is tested on the host with
//! real files and threads; it notes when the calling thread last touched it.
use super::{Dir, DirError};
use std::cell::Cell;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::time::Instant;

pub struct StdDir(pub PathBuf);

thread_local! {
    static LAST_CALL: Cell<Option<Instant>> = const { Cell::new(None) };
}

impl StdDir {
    /// When this thread's latest operation had finished.
    pub fn last_call_on_this_thread() -> Option<Instant> {
        LAST_CALL.with(Cell::get)
    }
}

/// Runs `operation`, letting other threads in first (as a host call
/// would), and notes when it ended for `last_call_on_this_thread`.
fn noted<T>(operation: impl FnOnce() -> T) -> T {
    std::thread::yield_now();
    let result = operation();
    LAST_CALL.with(|last| last.set(Some(Instant::now())));
    result
}

fn convert(error: std::io::Error) -> DirError {
    match error.kind() {
        ErrorKind::NotFound => DirError::NotFound,
        ErrorKind::AlreadyExists => DirError::Exists,
        _ => DirError::Other(error.to_string()),
    }
}

impl Dir for StdDir {
    fn create_dir(&self, path: &str) -> Result<(), DirError> {
        noted(|| std::fs::create_dir(self.0.join(path)).map_err(convert))
    }

    fn write_new(&self, path: &str, contents: &[u8]) -> Result<(), DirError> {
        noted(|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.0.join(path))
                .map_err(convert)?;
            file.write_all(contents).map_err(convert)?;
            file.sync_data().map_err(convert)
        })
    }

    fn link(&self, existing: &str, new: &str) -> Result<(), DirError> {
        noted(|| std::fs::hard_link(self.0.join(existing), self.0.join(new)).map_err(convert))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), DirError> {
        noted(|| std::fs::rename(self.0.join(from), self.0.join(to)).map_err(convert))
    }

    fn exists(&self, path: &str) -> Result<bool, DirError> {
        noted(|| match std::fs::symlink_metadata(self.0.join(path)) {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(convert(error)),
        })
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, DirError> {
        noted(|| std::fs::read(self.0.join(path)).map_err(convert))
    }

    fn list(&self, path: &str) -> Result<Vec<String>, DirError> {
        noted(|| {
            std::fs::read_dir(self.0.join(path))
                .map_err(convert)?
                .map(|entry| {
                    Ok(entry
                        .map_err(convert)?
                        .file_name()
                        .to_string_lossy()
                        .into_owned())
                })
                .collect()
        })
    }

    fn remove(&self, path: &str) -> Result<(), DirError> {
        noted(|| match std::fs::remove_file(self.0.join(path)) {
            Err(error) if error.kind() != ErrorKind::NotFound => Err(convert(error)),
            _ => Ok(()),
        })
    }

    fn sync_dir(&self, path: &str) -> Result<(), DirError> {
        noted(|| {
            std::fs::File::open(self.0.join(path))
                .and_then(|dir| dir.sync_all())
                .map_err(convert)
        })
    }
}
