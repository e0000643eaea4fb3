//! The snapshot file `Maintenance.Snapshot` streams and `etcdctl-rs snapshot status|restore`
//! read: etcd 3.4's format, a bbolt database in etcd's bucket layout (see
//! [`etcd_layout`]) followed by the SHA-256 of the database. Real etcdctl's `snapshot
//! status` and `snapshot restore` accept it, and a real etcd serves the restored data;
//! etcd-rs restores from etcd's own snapshot files too (keys, leases, revisions).

mod bolt;
mod bolt_read;
mod bolt_write;
mod etcd_layout;

use sha2::{Digest, Sha256};

use crate::state_machine::StateSnapshot;
use bolt_read::{BoltError, Database};

/// etcd pads its database to pages; a file whose size is 32 past a multiple of this
/// has a SHA-256 trailer (etcd's restore rule).
const ALIGN: usize = 512;
const TRAILER: usize = 32;

/// Why a file is not a usable snapshot.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotFileError {
    /// Not a bbolt database at all.
    #[error("invalid database (not an etcd snapshot file)")]
    Foreign,
    /// Truncated or altered: the SHA-256 trailer is missing or does not match.
    #[error("snapshot file integrity check failed")]
    Integrity,
    /// The database or its content does not decode.
    #[error("snapshot file is corrupt: {0}")]
    Corrupt(String),
}

impl From<BoltError> for SnapshotFileError {
    fn from(e: BoltError) -> Self {
        match e {
            BoltError::NotBolt => SnapshotFileError::Foreign,
            BoltError::Corrupt(reason) => SnapshotFileError::Corrupt(reason),
        }
    }
}

/// Summary for `snapshot status`, computed as etcdctl 3.4 computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// CRC-32 (Castagnoli) over every bucket's name, keys and values in bbolt order.
    pub hash: u32,
    /// The main revision of the last key in the `key` bucket (0 if it is empty).
    pub revision: i64,
    /// Keys in all buckets.
    pub total_keys: usize,
    /// The database's size in bytes (bbolt's `tx.Size()`, without the trailer).
    pub total_size: usize,
}

/// How [`open`] treats the SHA-256 trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrailerCheck {
    /// Ignore it (etcdctl's `--skip-hash-check`).
    Skip,
    /// Compare it when there is one (status: a database copied from a data dir has none).
    IfPresent,
    /// Require it and compare it (restore).
    Required,
}

/// Encodes `snap` as a snapshot file.
pub fn encode(snap: &StateSnapshot) -> Result<Vec<u8>, SnapshotFileError> {
    let mut out = bolt_write::write(&etcd_layout::to_buckets(snap)?);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Checks the trailer as `check` says and reads the database.
fn open(bytes: &[u8], check: TrailerCheck) -> Result<Database, SnapshotFileError> {
    if !bolt_read::is_bolt(bytes) {
        return Err(SnapshotFileError::Foreign);
    }
    let has_trailer = bytes.len() % ALIGN == TRAILER;
    let db = if has_trailer { &bytes[..bytes.len() - TRAILER] } else { bytes };
    match check {
        TrailerCheck::Required if !has_trailer => return Err(SnapshotFileError::Integrity),
        TrailerCheck::Required | TrailerCheck::IfPresent
            if has_trailer && Sha256::digest(db).as_slice() != &bytes[db.len()..] =>
        {
            return Err(SnapshotFileError::Integrity);
        }
        _ => {}
    }
    Ok(bolt_read::read(db)?)
}

/// Checks and decodes a snapshot file; `verify: false` skips the SHA-256 comparison
/// (etcdctl's `--skip-hash-check`), not the database's own checks.
pub fn decode(bytes: &[u8], verify: bool) -> Result<StateSnapshot, SnapshotFileError> {
    let check = if verify { TrailerCheck::Required } else { TrailerCheck::Skip };
    etcd_layout::from_buckets(&open(bytes, check)?.buckets)
}

/// Checks a snapshot file and summarises it as `etcdctl snapshot status` does.
pub fn status(bytes: &[u8]) -> Result<SnapshotStatus, SnapshotFileError> {
    let db = open(bytes, TrailerCheck::IfPresent)?;
    let mut crc = Crc32c::default();
    let mut revision = 0;
    let mut total_keys = 0;
    for (name, entries) in &db.buckets {
        crc.update(name);
        let is_key = name.as_slice() == etcd_layout::KEY_BUCKET;
        for (k, v) in entries {
            crc.update(k);
            crc.update(v);
            if is_key {
                revision = etcd_layout::main_revision(k).unwrap_or(0);
            }
        }
        total_keys += entries.len();
    }
    let total_size = usize::try_from(db.size).map_err(|_| SnapshotFileError::Corrupt("database too large".into()))?;
    Ok(SnapshotStatus { hash: crc.finish(), revision, total_keys, total_size })
}

/// CRC-32 with the Castagnoli polynomial (Go's `crc32.MakeTable(crc32.Castagnoli)`).
struct Crc32c(u32);

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c(!0)
    }
}

