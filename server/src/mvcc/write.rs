//! One change to the store: every write shares the next revision, with a sub revision
//! each, and reads inside the change see its earlier writes.

use std::cell::Cell;

use super::compare;
use super::op_counts::Tally;
use super::range_query;
use super::store::MvccStore;
use super::{
    CompactRequest, CompactResponse, DeleteRangeRequest, DeleteRangeResponse, KeyRange, KeyValue, PutRequest,
    PutResponse, RangeRequest, RangeResponse, Record, RequestOp, ResponseOp, Revision, TxnRequest, TxnResponse,
};
use crate::error::{Error, Result};
use crate::storage::{Backend, Tree, WriteBatch};

/// A change in progress. Dropping it without [`WriteTxn::end`] leaves the index updated
/// but the batch unwritten, so callers always end it.
pub struct WriteTxn<'a, B> {
    store: &'a mut MvccStore<B>,
    batch: &'a mut WriteBatch,
    begin: i64,
    pending: Vec<(Revision, Record)>,
    /// The calls made, counted when the change ends.
    tally: Cell<Tally>,
}

impl<'a, B: Backend> WriteTxn<'a, B> {
    pub(super) fn new(store: &'a mut MvccStore<B>, batch: &'a mut WriteBatch) -> Self {
        let begin = store.current;
        Self { store, batch, begin, pending: Vec::new(), tally: Cell::default() }
    }

    /// The revision reads see now: one past `begin` once this change wrote anything.
    fn now(&self) -> i64 {
        if self.pending.is_empty() { self.begin } else { self.begin + 1 }
    }

    fn latest(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.store.visible(key, self.now()) {
            Some(rev) => self.store.record(rev, &self.pending).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn store(&self) -> &MvccStore<B> {
        self.store
    }

    pub(super) fn store_mut(&mut self) -> &mut MvccStore<B> {
        self.store
    }

    pub(super) fn batch_mut(&mut self) -> &mut WriteBatch {
        self.batch
    }

    fn record(&mut self, tombstone: bool, kv: KeyValue) {
        let rev = Revision::new(self.begin + 1, self.pending.len() as i64);
        let rec = Record { kv, tombstone };
        self.batch.put(Tree::Kv, rev.to_bytes(), rec.encode());
        self.store.leases.track(&rec);
        let (created, version) = (rec.kv.create_revision, rec.kv.version);
        self.store.index.entry(rec.kv.key.clone()).or_default().push(rev, tombstone, created, version);
        self.pending.push((rev, rec));
    }

    fn count(&self, f: impl FnOnce(&mut Tally)) {
        let mut t = self.tally.get();
        f(&mut t);
        self.tally.set(t);
    }

    /// Reads, seeing this change's own writes.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        self.count(|t| t.ranges += 1);
        range_query::run(self.store, req, self.now(), &self.pending)
    }

    /// Writes one key.
    pub fn put(&mut self, req: &PutRequest) -> Result<PutResponse> {
        self.check_put(req)?;
        // The replaced record is read only when its value or lease is needed.
        let prev = if req.prev_kv || req.ignore_value || req.ignore_lease {
            // etcd reads it with a range of the change.
            self.count(|t| t.ranges += 1);
            self.latest(&req.key)?
        } else {
            None
        };
        let rev = self.begin + 1;
        let (create_revision, version) = match self.store.index.get(&req.key).and_then(|h| h.live()) {
            Some((created, version)) => (created, version + 1),
            None => (rev, 1),
        };
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision,
            mod_revision: rev,
            version,
            value: match (&prev, req.ignore_value) {
                (Some(p), true) => p.value.clone(),
                _ => req.value.clone(),
            },
            lease: match (&prev, req.ignore_lease) {
                (Some(p), true) => p.lease,
                _ => req.lease,
            },
        };
        self.count(|t| {
            t.puts += 1;
            t.put_bytes += (kv.key.len() + kv.value.len()) as u64;
        });
        self.record(false, kv);
        Ok(PutResponse { revision: rev, prev_kv: prev.filter(|_| req.prev_kv) })
    }

