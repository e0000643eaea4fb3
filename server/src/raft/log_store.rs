//! The Raft log and vote on the backend's `log` tree (entries keyed by big-endian index)
//! and `meta` tree (vote, committed id, last purged id).
//!
//! The log is the durability point: an append is visible at once and acknowledged to Raft
//! only after a flush, and a vote is flushed before it is reported saved. All writes go
//! through one backend in order, so a vote and a log write are never reordered. Purged
//! entries are removed in the background ([`LogPurger`]); until then they are skipped.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{LogIdOptionExt, RaftLogReader};

use std::collections::{BTreeMap, BTreeSet};

use openraft::Membership;

use super::log_purger::LogPurger;
use super::types::{Entry, LogId, PeerNode, TypeConfig, Vote, decode, encode};
use crate::storage::{Backend, GroupFlusher, Tree, WriteBatch};

const VOTE: &[u8] = b"raft.vote";
const COMMITTED: &[u8] = b"raft.committed";
const LAST_PURGED: &[u8] = b"raft.last_purged";

/// The most bytes of stored entries one replication message carries, unless its first
/// entry alone is larger. Well under the peer message limit (`MAX_PEER_MESSAGE`), which
/// also holds the largest single entry (a 10 MiB v2 value).
const REPLICATION_BYTES: usize = 4 * 1024 * 1024;

/// The log store; clones share the backend, its flusher and its purger.
pub struct LogStore<B> {
    backend: Arc<B>,
    flusher: Arc<GroupFlusher>,
    purger: Arc<LogPurger>,
    /// The first index not purged (0 before any purge): entries below it may linger
    /// until the purger removes them, and are never read.
    first_kept: Arc<AtomicU64>,
}

impl<B> Clone for LogStore<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            flusher: self.flusher.clone(),
            purger: self.purger.clone(),
            first_kept: self.first_kept.clone(),
        }
    }
}

impl<B: Backend> LogStore<B> {
    /// A log store over `backend`, with its own group-commit flusher and purger.
    pub fn new(backend: Arc<B>) -> io::Result<Self> {
        let flusher = Arc::new(GroupFlusher::start(backend.clone())?);
        let purged = last_purged(&*backend)?.map(|l| l.index);
        let purger = Arc::new(LogPurger::start(backend.clone(), purged)?);
        let first_kept = Arc::new(AtomicU64::new(purged.map_or(0, |i| i.saturating_add(1))));
        Ok(Self { backend, flusher, purger, first_kept })
    }

    /// The index up to which purged entries are removed, as it moves.
    pub fn removed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.purger.removed()
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        match self.backend.get(Tree::Meta, key).map_err(io::Error::other)? {
            Some(b) => decode(&b).map(Some),
            None => Ok(None),
        }
    }

    fn write(&self, batch: WriteBatch) -> io::Result<()> {
        self.backend.write(batch).map_err(io::Error::other)
    }

    async fn flush(&self) -> io::Result<()> {
        let b = self.backend.clone();
        tokio::task::spawn_blocking(move || b.flush().map_err(io::Error::other)).await.map_err(io::Error::other)?
    }
}

fn last_purged<B: Backend>(backend: &B) -> io::Result<Option<LogId>> {
    match backend.get(Tree::Meta, LAST_PURGED).map_err(io::Error::other)? {
        Some(b) => Ok(decode::<Option<LogId>>(&b)?),
        None => Ok(None),
    }
}

/// The id of the last entry, or the last purged id when that is later: a purge may go
/// past the last entry, and entries it purged may not be removed yet.
fn last_log_id<B: Backend>(backend: &B, last_purged: Option<LogId>) -> io::Result<Option<LogId>> {
    let last = backend.last(Tree::Log).map_err(io::Error::other)?;
    let last = last.map(|(_, v)| decode::<Entry>(&v).map(|e| e.log_id())).transpose()?;
    Ok(last.max(last_purged))
}

/// etcd's `--force-new-cluster`: appends to the local log a membership entry that makes
/// member `id` the only voter, after the last entry (committed or not: etcd too commits
/// its whole local log). Raft takes the last membership in the log as effective, so on
/// start this member elects itself alone and commits everything before the entry, keeping
/// every write it holds, with the same indexes and revisions.
pub fn force_single_member<B: Backend>(backend: &B, id: u64, node: PeerNode) -> io::Result<u64> {
    let Some(last) = last_log_id(backend, last_purged(backend)?)? else {
        return Err(io::Error::other("the data dir holds no Raft log to force a new cluster from"));
    };
    let membership = Membership::new(vec![BTreeSet::from([id])], BTreeMap::from([(id, node)]))
        .map_err(|e| io::Error::other(e.to_string()))?;
    let index = last.index + 1;
    let entry = Entry::new_membership(LogId::new(last.leader_id, index), membership);
    let mut batch = WriteBatch::default();
    batch.put(Tree::Log, index_key(index), encode(&entry)?);
    backend.write(batch).map_err(io::Error::other)?;
    backend.flush().map_err(io::Error::other)?;
    Ok(index)
}

