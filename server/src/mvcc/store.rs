//! The MVCC key space: an in-memory index of key histories over revision-keyed records
//! in the backend (etcd's treeIndex + `key` bucket).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::discarded::Discarded;
use super::key_history::KeyHistory;
use super::lease::Leases;
use super::op_counts::{OpCounts, Tally};
use super::range_query;
use super::write::WriteTxn;
use super::{KeyRange, KeyValue, RangeRequest, RangeResponse, Record, Revision};
use crate::error::{Error, Result};
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// The store's revision counters. The owner persists them with its own progress marker,
/// written after the records of a change, so after a crash they never run ahead of the
/// records and records ahead of them are recognised as an unfinished change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revisions {
    /// The current revision.
    pub current: i64,
    /// The compacted revision, or -1.
    pub compacted: i64,
}

impl Default for Revisions {
    /// A fresh store: revision 1 (as etcd reports), never compacted (etcd's -1).
    fn default() -> Self {
        Self { current: 1, compacted: -1 }
    }
}

/// Multi-version key-value state. Reads take `&self`; writes go through [`MvccStore::write`].
pub struct MvccStore<B> {
    pub(super) backend: Arc<B>,
    pub(super) index: BTreeMap<Vec<u8>, KeyHistory>,
    pub(super) current: i64,
    pub(super) compacted: i64,
    pub(super) leases: Leases,
    /// Records compactions dropped from the index, until they are swept from the backend.
    pub(super) discarded: Discarded,
    /// Calls counted for `etcd_mvcc_*_total`.
    pub(super) counts: Arc<OpCounts>,
}

impl<B: Backend> MvccStore<B> {
    /// Loads the store at `revs` from `backend`, rebuilding the index from the stored
    /// records. Records above `revs.current` belong to a change that a crash interrupted;
    /// they are removed, and the change will be applied again. Records compactions
    /// discarded but a sweep had not removed yet are found again (see [`Discarded`]).
    pub fn open(backend: Arc<B>, revs: Revisions) -> Result<Self> {
        let mut index: BTreeMap<Vec<u8>, KeyHistory> = BTreeMap::new();
        let mut leases = Leases::load(&*backend)?;
        let mut unfinished = WriteBatch::default();
        backend.scan(Tree::Kv, .., &mut |k, v| {
            let rev = Revision::from_bytes(k).ok_or_else(|| corrupt("bad revision key"))?;
            if rev.main > revs.current {
                unfinished.delete(Tree::Kv, k.to_vec());
                return Ok(true);
            }
            let rec = Record::decode(v).map_err(corrupt)?;
            leases.track(&rec);
            let (created, version) = (rec.kv.create_revision, rec.kv.version);
            index.entry(rec.kv.key).or_default().push(rev, rec.tombstone, created, version);
            Ok(true)
        })?;
        if !unfinished.is_empty() {
            backend.write(unfinished)?;
        }
        let mut store = Self {
            backend,
            index,
            current: revs.current,
            compacted: -1,
            leases,
            discarded: Discarded::default(),
            counts: Arc::default(),
        };
        store.compact_index(revs.compacted);
        Ok(store)
    }

    /// Drops history below `at` from the index, keeping whatever is visible at `at`, and
    /// notes the records it no longer refers to for the sweep.
    pub(super) fn compact_index(&mut self, at: i64) {
        let (mut dropped, mut emptied) = (Vec::new(), Vec::new());
        for (key, hist) in self.index.iter_mut() {
            dropped.extend(hist.compact(at));
            if hist.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in emptied {
            self.index.remove(&key);
        }
        self.discarded.add(dropped);
        self.compacted = at;
    }

    /// Whether records that compactions discarded are still stored.
    pub fn has_discarded(&self) -> bool {
        !self.discarded.is_empty()
    }

    /// The first `max` records compactions discarded that are still stored.
    pub fn discarded(&self, max: usize) -> Vec<Revision> {
        self.discarded.first(max)
    }

    /// The records compactions discarded that are still stored, as they are now: what an
    /// export skips as it reads records.
    pub fn discarded_view(&self) -> Discarded {
        self.discarded.clone()
    }

    /// Notes that discarded records are removed from the backend now.
    pub fn discarded_removed(&mut self, revs: &[Revision]) {
        self.discarded.removed(revs);
    }

    /// The latest revision at or below the compacted one with no discarded record left at
    /// or below it (a physical compaction at or below it is done).
    pub fn physically_compacted(&self) -> i64 {
        self.discarded.physically_compacted(self.compacted)
    }

    /// The revision counters, for the owner to persist.
    pub fn revisions(&self) -> Revisions {
        Revisions { current: self.current, compacted: self.compacted }
    }

    /// The latest revision.
    pub fn current_revision(&self) -> i64 {
        self.current
    }

    /// The revision history was compacted at, or -1.
    pub fn compacted_revision(&self) -> i64 {
        self.compacted
    }

    /// Number of live keys.
    pub fn key_count(&self) -> usize {
        self.index.values().filter(|h| h.last().is_some_and(|c| !c.tombstone)).count()
    }

    /// The backend the store writes to.
    pub fn backend(&self) -> &Arc<B> {
        &self.backend
    }

    /// Serves a range at the current revision.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        self.counts.add(Tally { ranges: 1, ..Tally::default() });
        range_query::run(self, req, self.current, &[])
    }

