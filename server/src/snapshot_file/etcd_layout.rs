//! etcd 3.4's buckets for the replicated state (mvcc/kvstore.go, mvcc/revision.go,
//! lease/lessor.go), and back:
//!
//! - `key`: each stored revision, keyed by 8-byte big-endian main revision, `_`, 8-byte
//!   big-endian sub revision, plus `t` for a tombstone; the value is an `mvccpb.KeyValue`.
//! - `lease`: `leasepb.Lease{ID, TTL}` keyed by the 8-byte big-endian id.
//! - `meta`: `consistent_index` (8 bytes big-endian), and once compacted
//!   `scheduledCompactRev`/`finishedCompactRev` (revision bytes of the compaction).
//! - `etcd-rs`: what etcd has no bucket for (the exact current and compacted revisions,
//!   v2 nodes, published members, alarms); etcd carries unknown buckets along untouched.

use std::borrow::Cow;
use std::collections::BTreeMap;

use etcd_proto::mvccpb;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::SnapshotFileError;
use super::bolt_write::Entries;
use crate::alarm::Alarms;
use crate::mvcc::{KeyValue, MvccSnapshot, Record, Revision};
use crate::state_machine::{Published, StateSnapshot};
use crate::v2store::Record as V2Record;

/// etcd's key bucket.
pub(super) const KEY_BUCKET: &[u8] = b"key";
const LEASE_BUCKET: &[u8] = b"lease";
const META_BUCKET: &[u8] = b"meta";
/// Ours: the rest of the state.
const OURS_BUCKET: &[u8] = b"etcd-rs";
const OURS_KEY: &[u8] = b"state";
const CONSISTENT_INDEX: &[u8] = b"consistent_index";
const SCHEDULED_COMPACT: &[u8] = b"scheduledCompactRev";
const FINISHED_COMPACT: &[u8] = b"finishedCompactRev";
/// etcd's revision bytes: main, `_`, sub.
const REV_BYTES: usize = 17;
const TOMBSTONE: u8 = b't';

/// etcd's `leasepb.Lease`.
#[derive(Clone, PartialEq, prost::Message)]
struct Lease {
    #[prost(int64, tag = "1")]
    id: i64,
    #[prost(int64, tag = "2")]
    ttl: i64,
    #[prost(int64, tag = "3")]
    remaining_ttl: i64,
}

/// The `etcd-rs` bucket's value.
#[derive(Serialize, Deserialize)]
struct Ours<'a> {
    current: i64,
    compacted: i64,
    published: Cow<'a, BTreeMap<u64, Published>>,
    v2: Cow<'a, [(String, V2Record)]>,
    alarms: Cow<'a, Alarms>,
}

fn corrupt(what: impl std::fmt::Display) -> SnapshotFileError {
    SnapshotFileError::Corrupt(what.to_string())
}

/// etcd's key of a revision (`revToBytes`, plus the tombstone mark).
fn etcd_key(rev: Revision, tombstone: bool) -> Vec<u8> {
    let mut k = Vec::with_capacity(REV_BYTES + 1);
    k.extend_from_slice(&rev.main.to_be_bytes());
    k.push(b'_');
    k.extend_from_slice(&rev.sub.to_be_bytes());
    if tombstone {
        k.push(TOMBSTONE);
    }
    k
}

/// The main revision of an etcd revision key (`bytesToRev(k).main`), as etcdctl's
/// status reads it; `None` if shorter than 8 bytes.
pub(super) fn main_revision(k: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(k.get(..8)?.try_into().ok()?))
}

/// Decodes an etcd revision key: the revision and whether it is a tombstone.
fn parse_etcd_key(k: &[u8]) -> Option<(Revision, bool)> {
    let sub = i64::from_be_bytes(k.get(9..REV_BYTES)?.try_into().ok()?);
    let tombstone = match k.len() {
        REV_BYTES => false,
        18 if k[REV_BYTES] == TOMBSTONE => true,
        _ => return None,
    };
    Some((Revision::new(main_revision(k)?, sub), tombstone))
}

