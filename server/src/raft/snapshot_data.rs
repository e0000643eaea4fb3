//! A Raft snapshot's data: the state machine's current state, copied and encoded only
//! when it is sent, as etcd sends its backend.
//!
//! Taking a snapshot copies nothing: the state is already durable in the database, and
//! openraft only needs the log id it covers to purge the log behind it. A snapshot is
//! encoded into a scratch file when a follower needs one, sent from it in chunks,
//! received into a file there, and decoded from it as it is read. Neither side ever
//! holds it in memory whole.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use super::state_machine::SmStore;
use super::types::SnapshotMeta;
use crate::storage::{Backend, BlobWriter, FileSlice, SledBackend};

/// A snapshot's data.
pub enum SnapshotData<B = SledBackend> {
    /// The state machine's state, as it is when the data is read: at or after the log id
    /// of the snapshot's metadata (taken or current snapshots).
    Current(SmStore<B>),
    /// Encoded data in a file (a received snapshot).
    Encoded(SnapshotFile),
}

impl<B: Backend> SnapshotData<B> {
    /// The encoded data, and the metadata of the state it holds. The current state is
    /// copied now, so its metadata may be newer than `meta`, which covers less: a snapshot
    /// covering more entries is as good for Raft. The copy is encoded into a scratch file
    /// off the async workers (it reads every record).
    pub async fn encode(self, meta: SnapshotMeta) -> io::Result<(SnapshotMeta, SnapshotFile)> {
        match self {
            Self::Current(store) => {
                let export = store.export().await;
                let meta = export.meta().clone();
                let file = tokio::task::spawn_blocking(move || export.encode_to_scratch());
                Ok((meta, file.await.map_err(io::Error::other)??))
            }
            Self::Encoded(file) => Ok((meta, file)),
        }
    }
}

/// An encoded snapshot: the first `len` bytes of a file.
pub struct SnapshotFile {
    file: File,
    len: u64,
}

impl SnapshotFile {
    /// The first `len` bytes of `file`.
    pub fn new(file: File, len: u64) -> Self {
        Self { file, len }
    }

    /// Bytes of data.
    pub fn size(&self) -> u64 {
        self.len
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

/// Writes the data `write_data` writes into `blob`, then unlinks it: a file without a
/// name, whose space is given back when it is dropped.
pub fn encode_to_scratch(
    mut blob: BlobWriter,
    write_data: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<SnapshotFile> {
    let mut out = io::BufWriter::with_capacity(1 << 20, &mut blob);
    write_data(&mut out)?;
    out.flush()?;
    drop(out);
    let len = blob.written();
    Ok(SnapshotFile::new(blob.into_scratch().map_err(io::Error::other)?, len))
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
    pub fn finish(self) -> io::Result<SnapshotFile> {
        let len = self.blob.written();
        if len != self.expected {
            let msg = format!("the snapshot stream ended after {len} of {} bytes", self.expected);
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
        }
        let file = self.blob.into_scratch().map_err(io::Error::other)?;
        Ok(SnapshotFile::new(file, len))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn encoded_data_reads_back_in_chunks_and_leaves_no_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = SledBackend::open(&dir.path().join("db"))?;
        let data: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let file = encode_to_scratch(db.blob_writer("snap")?, |out| out.write_all(&data))?;
        assert_eq!(file.size(), data.len() as u64);
        assert_eq!(std::fs::read_dir(dir.path().join("db.blobs"))?.count(), 0, "the data is kept in no named file");
        let mut all = Vec::new();
        file.reader().read_to_end(&mut all)?;
        assert_eq!(all, data);
        let chunks = file.chunks(1000).collect::<io::Result<Vec<_>>>()?;
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
}