    /// The calls this store has served, for `etcd_mvcc_*_total`.
    pub fn op_counts(&self) -> &Arc<OpCounts> {
        &self.counts
    }

    /// Goes on counting where `counts` left off (a store replaced by a snapshot).
    pub fn adopt_op_counts(&mut self, counts: Arc<OpCounts>) {
        self.counts = counts;
    }

    /// Starts a change; its writes are queued into `batch`, which the caller writes to the
    /// backend (with whatever else must land atomically) after [`WriteTxn::end`].
    pub fn write<'a>(&'a mut self, batch: &'a mut WriteBatch) -> WriteTxn<'a, B> {
        WriteTxn::new(self, batch)
    }

    /// The revision visible for `key` at `at`, if the key was live then.
    pub(super) fn visible(&self, key: &[u8], at: i64) -> Option<Revision> {
        self.index.get(key)?.visible_at(at)
    }

    /// Keys in `range` live at `at`, with the revision holding each one's value.
    pub(super) fn live_in(&self, range: &KeyRange, at: i64) -> Vec<(Vec<u8>, Revision)> {
        self.live_from(range, at).map(|(k, r)| (k.clone(), r)).collect()
    }

    /// Keys in `range` live at `at`, lazily, in key order.
    pub(super) fn live_from<'a>(
        &'a self,
        range: &KeyRange,
        at: i64,
    ) -> Box<dyn Iterator<Item = (&'a Vec<u8>, Revision)> + 'a> {
        match range.bounds() {
            Some(bounds) => {
                Box::new(self.index.range(bounds).filter_map(move |(k, h)| h.visible_at(at).map(|r| (k, r))))
            }
            None => Box::new(std::iter::empty()),
        }
    }

    /// Reads the record at `rev`, looking at `pending` (this change's own writes) first.
    pub(super) fn record(&self, rev: Revision, pending: &[(Revision, Record)]) -> Result<KeyValue> {
        if let Some((_, r)) = pending.iter().find(|(p, _)| *p == rev) {
            return Ok(r.kv.clone());
        }
        let bytes = self
            .backend
            .get(Tree::Kv, &rev.to_bytes())?
            .ok_or_else(|| corrupt(format!("index names revision {rev:?}, which is not stored")))?;
        Ok(Record::decode(&bytes).map_err(corrupt)?.kv)
    }

    /// Checks that a read at `rev` (≤ 0 = `current`) is still possible.
    pub(super) fn check_read_revision(&self, rev: i64, current: i64) -> Result<i64> {
        if rev <= 0 {
            return Ok(current);
        }
        if rev > current {
            return Err(Error::FutureRevision);
        }
        if rev < self.compacted {
            return Err(Error::Compacted);
        }
        Ok(rev)
    }
}

fn corrupt(reason: impl Into<String>) -> StorageError {
    StorageError::Corrupt { tree: Tree::Kv.name(), reason: reason.into() }
}

/// The MVCC state as a snapshot carries it: every stored record and the revisions.
/// `R` holds the records: in memory (decoded, or read by [`MvccSnapshot::read_records`]),
/// or a [`RecordScan`] that reads them from the store while the snapshot is encoded.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MvccSnapshot<R = Vec<(Vec<u8>, Vec<u8>)>> {
    /// Every stored record: revision bytes and [`Record::encode`], in revision order.
    pub(crate) records: R,
    /// The current revision.
    pub(crate) current: i64,
    /// The compacted revision, or -1.
    pub(crate) compacted: i64,
    /// Granted leases: id and TTL.
    pub(crate) leases: Vec<(i64, i64)>,
}

impl MvccSnapshot {
    /// Reads every stored record up to the snapshot's revision but the `discarded` ones
    /// (as they were when the snapshot was taken). Records at or below it never change
    /// once written; only the compaction sweep or a snapshot install removes any, so
    /// neither may run until this returns (the caller's job).
    pub fn read_records<B: Backend>(&mut self, backend: &B, discarded: &Discarded) -> Result<()> {
        let end = Revision::new(self.current + 1, 0).to_bytes().to_vec();
        let records = &mut self.records;
        records.clear();
        backend.scan(Tree::Kv, ..end, &mut |k, v| {
            if !discarded.contains_key(k) {
                records.push((k.to_vec(), v.to_vec()));
            }
            Ok(true)
        })?;
        Ok(())
    }

