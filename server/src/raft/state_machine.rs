//! openraft's view of the state machine: applies entries to [`StateMachine`] and builds
//! and installs snapshots of it.

use std::io;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot as RaftSnapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotMeta as RaftSnapshotMeta};
use tokio::sync::{OwnedRwLockReadGuard, RwLock as AsyncRwLock, watch};

use super::types::{LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig, decode, encode, encode_into};
use crate::command::Command;
use crate::state_machine::{StateMachine, StateSnapshot};
use crate::storage::{Backend, SledBackend};

/// The blob holding the current snapshot: the data, the metadata, then the metadata's
/// length (8 bytes, big-endian), so that reading it cuts the data off without a copy.
const CURRENT_SNAPSHOT: &str = "raft-snapshot";

/// The shared state machine. Readers take the read lock; only Raft applies.
pub struct SmStore<B = SledBackend> {
    state: Arc<RwLock<StateMachine<B>>>,
    backend: Arc<B>,
    /// The v3 store revision after the last apply: watchers wait on it.
    revision: watch::Sender<i64>,
    /// Held shared while an [`Export`] reads records, exclusively to apply a compaction
    /// or install a snapshot (the only changes that remove records).
    records: Arc<AsyncRwLock<()>>,
}

impl<B> Clone for SmStore<B> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            backend: self.backend.clone(),
            revision: self.revision.clone(),
            records: self.records.clone(),
        }
    }
}

/// The replicated state at one applied entry, copied in two steps: everything but the
/// MVCC records at once (applies wait only for that), the records by [`Export::finish`]
/// (compactions and snapshot installs wait for that).
pub struct Export<B> {
    state: StateSnapshot,
    /// How many MVCC records the state has.
    records: usize,
    meta: SnapshotMeta,
    backend: Arc<B>,
    _records: OwnedRwLockReadGuard<()>,
}

impl<B: Backend> Export<B> {
    /// Reads the records (blocking: run it off the async workers); the whole state.
    pub fn finish(mut self) -> Result<(StateSnapshot, SnapshotMeta), crate::error::Error> {
        self.state.mvcc.read_records(&*self.backend)?;
        Ok((self.state, self.meta))
    }

    /// The state encoded as a Raft snapshot carries it (blocking, like [`Export::finish`]).
    /// The records are encoded as they are read: only the encoding is ever in memory
    /// whole, not the records too (with 100k keys, 30-odd MiB less at the peak).
    pub fn encode(self) -> Result<(Vec<u8>, SnapshotMeta), io::Error> {
        // Sized once, so that the buffer is not copied as it grows: every stored byte (more
        // than the records; pages never written are not memory) and the length prefixes.
        let stored = usize::try_from(self.backend.size_in_use()).unwrap_or(0);
        let state = self.state.scanning(&*self.backend, self.records);
        let mut out = Vec::with_capacity(stored + 6 * self.records);
        encode_into(&state, &mut out)?;
        Ok((out, self.meta))
    }
}

impl<B: Backend> SmStore<B> {
    /// Opens the state stored in `backend`.
    pub fn open(backend: Arc<B>) -> Result<Self, crate::error::Error> {
        let state = StateMachine::open(backend.clone())?;
        let (revision, _) = watch::channel(state.mvcc().current_revision());
        Ok(Self { state: Arc::new(RwLock::new(state)), backend, revision, records: Arc::default() })
    }

    /// The v3 store revision, updated after every applied batch of entries.
    pub fn revisions(&self) -> watch::Receiver<i64> {
        self.revision.subscribe()
    }

    fn publish_revision(&self) {
        let current = self.read().mvcc().current_revision();
        self.revision.send_if_modified(|r| std::mem::replace(r, current) != current);
    }

