//! The snapshot file `Maintenance.Snapshot` streams and `etcdctl-rs snapshot status|restore`
//! read: a point-in-time copy of the replicated state, padded to a multiple of 512 bytes
//! and followed by the SHA-256 of everything before it. That is the shape of etcd's
//! snapshot files (a page-aligned database plus a SHA-256 trailer), so tools that check
//! "size % 512 == 32" to find the trailer find ours; the content is etcd-rs's own.

use sha2::{Digest, Sha256};

use crate::state_machine::StateSnapshot;

/// What every etcd-rs snapshot file starts with.
const MAGIC: &[u8] = b"etcd-rs snapshot v1\n";
/// etcd pads its database to pages; the trailer check relies on the alignment.
const ALIGN: usize = 512;
const TRAILER: usize = 32;

/// Why a file is not a usable snapshot.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotFileError {
    /// Not written by etcd-rs (e.g. an etcd bbolt snapshot).
    #[error("not an etcd-rs snapshot (etcd's own snapshot files cannot be read by etcd-rs)")]
    Foreign,
    /// Truncated or altered.
    #[error("snapshot file integrity check failed")]
    Integrity,
    /// The content does not decode.
    #[error("snapshot file is corrupt: {0}")]
    Corrupt(String),
}

/// Summary for `snapshot status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// CRC-32 of the v3 records: equal to the source's `Hash` when it was taken.
    pub hash: u32,
    /// The store revision.
    pub revision: i64,
    /// Records held: v3 revisions, leases and v2 nodes.
    pub total_keys: usize,
    /// The file's size in bytes.
    pub total_size: usize,
}

/// Encodes `snap` as a snapshot file.
pub fn encode(snap: &StateSnapshot) -> Result<Vec<u8>, SnapshotFileError> {
    let mut out = MAGIC.to_vec();
    let body = bincode::serde::encode_to_vec(snap, bincode::config::standard())
        .map_err(|e| SnapshotFileError::Corrupt(e.to_string()))?;
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(ALIGN) * ALIGN, 0);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Checks and decodes a snapshot file; `verify: false` skips the SHA-256 comparison
/// (etcdctl's `--skip-hash-check`), not the decoding's own checks.
pub fn decode(bytes: &[u8], verify: bool) -> Result<StateSnapshot, SnapshotFileError> {
    if !bytes.starts_with(MAGIC) {
        return Err(SnapshotFileError::Foreign);
    }
    if bytes.len() < MAGIC.len() + TRAILER || !(bytes.len() - TRAILER).is_multiple_of(ALIGN) {
        return Err(SnapshotFileError::Integrity);
    }
    let (content, trailer) = bytes.split_at(bytes.len() - TRAILER);
    if verify && Sha256::digest(content).as_slice() != trailer {
        return Err(SnapshotFileError::Integrity);
    }
    bincode::serde::decode_from_slice(&content[MAGIC.len()..], bincode::config::standard())
        .map(|(snap, _)| snap)
        .map_err(|e| SnapshotFileError::Corrupt(e.to_string()))
}

/// Checks a snapshot file and summarises it.
pub fn status(bytes: &[u8]) -> Result<SnapshotStatus, SnapshotFileError> {
    let snap = decode(bytes, true)?;
    let mvcc = snap.mvcc();
    Ok(SnapshotStatus {
        hash: mvcc.hash(),
        revision: mvcc.current(),
        total_keys: mvcc.records() + mvcc.leases() + snap.v2_nodes(),
        total_size: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_machine::StateMachine;
    use crate::storage::SledBackend;

    /// The state of a new member (the integration tests snapshot real data).
    fn sample() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let sm = StateMachine::open(std::sync::Arc::new(SledBackend::temporary()?))?;
        Ok(encode(&sm.snapshot()?)?)
    }

    #[test]
    fn round_trip_and_integrity() -> Result<(), Box<dyn std::error::Error>> {
        let bytes = sample()?;
        assert!((bytes.len() - TRAILER).is_multiple_of(ALIGN), "etcd's trailer rule holds");
        let st = status(&bytes)?;
        assert_eq!((st.total_size, st.revision, st.total_keys), (bytes.len(), 1, 0));
        let mut altered = bytes.clone();
        altered[MAGIC.len() + 1] ^= 1;
        let mut altered_trailer = bytes.clone();
        if let Some(last) = altered_trailer.last_mut() {
            *last ^= 1;
        }
        assert_eq!(decode(&altered_trailer, true).err(), Some(SnapshotFileError::Integrity));
        assert!(decode(&altered_trailer, false).is_ok(), "--skip-hash-check ignores the trailer");
        assert_eq!(decode(&altered, true).err(), Some(SnapshotFileError::Integrity));
        assert_eq!(decode(&bytes[..bytes.len() - 1], true).err(), Some(SnapshotFileError::Integrity));
        assert_eq!(decode(b"\x00\x00bolt", true).err(), Some(SnapshotFileError::Foreign));
        Ok(())
    }
}
