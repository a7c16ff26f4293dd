//! The preopened directories: the site as a `StaticFs` and the data
//! directory as the board's `Dir`, both on `wasi:filesystem`.

use crate::fs::{Entry, FileMeta, FsError, StaticFs};
use crate::http::site_path::SitePath;
use crate::store::file_store::{Dir, DirError};
use std::time::{Duration, SystemTime};
use wasi::clocks::wall_clock::Datetime;
use wasi::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

/// A preopened directory; paths are opened relative to it, so the host's
/// sandbox (cap-std) is a second wall behind `SitePath`. Missing when the
/// host did not mount it: then every operation fails (for the site, a 500;
/// the board uses key-value instead).
pub struct WasiDir {
    descriptor: Option<Descriptor>,
    guest_path: &'static str,
}

impl WasiDir {
    /// The preopen at `guest_path`, or else that directory inside the
    /// nearest preopen above it, opened with `flags`: Spin copies an app's
    /// `files` into one directory and preopens it as `/`, so the site is
    /// `static/` inside `/`.
    pub fn take(
        preopens: &mut Vec<(Descriptor, String)>,
        guest_path: &'static str,
        flags: DescriptorFlags,
    ) -> WasiDir {
        let descriptor = match preopens.iter().position(|(_, path)| path == guest_path) {
            Some(index) => Some(preopens.swap_remove(index).0),
            None => under_a_preopen(preopens, guest_path, flags),
        };
        WasiDir {
            descriptor,
            guest_path,
        }
    }

    pub fn is_preopened(&self) -> bool {
        self.descriptor.is_some()
    }

    fn descriptor(&self) -> Result<&Descriptor, ErrorCode> {
        self.descriptor.as_ref().ok_or_else(|| {
            eprintln!("sitebox: the host did not preopen {}", self.guest_path);
            ErrorCode::NoDevice
        })
    }

    fn open(
        &self,
        path: &str,
        open: OpenFlags,
        flags: DescriptorFlags,
    ) -> Result<Descriptor, ErrorCode> {
        self.descriptor()?
            .open_at(PathFlags::empty(), path, open, flags)
    }
}

/// `guest_path` opened inside the preopen that is its nearest ancestor;
/// `None` if there is none or it holds no such directory.
fn under_a_preopen(
    preopens: &[(Descriptor, String)],
    guest_path: &str,
    flags: DescriptorFlags,
) -> Option<Descriptor> {
    let (parent, inside) = preopens
        .iter()
        .filter_map(|(descriptor, path)| {
            let inside = guest_path
                .strip_prefix(path.trim_end_matches('/'))?
                .strip_prefix('/')?;
            Some((descriptor, inside))
        })
        .min_by_key(|(_, inside)| inside.len())?;
    parent
        .open_at(
            PathFlags::SYMLINK_FOLLOW,
            inside,
            OpenFlags::DIRECTORY,
            flags,
        )
        .ok()
}

impl StaticFs for WasiDir {
    type File = Descriptor;

    fn list(&self, path: &SitePath, visit: &mut dyn FnMut(&str, bool)) -> Result<(), FsError> {
        let dir = self
            .descriptor()
            .and_then(|root| {
                let flags = OpenFlags::DIRECTORY;
                root.open_at(
                    PathFlags::SYMLINK_FOLLOW,
                    &path.relative(),
                    flags,
                    DescriptorFlags::READ,
                )
            })
            .map_err(fs_error)?;
        let stream = dir.read_directory().map_err(fs_error)?;
        loop {
            let entry = match stream.read_directory_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => return Ok(()),
                // A name that is not UTF-8: no request can name it. The host
                // says so for that entry and goes on with the next.
                Err(ErrorCode::IllegalByteSequence) => continue,
                Err(code) => return Err(fs_error(code)),
            };
            let is_dir = match entry.type_ {
                DescriptorType::Directory => true,
                DescriptorType::RegularFile => false,
                // Through the link; one that leads out of the root is
                // refused by the host and left out.
                DescriptorType::SymbolicLink | DescriptorType::Unknown => {
                    match dir.stat_at(PathFlags::SYMLINK_FOLLOW, &entry.name) {
                        Ok(stat) if matches!(stat.type_, DescriptorType::Directory) => true,
                        Ok(stat) if matches!(stat.type_, DescriptorType::RegularFile) => false,
                        _ => continue,
                    }
                }
                _ => continue,
            };
            visit(&entry.name, is_dir);
        }
    }

    fn describe(&self, path: &SitePath) -> Result<FileMeta, FsError> {
        let stat = self
            .descriptor()
            .and_then(|root| root.stat_at(PathFlags::SYMLINK_FOLLOW, &path.relative()))
            .map_err(fs_error)?;
        Ok(FileMeta {
            len: stat.size,
            modified: stat.data_modification_timestamp.map(system_time),
        })
    }

    fn read(&self, file: &Descriptor, len: u64) -> Result<Vec<u8>, FsError> {
        read_whole(file, len).map_err(fs_error)
    }

    fn open(&self, path: &SitePath) -> Result<Entry<Descriptor>, FsError> {
        let dir = self.descriptor().map_err(fs_error)?;
        let relative = path.relative();
        // The type first: only regular files are ever opened. Opening a FIFO
        // blocks until a writer comes (the host's thread with it), a socket
        // fails; neither is part of a site.
        let found = (dir.stat_at(PathFlags::SYMLINK_FOLLOW, &relative)).map_err(fs_error)?;
        match found.type_ {
            DescriptorType::Directory => return Ok(Entry::Directory),
            DescriptorType::RegularFile => {}
            _ => return Err(FsError::NotFound),
        }
        let file = dir
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                &relative,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .map_err(fs_error)?;
        // Stat the open descriptor, not the path: what we measure is what we send.
        let stat = file.stat().map_err(fs_error)?;
        match stat.type_ {
            DescriptorType::Directory => Ok(Entry::Directory),
            DescriptorType::RegularFile => {
                let modified = stat.data_modification_timestamp.map(system_time);
                let meta = FileMeta {
                    len: stat.size,
                    modified,
                };
                Ok(Entry::File { file, meta })
            }
            // Sockets, devices, FIFOs: not part of a site.
            _ => Err(FsError::NotFound),
        }
    }
}