    /// Read access to the applied state.
    pub fn read(&self) -> RwLockReadGuard<'_, StateMachine<B>> {
        // A panic while applying poisons the lock; the member is stopping then anyway, and
        // what readers see is the state as of the last whole batch.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, crate::storage::StorageError> {
        self.backend.size_on_disk()
    }

    /// Bytes of keys and values stored now.
    pub fn size_in_use(&self) -> u64 {
        self.backend.size_in_use()
    }

    /// Rewrites the database compactly (see [`crate::storage::Backend::defragment`]).
    pub fn defragment(&self) -> Result<crate::storage::Defragmented, crate::storage::StorageError> {
        self.backend.defragment()
    }

    /// Makes the applied state durable (at shutdown, so a restart need not re-apply).
    pub fn flush(&self) -> io::Result<()> {
        self.backend.flush().map_err(io::Error::other)
    }

    fn write(&self) -> RwLockWriteGuard<'_, StateMachine<B>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn save_snapshot(&self, snap: &Snapshot) -> io::Result<()> {
        // The state is otherwise flushed lazily, but Raft purges the log behind a snapshot:
        // the state it covers (and the snapshot) must be durable before that can happen.
        let started = std::time::Instant::now();
        self.backend.flush().map_err(io::Error::other)?;
        let flushed = started.elapsed();
        let meta = encode(&snap.meta)?;
        let len = (meta.len() as u64).to_be_bytes();
        self.backend.put_blob(CURRENT_SNAPSHOT, &[&snap.snapshot, &meta, &len]).map_err(io::Error::other)?;
        tracing::debug!(
            bytes = snap.snapshot.len(),
            flush_ms = flushed.as_millis() as u64,
            took_ms = started.elapsed().as_millis() as u64,
            "snapshot saved"
        );
        Ok(())
    }

    /// Starts copying the state at the last applied entry (see [`Export`]).
    pub async fn export(&self) -> Export<B> {
        let records = self.records.clone().read_owned().await;
        let sm = self.read();
        let meta = RaftSnapshotMeta { last_log_id: sm.applied().cloned(), last_membership: sm.membership().clone() };
        let state = sm.snapshot();
        Export { state, records: sm.mvcc().record_count(), meta, backend: self.backend.clone(), _records: records }
    }
}

/// A snapshot started when the builder was made; building reads its records, encodes
/// and saves it.
pub struct Builder<B> {
    store: SmStore<B>,
    export: Option<Export<B>>,
}

impl<B: Backend> RaftSnapshotBuilder<TypeConfig> for Builder<B> {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let export = self.export.take().ok_or_else(|| io::Error::other("snapshot already built"))?;
        let store = self.store.clone();
        // Reading, encoding and saving a large state takes seconds: off the async workers.
        tokio::task::spawn_blocking(move || {
            let (snapshot, meta) = export.encode()?;
            let snap = RaftSnapshot { meta, snapshot };
            store.save_snapshot(&snap)?;
            Ok(snap)
        })
        .await
        .map_err(io::Error::other)?
    }
}

impl<B: Backend> RaftStateMachine<TypeConfig> for SmStore<B> {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = Builder<B>;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let sm = self.read();
        Ok((sm.applied().cloned(), sm.membership().clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + Send,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let _no_export = match &entry.payload {
                EntryPayload::Normal(Command::Compact(_)) => Some(self.records.write().await),
                _ => None,
            };
            let reply = self.write().apply(entry).map_err(io::Error::other)?;
            if let Some(r) = responder {
                r.send(reply);
            }
        }
        self.write().write_progress().map_err(io::Error::other)?;
        self.publish_revision();
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called between applies: the copy is the state at one log id. Building then runs
        // concurrently with later applies without seeing them.
        Builder { store: self.clone(), export: Some(self.export().await) }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: Vec<u8>) -> Result<(), io::Error> {
        let state = decode(&snapshot)?;
        let _no_export = self.records.write().await;
        self.write().install(state, meta.last_log_id, meta.last_membership.clone()).map_err(io::Error::other)?;
        self.publish_revision();
        self.save_snapshot(&RaftSnapshot { meta: meta.clone(), snapshot })
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let Some(mut blob) = self.backend.get_blob(CURRENT_SNAPSHOT).map_err(io::Error::other)? else {
            return Ok(None);
        };
        let truncated = || io::Error::other("the stored snapshot is truncated");
        let len = blob.last_chunk::<8>().map(|b| u64::from_be_bytes(*b)).ok_or_else(truncated)?;
        let meta_at = usize::try_from(len).ok().and_then(|l| (blob.len() - 8).checked_sub(l));
        let meta_at = meta_at.ok_or_else(truncated)?;
        let meta: SnapshotMeta = decode(&blob[meta_at..blob.len() - 8])?;
        blob.truncate(meta_at);
        Ok(Some(RaftSnapshot { meta, snapshot: blob }))
    }
}
