//! A Raft snapshot's data lives in a file, never in memory whole: it is encoded into the
//! file as the state is read, sent from it in chunks, received into one, and decoded from
//! it as it is read.
//!
//! A stored snapshot (a backend blob) is the data, then the metadata, then the
//! metadata's length (8 bytes, big-endian): reading it finds the metadata from the end
//! and leaves the data where it is.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;

use super::types::{SnapshotMeta, decode, encode};
use crate::storage::{BlobWriter, FileSlice};

/// The encoded state of a snapshot: the first `len` bytes of a file.
pub struct SnapshotData {
    file: File,
    len: u64,
}

impl SnapshotData {
    /// The first `len` bytes of `file`.
    pub fn new(file: File, len: u64) -> Self {
        Self { file, len }
    }

    /// Bytes of data.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there is no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the data from its start (each reader has its own position).
    pub fn reader(&self) -> FileSlice<'_> {
        FileSlice::new(&self.file, 0, self.len)
    }

    /// The data in chunks of at most `size` bytes, each read when it is taken.
    pub fn chunks(self, size: usize) -> impl Iterator<Item = io::Result<Vec<u8>>> {
        let size = size.max(1) as u64;
        (0..self.len).step_by(size as usize).map(move |at| {
            let mut chunk = vec![0; usize::try_from(size.min(self.len - at)).unwrap_or(0)];
            self.file.read_exact_at(&mut chunk, at)?;
            Ok(chunk)
        })
    }
}

/// A snapshot being received from the leader, its chunks written to a file as they
/// arrive. The sender announces the length first: a stream cut short must be refused
/// here, because a snapshot that fails to decode at install stops Raft for good.
pub struct Incoming {
    blob: BlobWriter,
    expected: u64,
}

impl Incoming {
    /// Receives `expected` bytes into `blob`.
    pub fn new(blob: BlobWriter, expected: u64) -> Self {
        Self { blob, expected }
    }

    /// Appends a chunk (blocking: file writes).
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.blob.written().saturating_add(chunk.len() as u64) > self.expected {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "more snapshot data than the sender announced"));
        }
        self.blob.write_all(chunk)
    }

    /// The received data, if all of it came (it is not kept once dropped).
    pub fn finish(self) -> io::Result<SnapshotData> {
        let len = self.blob.written();
        if len != self.expected {
            let msg = format!("the snapshot stream ended after {len} of {} bytes", self.expected);
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
        }
        let file = self.blob.into_scratch().map_err(io::Error::other)?;
        Ok(SnapshotData::new(file, len))
    }
}

/// Writes a snapshot into `blob`: the data `write_data` writes, then `meta` and its
/// length. Returns the data's length.
pub fn fill_blob(
    blob: &mut BlobWriter,
    meta: &SnapshotMeta,
    write_data: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, &mut *blob);
    write_data(&mut out)?;
    out.flush()?;
    drop(out);
    let len = blob.written();
    let meta = encode(meta)?;
    blob.write_all(&meta)?;
    blob.write_all(&(meta.len() as u64).to_be_bytes())?;
    Ok(len)
}

/// Reads a snapshot stored by [`fill_blob`]: its metadata, and its data left in the file.
pub fn read_blob(file: File) -> io::Result<(SnapshotMeta, SnapshotData)> {
    let truncated = || io::Error::new(io::ErrorKind::InvalidData, "the stored snapshot is truncated");
    let size = file.metadata()?.len();
    let len_at = size.checked_sub(8).ok_or_else(truncated)?;
    let mut len = [0; 8];
    file.read_exact_at(&mut len, len_at)?;
    let meta_at = len_at.checked_sub(u64::from_be_bytes(len)).ok_or_else(truncated)?;
    let mut meta = Vec::new();
    FileSlice::new(&file, meta_at, len_at - meta_at).read_to_end(&mut meta)?;
    let meta = decode(&meta)?;
    Ok((meta, SnapshotData::new(file, meta_at)))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::storage::{Backend, SledBackend};

    #[test]
    fn a_stored_snapshot_reads_back_and_chunks_cover_its_data() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = SledBackend::open(&dir.path().join("db"))?;
        let meta = SnapshotMeta::default();
        let data: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let mut blob = db.blob_writer("snap")?;
        let len = fill_blob(&mut blob, &meta, |out| out.write_all(&data))?;
        assert_eq!(len, data.len() as u64);
        drop(blob.commit()?);

        let (read_meta, read) = read_blob(db.open_blob("snap")?.ok_or("no blob")?)?;
        assert_eq!(read_meta, meta);
        let mut all = Vec::new();
        read.reader().read_to_end(&mut all)?;
        assert_eq!(all, data, "the data stops where the metadata starts");
        let chunks = read.chunks(1000).collect::<io::Result<Vec<_>>>()?;
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 1000, 500]);
        assert_eq!(chunks.concat(), data);
        Ok(())
    }

    #[test]
    fn a_received_snapshot_must_be_as_long_as_announced() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = SledBackend::open(&dir.path().join("db"))?;
        let blobs = dir.path().join("db.blobs");

        let mut short = Incoming::new(db.blob_writer("in")?, 10);
        short.write(b"12345")?;
        let err = short.finish().err().ok_or("a short stream was accepted")?;
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        let mut long = Incoming::new(db.blob_writer("in")?, 4);
        assert!(long.write(b"12345").is_err(), "more than announced is refused");
        drop(long);
        assert_eq!(std::fs::read_dir(&blobs)?.count(), 0, "refused data leaves no file");

        let mut whole = Incoming::new(db.blob_writer("in")?, 10);
        whole.write(b"12345")?;
        whole.write(b"67890")?;
        let data = whole.finish()?;
        assert_eq!(std::fs::read_dir(&blobs)?.count(), 0, "received data is kept in no named file");
        let mut all = String::new();
        data.reader().read_to_string(&mut all)?;
        assert_eq!(all, "1234567890");
        Ok(())
    }

    #[test]
    fn a_cut_off_snapshot_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = SledBackend::open(&dir.path().join("db"))?;
        let mut blob = db.blob_writer("snap")?;
        blob.write_all(&[0, 0, 0, 0, 0, 0, 1, 0])?;
        let err = read_blob(blob.commit()?).err().ok_or("a length past the start was accepted")?;
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        Ok(())
    }
}