    /// The same snapshot, its `count` records (see [`MvccStore::record_count`]) to be read
    /// from `backend` as it is encoded: a snapshot of a large store is never in memory
    /// twice (records, then their encoding). The records must not change until it is
    /// encoded (see [`MvccSnapshot::read_records`]).
    pub fn scanning<B: Backend>(
        self,
        backend: &B,
        count: usize,
        discarded: Discarded,
    ) -> MvccSnapshot<RecordScan<'_, B>> {
        let end = Revision::new(self.current + 1, 0).to_bytes().to_vec();
        let records = RecordScan { backend, end, count, discarded };
        MvccSnapshot { records, current: self.current, compacted: self.compacted, leases: self.leases }
    }
}

impl<R> MvccSnapshot<R> {
    /// The current revision the snapshot was taken at.
    pub fn current(&self) -> i64 {
        self.current
    }

    /// Its compacted revision.
    pub fn compacted(&self) -> i64 {
        self.compacted
    }
}

/// The stored records below a revision, serialized as they are read from the store, in
/// the layout of the `Vec` they decode into.
pub struct RecordScan<'a, B> {
    backend: &'a B,
    end: Vec<u8>,
    /// How many records there are, known from the index: the encoding starts with it,
    /// and counting them in the store would read every record twice.
    count: usize,
    /// Stored records the index no longer names, skipped.
    discarded: Discarded,
}

impl<B: Backend> serde::Serialize for RecordScan<'_, B> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.count))?;
        let (mut seen, mut failed) = (0, None);
        self.backend
            .scan(Tree::Kv, ..self.end.clone(), &mut |k, v| {
                if self.discarded.contains_key(k) {
                    return Ok(true);
                }
                seen += 1;
                if seen > self.count {
                    return Ok(false);
                }
                // Slices encode as the `Vec<u8>`s they decode into.
                seq.serialize_element(&(k, v)).map(|()| true).or_else(|e| {
                    failed = Some(e);
                    Ok(false)
                })
            })
            .map_err(S::Error::custom)?;
        if let Some(e) = failed {
            return Err(e);
        }
        if seen != self.count {
            return Err(S::Error::custom("the records changed while a snapshot was encoded"));
        }
        seq.end()
    }
}

impl<B: Backend> MvccStore<B> {
    /// How many records the index retains: the stored ones but the discarded.
    pub fn record_count(&self) -> usize {
        self.index.values().map(KeyHistory::len).sum()
    }

    /// Copies out the revisions and leases; [`MvccSnapshot::read_records`] adds the
    /// records later, without holding up writers.
    pub fn export(&self) -> MvccSnapshot {
        let leases = self.leases.all().collect();
        MvccSnapshot { records: Vec::new(), current: self.current, compacted: self.compacted, leases }
    }

    /// Replaces the stored records with `snap`'s (plus whatever `batch` already holds, in
    /// the same atomic write) and loads them at `snap`'s revisions.
    pub fn import(backend: Arc<B>, snap: MvccSnapshot, mut batch: WriteBatch) -> Result<Self> {
        backend.scan(Tree::Kv, .., &mut |k, _| {
            batch.delete(Tree::Kv, k.to_vec());
            Ok(true)
        })?;
        for (k, v) in snap.records {
            batch.put(Tree::Kv, k, v);
        }
        Leases::replace(&*backend, &snap.leases, &mut batch)?;
        backend.write(batch)?;
        Self::open(backend, Revisions { current: snap.current, compacted: snap.compacted })
    }
}

impl<B: Backend> MvccStore<B> {
    /// A CRC-32 over every record kept up to `revision` (0 = current), and the compacted
    /// revision: members that applied the same log agree on it, however far their sweeps
    /// got.
    ///
    /// As etcd's `HashByRev`, the compaction revision itself is refused too: its view may
    /// have lost the deletions at it.
    pub fn hash_kv(&self, revision: i64) -> Result<(u32, i64)> {
        if revision > 0 && revision <= self.compacted {
            return Err(Error::Compacted);
        }
        if revision > self.current {
            return Err(Error::FutureRevision);
        }
        let at = if revision <= 0 { self.current } else { revision };
        let end = Revision::new(at + 1, 0).to_bytes().to_vec();
        Ok((self.crc(..end)?, self.compacted))
    }

    /// A hash of every record kept, whatever its revision (etcd's `Hash`: of the stored
    /// data rather than of a revision's view; equal on members that applied alike).
    /// Discarded records still stored are not kept: sweeps run at each member's pace.
    pub fn hash(&self) -> Result<u32> {
        self.crc(..)
    }

    fn crc(&self, range: impl std::ops::RangeBounds<Vec<u8>>) -> Result<u32> {
        let mut h = crc32fast::Hasher::new();
        self.backend.scan(Tree::Kv, range, &mut |k, v| {
            if self.is_discarded(k) {
                return Ok(true);
            }
            h.update(k);
            h.update(v);
            Ok(true)
        })?;
        Ok(h.finalize())
    }
}

impl<B> MvccStore<B> {
    /// Whether the record stored under `key` was discarded by a compaction.
    pub(super) fn is_discarded(&self, key: &[u8]) -> bool {
        self.discarded.contains_key(key)
    }
}