    /// Deletes the live keys in a range.
    pub fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        self.count(|t| t.deletes += 1);
        let live = self.store.live_in(&KeyRange::new(&req.key, &req.range_end), self.now());
        let mut prev_kvs = Vec::new();
        if req.prev_kv {
            for (_, rev) in &live {
                prev_kvs.push(self.store.record(*rev, &self.pending)?);
            }
        }
        for (key, _) in &live {
            let kv = KeyValue { key: key.clone(), mod_revision: self.begin + 1, ..Default::default() };
            self.record(true, kv);
        }
        Ok(DeleteRangeResponse { revision: self.now(), deleted: live.len() as i64, prev_kvs })
    }

    /// Runs a txn. The branch is chosen, and every op on it checked, before anything is
    /// written, so a txn fails whole or applies whole.
    pub fn txn(&mut self, req: &TxnRequest) -> Result<TxnResponse> {
        let path = self.choose_path(req);
        if !reads_only(req) {
            // etcd reads a changing txn's compares in a read of their own, counted apart.
            self.store.counts.add(self.tally.take());
        }
        let path = path?;
        self.check_path(req, &path)?;
        let mut path = path.into_iter();
        self.run_txn(req, &mut path)
    }

    /// Evaluates the compares of `req` and its nested txns against the state before the
    /// txn, in the order they would run (etcd's `compareToPath`).
    fn choose_path(&self, req: &TxnRequest) -> Result<Vec<bool>> {
        let mut path = Vec::new();
        self.walk(req, &mut path)?;
        Ok(path)
    }

    fn walk(&self, req: &TxnRequest, path: &mut Vec<bool>) -> Result<()> {
        let ok = self.compares_hold(req)?;
        path.push(ok);
        for op in branch(req, ok) {
            if let RequestOp::Txn(inner) = op {
                self.walk(inner, path)?;
            }
        }
        Ok(())
    }

    fn compares_hold(&self, req: &TxnRequest) -> Result<bool> {
        for c in &req.compare {
            self.count(|t| t.ranges += 1);
            let range = KeyRange::new(&c.key, &c.range_end);
            let ok = if let KeyRange::Single(_) = range {
                compare::holds(c, self.latest(&c.key)?.as_ref())
            } else {
                let live = self.store.live_in(&range, self.now());
                // An empty range compares like a missing key.
                if live.is_empty() {
                    compare::holds(c, None)
                } else {
                    let mut all = true;
                    for (_, rev) in live {
                        all &= compare::holds(c, Some(&self.store.record(rev, &self.pending)?));
                    }
                    all
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn check_path(&self, req: &TxnRequest, path: &[bool]) -> Result<()> {
        let mut at = 0;
        self.check_branch(req, path, &mut at)
    }

    fn check_branch(&self, req: &TxnRequest, path: &[bool], at: &mut usize) -> Result<()> {
        let ok = path.get(*at).copied().unwrap_or(false);
        *at += 1;
        for op in branch(req, ok) {
            match op {
                RequestOp::Range(r) => {
                    self.store.check_read_revision(r.revision, self.begin)?;
                }
                RequestOp::Put(p) => self.check_put(p)?,
                RequestOp::Txn(inner) => self.check_branch(inner, path, at)?,
                RequestOp::DeleteRange(_) => {}
                RequestOp::Empty => return Err(Error::KeyNotFound),
            }
        }
        Ok(())
    }

    fn check_put(&self, req: &PutRequest) -> Result<()> {
        if req.lease != 0 && !self.store.leases.contains(req.lease) {
            return Err(Error::LeaseNotFound);
        }
        if (req.ignore_value || req.ignore_lease) && self.latest(&req.key)?.is_none() {
            return Err(Error::KeyNotFound);
        }
        Ok(())
    }

    fn run_txn(&mut self, req: &TxnRequest, path: &mut impl Iterator<Item = bool>) -> Result<TxnResponse> {
        let succeeded = path.next().unwrap_or(false);
        let mut responses = Vec::new();
        for op in branch(req, succeeded) {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.range(r)?),
                RequestOp::Put(p) => ResponseOp::Put(self.put(p)?),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.delete_range(d)?),
                RequestOp::Txn(inner) => ResponseOp::Txn(self.run_txn(inner, path)?),
                RequestOp::Empty => return Err(Error::KeyNotFound),
            });
        }
        Ok(TxnResponse { revision: self.now(), succeeded, responses })
    }

    /// Discards history below `req.revision`.
    pub fn compact(&mut self, req: &CompactRequest) -> Result<CompactResponse> {
        if req.revision <= self.store.compacted {
            return Err(Error::Compacted);
        }
        if req.revision > self.store.current {
            return Err(Error::FutureRevision);
        }
        // The records go later, swept a group at a time (see `Discarded`).
        self.store.compact_index(req.revision);
        // etcd reads the revision for its answer with a range.
        self.count(|t| t.ranges += 1);
        Ok(CompactResponse { revision: self.store.current })
    }

    /// Finishes the change: advances the revision if anything was written. Returns the store
    /// revision after the change; the owner persists [`MvccStore::revisions`] after the
    /// batch's records.
    pub fn end(self) -> i64 {
        self.store.counts.add(self.tally.get());
        if !self.pending.is_empty() {
            self.store.current = self.begin + 1;
        }
        self.store.current
    }
}

/// Whether every op of both branches reads (etcd's `isTxnReadonly`), so that etcd serves
/// the txn, compares included, as one read.
fn reads_only(req: &TxnRequest) -> bool {
    req.success.iter().chain(&req.failure).all(|op| matches!(op, RequestOp::Range(_)))
}

fn branch(req: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded { &req.success } else { &req.failure }
}