/// The board's file operations on the `/data` preopen.
impl Dir for WasiDir {
    fn create_dir(&self, path: &str) -> Result<(), DirError> {
        self.descriptor()
            .and_then(|dir| dir.create_directory_at(path))
            .map_err(dir_error)
    }

    fn write_new(&self, path: &str, contents: &[u8]) -> Result<(), DirError> {
        let create = OpenFlags::CREATE | OpenFlags::EXCLUSIVE;
        let file = self
            .open(path, create, DescriptorFlags::WRITE)
            .map_err(dir_error)?;
        let mut written = 0;
        while written < contents.len() {
            let n = file
                .write(&contents[written..], written as u64)
                .map_err(dir_error)?;
            written += n as usize;
        }
        file.sync_data().map_err(dir_error)
    }

    fn link(&self, existing: &str, new: &str) -> Result<(), DirError> {
        let dir = self.descriptor().map_err(dir_error)?;
        dir.link_at(PathFlags::empty(), existing, dir, new)
            .map_err(dir_error)
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), DirError> {
        let dir = self.descriptor().map_err(dir_error)?;
        dir.rename_at(from, dir, to).map_err(dir_error)
    }

    fn exists(&self, path: &str) -> Result<bool, DirError> {
        match self
            .descriptor()
            .and_then(|dir| dir.stat_at(PathFlags::empty(), path))
        {
            Ok(_) => Ok(true),
            Err(ErrorCode::NoEntry) => Ok(false),
            Err(code) => Err(dir_error(code)),
        }
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, DirError> {
        let file = self
            .open(path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(dir_error)?;
        // Ask for the file's size, not a fixed 64 KiB: the host zeroes a
        // buffer as large as the read asked for, and a page reads dozens of
        // small files (message files never change, so the size holds).
        let size = file.stat().map_err(dir_error)?.size;
        read_whole(&file, size).map_err(dir_error)
    }

    fn list(&self, path: &str) -> Result<Vec<String>, DirError> {
        let dir = self
            .open(path, OpenFlags::DIRECTORY, DescriptorFlags::READ)
            .map_err(dir_error)?;
        let entries = dir.read_directory().map_err(dir_error)?;
        let mut names = Vec::new();
        while let Some(entry) = entries.read_directory_entry().map_err(dir_error)? {
            names.push(entry.name);
        }
        Ok(names)
    }

    fn remove(&self, path: &str) -> Result<(), DirError> {
        match self.descriptor().and_then(|dir| dir.unlink_file_at(path)) {
            Ok(()) | Err(ErrorCode::NoEntry) => Ok(()),
            Err(code) => Err(dir_error(code)),
        }
    }

    fn sync_dir(&self, path: &str) -> Result<(), DirError> {
        let dir = self
            .open(path, OpenFlags::DIRECTORY, DescriptorFlags::READ)
            .map_err(dir_error)?;
        dir.sync().map_err(dir_error)
    }
}

/// The first `size` bytes of `file` (fewer if it is shorter), in as few
/// reads as the host allows.
fn read_whole(file: &Descriptor, size: u64) -> Result<Vec<u8>, ErrorCode> {
    let mut contents = Vec::with_capacity(size as usize);
    while (contents.len() as u64) < size {
        let offset = contents.len() as u64;
        let (chunk, end) = file.read(size - offset, offset)?;
        contents.extend_from_slice(&chunk);
        if end || chunk.is_empty() {
            break;
        }
    }
    Ok(contents)
}

fn system_time(time: Datetime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(time.seconds, time.nanoseconds)
}

fn dir_error(code: ErrorCode) -> DirError {
    match code {
        ErrorCode::NoEntry => DirError::NotFound,
        ErrorCode::Exist => DirError::Exists,
        other => DirError::Other(format!("{other:?}")),
    }
}

fn fs_error(code: ErrorCode) -> FsError {
    match code {
        ErrorCode::NoEntry | ErrorCode::NotDirectory | ErrorCode::NameTooLong => FsError::NotFound,
        // cap-std reports a path that leaves the preopen (`..` in a symlink, an
        // absolute symlink) as not-permitted; loops are refused the same way.
        ErrorCode::NotPermitted | ErrorCode::Access | ErrorCode::Loop => FsError::Forbidden,
        other => FsError::Io(format!("{other:?}")),
    }
}
