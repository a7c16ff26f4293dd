//! `Dir` on `std::fs`, so the store's concurrency is tested on the host with
//! real files and threads.
use super::{Dir, DirError};
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

pub struct StdDir(pub PathBuf);

fn convert(error: std::io::Error) -> DirError {
    match error.kind() {
        ErrorKind::NotFound => DirError::NotFound,
        ErrorKind::AlreadyExists => DirError::Exists,
        _ => DirError::Other(error.to_string()),
    }
}

impl Dir for StdDir {
    fn create_dir(&self, path: &str) -> Result<(), DirError> {
        std::fs::create_dir(self.0.join(path)).map_err(convert)
    }

    fn write_new(&self, path: &str, contents: &[u8]) -> Result<(), DirError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.0.join(path))
            .map_err(convert)?;
        file.write_all(contents).map_err(convert)?;
        file.sync_data().map_err(convert)
    }

    fn link(&self, existing: &str, new: &str) -> Result<(), DirError> {
        std::fs::hard_link(self.0.join(existing), self.0.join(new)).map_err(convert)
    }

    fn exists(&self, path: &str) -> Result<bool, DirError> {
        match std::fs::symlink_metadata(self.0.join(path)) {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(convert(error)),
        }
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, DirError> {
        std::fs::read(self.0.join(path)).map_err(convert)
    }

    fn list(&self, path: &str) -> Result<Vec<String>, DirError> {
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
    }

    fn remove(&self, path: &str) -> Result<(), DirError> {
        match std::fs::remove_file(self.0.join(path)) {
            Err(error) if error.kind() != ErrorKind::NotFound => Err(convert(error)),
            _ => Ok(()),
        }
    }

    fn sync_dir(&self, path: &str) -> Result<(), DirError> {
        std::fs::File::open(self.0.join(path))
            .and_then(|dir| dir.sync_all())
            .map_err(convert)
    }
}