/// The key of the log entry with index `i` (big-endian, so keys sort as indexes do).
pub(super) fn index_key(i: u64) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn bound_key(b: Bound<&u64>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(i) => Bound::Included(index_key(*i)),
        Bound::Excluded(i) => Bound::Excluded(index_key(*i)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<B: Backend> LogStore<B> {
    /// The stored entries in `range`, in order, up to the first that would take the
    /// encoded total past `budget` bytes (the first entry is always taken).
    fn read_entries<RB: RangeBounds<u64>>(&self, range: RB, budget: usize) -> Result<Vec<Entry>, io::Error> {
        // Purged entries that are not removed yet are not there.
        let first_kept = self.first_kept.load(Ordering::Acquire);
        let start = match range.start_bound() {
            Bound::Included(i) if *i >= first_kept => Bound::Included(index_key(*i)),
            Bound::Excluded(i) if *i >= first_kept => Bound::Excluded(index_key(*i)),
            _ => Bound::Included(index_key(first_kept)),
        };
        let bounds = (start, bound_key(range.end_bound()));
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut err = None;
        self.backend
            .scan(Tree::Log, bounds, &mut |_, v| {
                bytes = bytes.saturating_add(v.len());
                if bytes > budget && !out.is_empty() {
                    return Ok(false);
                }
                match decode::<Entry>(v) {
                    Ok(e) => {
                        out.push(e);
                        Ok(true)
                    }
                    Err(e) => {
                        err = Some(e);
                        Ok(false)
                    }
                }
            })
            .map_err(io::Error::other)?;
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

impl<B: Backend> RaftLogReader<TypeConfig> for LogStore<B> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        self.read_entries(range, usize::MAX)
    }

    /// What replication sends a follower in one message: at most [`REPLICATION_BYTES`] of
    /// entries (or one larger entry), as etcd caps its append messages by size (1 MiB).
    /// By count alone, a follower behind by many large entries was sent more than a peer
    /// message may hold, refused it, and was sent it again, forever.
    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> Result<Vec<Entry>, io::Error> {
        self.read_entries(start..end, REPLICATION_BYTES)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.meta(VOTE)
    }
}

impl<B: Backend> RaftLogStorage<TypeConfig> for LogStore<B> {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged = last_purged(&*self.backend)?;
        let last = last_log_id(&*self.backend, last_purged)?;
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let mut batch = WriteBatch::default();
        batch.put(Tree::Meta, VOTE, encode(vote)?);
        self.write(batch)?;
        self.flush().await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Not flushed: it only speeds up recovery, and the next log flush carries it.
        let mut batch = WriteBatch::default();
        batch.put(Tree::Meta, COMMITTED, encode(&committed)?);
        self.write(batch)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut batch = WriteBatch::default();
        let mut bytes = 0;
        for e in entries {
            let encoded = encode(&e)?;
            bytes += encoded.len() as i64;
            batch.put(Tree::Log, index_key(e.index()), encoded);
        }
        crate::metrics::metrics().wal_write_bytes.add(bytes);
        // In order, not atomic: a crash keeps a prefix of the entries, which is still a
        // log without holes, and the flush below makes them durable anyway.
        self.backend.write_in_order(batch).map_err(io::Error::other)?;
        // Visible now; durable (and acknowledged) with the next group flush, which every
        // append queued meanwhile shares.
        self.flusher.after_flush(Box::new(move |r| callback.io_completed(r.map_err(io::Error::other))));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.next_index();
        let mut batch = WriteBatch::default();
        self.backend
            .scan(Tree::Log, (Bound::Included(index_key(from)), Bound::Unbounded), &mut |k, _| {
                batch.delete(Tree::Log, k.to_vec());
                Ok(true)
            })
            .map_err(io::Error::other)?;
        self.write(batch)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        // Recorded first (durable with the next log flush, before any removal, as the
        // backend keeps write order); the entries go in the background.
        let mut batch = WriteBatch::default();
        batch.put(Tree::Meta, LAST_PURGED, encode(&Some(log_id))?);
        self.write(batch)?;
        self.first_kept.fetch_max(log_id.index().saturating_add(1), Ordering::AcqRel);
        self.purger.purge(log_id.index());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::mvcc::PutRequest;
    use crate::storage::SledBackend;

    /// A put of `size` bytes at `index`, stored as an append stores it.
    fn store_put(log: &LogStore<SledBackend>, index: u64, size: usize) {
        let cmd = Command::Put(PutRequest { key: b"k".to_vec(), value: vec![b'x'; size], ..Default::default() });
        let entry = Entry::new_normal(LogId::new_term_index(1, index), cmd);
        let mut batch = WriteBatch::default();
        batch.put(Tree::Log, index_key(index), encode(&entry).expect("encode"));
        log.backend.write(batch).expect("write");
    }

    #[tokio::test]
    async fn replication_reads_stop_at_the_byte_budget_but_always_take_one_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = LogStore::new(Arc::new(SledBackend::open(dir.path()).expect("open"))).expect("log store");
        // Ten entries of 1 MB, then one larger than the whole budget, then small ones.
        for i in 1..=10 {
            store_put(&log, i, 1_000_000);
        }
        store_put(&log, 11, REPLICATION_BYTES + 1);
        for i in 12..=20 {
            store_put(&log, i, 100);
        }
        let index = |entries: Vec<Entry>| entries.iter().map(|e| e.log_id.index).collect::<Vec<_>>();
        let first = index(log.limited_get_log_entries(1, 21).await.expect("read"));
        assert_eq!(first, vec![1, 2, 3, 4], "4 MiB holds four entries of 1 MB");
        assert_eq!(index(log.limited_get_log_entries(10, 21).await.expect("read")), vec![10]);
        assert_eq!(index(log.limited_get_log_entries(11, 21).await.expect("read")), vec![11], "one entry at least");
        assert_eq!(index(log.limited_get_log_entries(12, 21).await.expect("read")), (12..=20).collect::<Vec<_>>());
        // Other readers get the whole range.
        assert_eq!(log.try_get_log_entries(1..21).await.expect("read").len(), 20);
    }
}