/// The reflected Castagnoli polynomial's byte table.
const CASTAGNOLI: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32c {
    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = CASTAGNOLI[((self.0 ^ u32::from(*b)) & 0xFF) as usize] ^ (self.0 >> 8);
        }
    }

    fn finish(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::mvcc::{KeyValue, MvccSnapshot, Record, Revision};
    use crate::state_machine::Published;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn record(main: i64, sub: i64, key: &str, value: &str, tombstone: bool) -> (Vec<u8>, Vec<u8>) {
        let kv = if tombstone {
            KeyValue { key: key.into(), mod_revision: main, ..Default::default() }
        } else {
            KeyValue {
                key: key.into(),
                create_revision: 2,
                mod_revision: main,
                version: main - 1,
                value: value.into(),
                lease: if key == "leased" { 7 } else { 0 },
            }
        };
        (Revision::new(main, sub).to_bytes().to_vec(), Record { kv, tombstone }.encode())
    }

    /// Puts, a tombstone, a lease, a compaction, a published member; current revision
    /// past the last record (the compaction removed a later tombstone's history).
    fn sample() -> StateSnapshot {
        let records = vec![
            record(2, 0, "a", "1", false),
            record(3, 0, "a", "2", false),
            record(3, 1, "leased", "x", false),
            record(4, 0, "a", "", true),
            record(5, 0, "b", &"v".repeat(9000), false),
        ];
        let published = BTreeMap::from([(9, Published { name: "m9".into(), client_urls: vec!["http://x".into()] })]);
        StateSnapshot {
            mvcc: MvccSnapshot { records, current: 6, compacted: 3, leases: vec![(7, 600)] },
            published,
            v2: Vec::new(),
            v2_history: None,
            removed: Default::default(),
            alarms: Default::default(),
            consistent_index: 42,
        }
    }

    #[test]
    fn crc32c_matches_the_castagnoli_check_value() {
        let mut c = Crc32c::default();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xE306_9283);
    }

    #[test]
    fn state_round_trips_through_the_etcd_layout() -> TestResult {
        let snap = sample();
        let bytes = encode(&snap)?;
        assert_eq!(bytes.len() % ALIGN, TRAILER, "etcd's trailer rule holds");
        let back = decode(&bytes, true)?;
        assert_eq!(back.mvcc.records, snap.mvcc.records);
        assert_eq!(back.mvcc.leases, snap.mvcc.leases);
        assert_eq!((back.mvcc.current, back.mvcc.compacted), (6, 3));
        assert_eq!(back.published, snap.published);
        assert_eq!(back.consistent_index, 42);
        Ok(())
    }

    #[test]
    fn status_summarises_as_etcdctl_does() -> TestResult {
        let bytes = encode(&sample())?;
        let st = status(&bytes)?;
        // 5 records, 1 lease, 3 meta keys, 1 of ours.
        assert_eq!((st.revision, st.total_keys, st.total_size), (5, 10, bytes.len() - TRAILER));
        let db = bolt_read::read(&bytes[..bytes.len() - TRAILER])?;
        let names: Vec<&[u8]> = db.buckets.iter().map(|(n, _)| n.as_slice()).collect();
        assert_eq!(names, [&b"etcd-rs"[..], b"key", b"lease", b"meta"]);
        let mut crc = Crc32c::default();
        for (name, entries) in &db.buckets {
            crc.update(name);
            entries.iter().for_each(|(k, v)| {
                crc.update(k);
                crc.update(v);
            });
        }
        assert_eq!(st.hash, crc.finish());
        Ok(())
    }

    #[test]
    fn integrity_checks() -> TestResult {
        let bytes = encode(&sample())?;
        let mut altered = bytes.clone();
        altered[3 * bolt::PAGE_SIZE + 100] ^= 1;
        let mut altered_trailer = bytes.clone();
        if let Some(last) = altered_trailer.last_mut() {
            *last ^= 1;
        }
        assert_eq!(decode(&altered_trailer, true).err(), Some(SnapshotFileError::Integrity));
        assert!(decode(&altered_trailer, false).is_ok(), "--skip-hash-check ignores the trailer");
        assert_eq!(decode(&altered, true).err(), Some(SnapshotFileError::Integrity));
        assert_eq!(decode(&bytes[..bytes.len() - 1], true).err(), Some(SnapshotFileError::Integrity));
        assert_eq!(decode(b"\x00\x00bolt", true).err(), Some(SnapshotFileError::Foreign));
        // A database copied from a data dir: no trailer.
        let bare = &bytes[..bytes.len() - TRAILER];
        assert_eq!(decode(bare, true).err(), Some(SnapshotFileError::Integrity));
        assert!(decode(bare, false).is_ok());
        assert_eq!(status(bare)?, status(&bytes)?);
        Ok(())
    }

    #[test]
    fn etcd_files_decode_as_etcd_restores_them() -> TestResult {
        let kv = |key: &str, create, modr, version| {
            prost::Message::encode_to_vec(&etcd_proto::mvccpb::KeyValue {
                key: key.into(),
                create_revision: create,
                mod_revision: modr,
                version,
                value: b"v".to_vec(),
                lease: 0,
            })
        };
        let rev = |main: i64, sub: i64, t: bool| {
            let mut k = main.to_be_bytes().to_vec();
            k.push(b'_');
            k.extend_from_slice(&sub.to_be_bytes());
            if t {
                k.push(b't');
            }
            k
        };
        let tomb =
            prost::Message::encode_to_vec(&etcd_proto::mvccpb::KeyValue { key: b"x".to_vec(), ..Default::default() });
        let buckets = vec![
            (b"alarm".to_vec(), Vec::new()),
            (b"key".to_vec(), vec![(rev(2, 0, false), kv("x", 2, 2, 1)), (rev(3, 0, true), tomb)]),
            (b"lease".to_vec(), vec![(5i64.to_be_bytes().to_vec(), vec![0x08, 5, 0x10, 60])]),
            (
                b"meta".to_vec(),
                vec![
                    (b"consistent_index".to_vec(), 9u64.to_be_bytes().to_vec()),
                    (b"finishedCompactRev".to_vec(), rev(4, 0, false)),
                ],
            ),
        ];
        let snap = decode(&bolt_write::write(&buckets), false)?;
        assert_eq!((snap.mvcc.current, snap.mvcc.compacted, snap.consistent_index), (4, 4, 9));
        assert_eq!(snap.mvcc.leases, vec![(5, 60)]);
        let tombstone = Record::decode(&snap.mvcc.records[1].1)?;
        assert!(tombstone.tombstone);
        assert_eq!((tombstone.kv.key, tombstone.kv.mod_revision), (b"x".to_vec(), 3));
        Ok(())
    }
}