/// The buckets of `snap`, in bbolt order.
pub(super) fn to_buckets(snap: &StateSnapshot) -> Result<Vec<(Vec<u8>, Entries)>, SnapshotFileError> {
    let mvcc = &snap.mvcc;
    let mut keys = Vec::with_capacity(mvcc.records.len());
    for (k, v) in &mvcc.records {
        let rev = Revision::from_bytes(k).ok_or_else(|| corrupt("a record has a bad revision key"))?;
        let rec = Record::decode(v).map_err(corrupt)?;
        // etcd stores each revision as the protobuf KeyValue its API answers with.
        keys.push((etcd_key(rev, rec.tombstone), crate::api::convert::key_value(rec.kv).encode_to_vec()));
    }
    let mut leases: Entries = mvcc
        .leases
        .iter()
        .map(|&(id, ttl)| (id.to_be_bytes().to_vec(), Lease { id, ttl, remaining_ttl: 0 }.encode_to_vec()))
        .collect();
    leases.sort();
    let mut meta = BTreeMap::new();
    meta.insert(CONSISTENT_INDEX.to_vec(), snap.consistent_index.to_be_bytes().to_vec());
    if mvcc.compacted > 0 {
        let at = etcd_key(Revision::new(mvcc.compacted, 0), false);
        meta.insert(SCHEDULED_COMPACT.to_vec(), at.clone());
        meta.insert(FINISHED_COMPACT.to_vec(), at);
    }
    let ours = Ours {
        current: mvcc.current,
        compacted: mvcc.compacted,
        published: Cow::Borrowed(&snap.published),
        v2: Cow::Borrowed(&snap.v2),
        alarms: Cow::Borrowed(&snap.alarms),
    };
    let ours = bincode::serde::encode_to_vec(&ours, bincode::config::standard()).map_err(corrupt)?;
    let mut buckets = BTreeMap::new();
    buckets.insert(KEY_BUCKET.to_vec(), keys);
    buckets.insert(LEASE_BUCKET.to_vec(), leases);
    buckets.insert(META_BUCKET.to_vec(), meta.into_iter().collect());
    buckets.insert(OURS_BUCKET.to_vec(), vec![(OURS_KEY.to_vec(), ours)]);
    Ok(buckets.into_iter().collect())
}

fn bucket<'a>(buckets: &'a [(Vec<u8>, Entries)], name: &[u8]) -> &'a [(Vec<u8>, Vec<u8>)] {
    buckets.iter().find(|(n, _)| n == name).map_or(&[], |(_, e)| e.as_slice())
}

fn meta_value<'a>(buckets: &'a [(Vec<u8>, Entries)], key: &[u8]) -> Option<&'a [u8]> {
    bucket(buckets, META_BUCKET).iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
}

/// The state held by `buckets`: written by [`to_buckets`], or by etcd (whose files carry
/// keys, leases and revisions; v2 nodes, published members and alarms are left empty).
pub(super) fn from_buckets(buckets: &[(Vec<u8>, Entries)]) -> Result<StateSnapshot, SnapshotFileError> {
    let mut records = Vec::new();
    let mut last = 1;
    for (k, v) in bucket(buckets, KEY_BUCKET) {
        let (rev, tombstone) = parse_etcd_key(k).ok_or_else(|| corrupt("bad revision key in bucket \"key\""))?;
        let pb = mvccpb::KeyValue::decode(v.as_slice()).map_err(corrupt)?;
        // etcd's tombstones carry only the key; ours also the deleting revision.
        let mod_revision = if tombstone && pb.mod_revision == 0 { rev.main } else { pb.mod_revision };
        let kv = KeyValue {
            key: pb.key,
            create_revision: pb.create_revision,
            mod_revision,
            version: pb.version,
            value: pb.value,
            lease: pb.lease,
        };
        records.push((rev.to_bytes().to_vec(), Record { kv, tombstone }.encode()));
        last = last.max(rev.main);
    }
    let mut leases = Vec::new();
    for (_, v) in bucket(buckets, LEASE_BUCKET) {
        let l = Lease::decode(v.as_slice()).map_err(corrupt)?;
        leases.push((l.id, l.ttl));
    }
    let consistent_index = match meta_value(buckets, CONSISTENT_INDEX) {
        Some(v) => u64::from_be_bytes(v.try_into().map_err(|_| corrupt("bad consistent_index"))?),
        None => 0,
    };
    let finished = meta_value(buckets, FINISHED_COMPACT).and_then(main_revision);
    let (current, compacted, published, v2, alarms) = match bucket(buckets, OURS_BUCKET).first() {
        Some((_, v)) => {
            let (ours, _): (Ours<'_>, _) =
                bincode::serde::decode_from_slice(v, bincode::config::standard()).map_err(corrupt)?;
            let (p, v, a) = (ours.published.into_owned(), ours.v2.into_owned(), ours.alarms.into_owned());
            (ours.current.max(last), ours.compacted, p, v, a)
        }
        // As etcd's store restores: the last revision, or the compaction if later.
        None => {
            let compacted = finished.unwrap_or(-1);
            (last.max(compacted), compacted, BTreeMap::new(), Vec::new(), Alarms::default())
        }
    };
    Ok(StateSnapshot {
        mvcc: MvccSnapshot { records, current, compacted, leases },
        published,
        v2,
        v2_history: None,
        removed: Default::default(),
        alarms,
        consistent_index,
    })
}
