//! Blobs: large values kept as files beside the database (such as a Raft snapshot being
//! sent or received), written and read as streams so that none is ever in memory whole.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::StorageError;

/// Bytes a blob write or a defragmentation leaves unflushed at most: one huge flush at
/// the end would hold up the log's fsyncs behind it.
pub(super) const FLUSH_EVERY: usize = 32 << 20;

/// Suffix of blob files not yet committed; what a crash leaves is removed at open.
const UNCOMMITTED: &str = ".tmp";

/// Tells apart the uncommitted files of writers running at once.
static WRITERS: AtomicU64 = AtomicU64::new(0);

/// A blob being written. It replaces the blob of its name only when committed; dropped
/// uncommitted, it leaves nothing behind.
pub struct BlobWriter {
    file: File,
    tmp: PathBuf,
    target: PathBuf,
    written: u64,
    unflushed: usize,
}

impl BlobWriter {
    /// Starts a blob `name` in `dir`.
    pub(super) fn create(dir: &Path, name: &str) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let n = WRITERS.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{name}.{}.{n}{UNCOMMITTED}", std::process::id()));
        // Readable too: the committed blob is read through this handle (see `commit`).
        let file = File::options().read(true).write(true).create(true).truncate(true).open(&tmp).map_err(io)?;
        Ok(Self { file, tmp, target: dir.join(name), written: 0, unflushed: 0 })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the blob durable and the current one of its name, atomically: fsync,
    /// rename over, fsync the directory. The file stays open for reading: it holds what
    /// was written even once a later commit replaces the blob.
    pub fn commit(self) -> Result<File, StorageError> {
        self.file.sync_all().map_err(io)?;
        std::fs::rename(&self.tmp, &self.target).map_err(io)?;
        if let Some(parent) = self.target.parent() {
            File::open(parent).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let file = self.file.try_clone().map_err(io)?;
        Ok(file)
    }

    /// What was written, as a file without a name: never committed, and its space is
    /// given back when the file is dropped (data received only to be read once).
    pub fn into_scratch(self) -> Result<File, StorageError> {
        std::fs::remove_file(&self.tmp).map_err(io)?;
        let file = self.file.try_clone().map_err(io)?;
        Ok(file)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        self.unflushed += n;
        if self.unflushed >= FLUSH_EVERY {
            self.file.sync_data()?;
            self.unflushed = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Committed, the file was renamed away and this finds nothing to remove.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Removes the blob `name` in `dir`, if one was committed.
pub(super) fn remove(dir: &Path, name: &str) -> Result<(), StorageError> {
    match std::fs::remove_file(dir.join(name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// Removes what unfinished writes of blobs named `prefix...` left in `dir`.
pub(super) fn remove_uncommitted(dir: &Path, prefix: &str) -> Result<(), StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(UNCOMMITTED) {
            std::fs::remove_file(entry.path()).map_err(io)?;
        }
    }
    Ok(())
}

/// Reads `len` bytes of a file from `at` on, with its own position: readers of one file
/// never move each other.
pub struct FileSlice<'f> {
    file: &'f File,
    at: u64,
    end: u64,
}

impl<'f> FileSlice<'f> {
    /// The bytes `at..at + len` of `file`.
    pub fn new(file: &'f File, at: u64, len: u64) -> Self {
        Self { file, at, end: at.saturating_add(len) }
    }
}

impl Read for FileSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its blob"));
        }
        self.at += n as u64;
        Ok(n)
    }
}

fn io(e: io::Error) -> StorageError {
    StorageError::Engine(e.to_string())
}
