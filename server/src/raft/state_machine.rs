//! openraft's view of the state machine: applies entries to [`StateMachine`] and builds
//! and installs snapshots of it.

use std::io;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot as RaftSnapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, SnapshotMeta as RaftSnapshotMeta};
use tokio::sync::{OwnedRwLockReadGuard, RwLock as AsyncRwLock, watch};

use super::snapshot_data::{SnapshotData, fill_blob, read_blob};
use super::types::{LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig, decode_from, encode_into};
use crate::command::Command;
use crate::state_machine::{StateMachine, StateSnapshot};
use crate::storage::{Backend, SledBackend};

/// The blob holding the current snapshot (laid out as [`fill_blob`] writes it).
const CURRENT_SNAPSHOT: &str = "raft-snapshot";

/// The blob a snapshot sent by the leader is received into.
const INCOMING_SNAPSHOT: &str = "raft-snapshot-incoming";

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

    /// The snapshot's metadata.
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// Encodes the state as a Raft snapshot carries it into `out` (blocking, like
    /// [`Export::finish`]). The records are encoded as they are read, straight into `out`:
    /// no part of the state is in memory twice.
    pub fn encode_into(self, out: &mut dyn io::Write) -> Result<(), io::Error> {
        let state = self.state.scanning(&*self.backend, self.records);
        encode_into(&state, out)
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

    /// Stores a snapshot of `meta` whose data `write_data` writes, as the current one.
    fn save_snapshot(
        &self,
        meta: &SnapshotMeta,
        write_data: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
    ) -> io::Result<SnapshotData> {
        let started = std::time::Instant::now();
        let mut blob = self.backend.blob_writer(CURRENT_SNAPSHOT).map_err(io::Error::other)?;
        let len = fill_blob(&mut blob, meta, write_data)?;
        let written = started.elapsed();
        // The state is otherwise flushed lazily, but Raft purges the log behind a snapshot:
        // the state it covers must be durable before the snapshot is.
        self.backend.flush().map_err(io::Error::other)?;
        let file = blob.commit().map_err(io::Error::other)?;
        tracing::debug!(
            bytes = len,
            write_ms = written.as_millis() as u64,
            took_ms = started.elapsed().as_millis() as u64,
            "snapshot saved"
        );
        Ok(SnapshotData::new(file, len))
    }

    /// Where a snapshot sent by the leader is received (see [`SnapshotData`]).
    pub fn incoming_snapshot(&self) -> Result<crate::storage::BlobWriter, crate::storage::StorageError> {
        self.backend.blob_writer(INCOMING_SNAPSHOT)
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
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let export = self.export.take().ok_or_else(|| io::Error::other("snapshot already built"))?;
        let store = self.store.clone();
        // Reading, encoding and saving a large state takes seconds: off the async workers.
        tokio::task::spawn_blocking(move || {
            let meta = export.meta().clone();
            let snapshot = store.save_snapshot(&meta, |out| export.encode_into(out))?;
            Ok(RaftSnapshot { meta, snapshot })
        })
        .await
        .map_err(io::Error::other)?
    }
}

impl<B: Backend> RaftStateMachine<TypeConfig> for SmStore<B> {
    type SnapshotData = SnapshotData;
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

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData) -> Result<(), io::Error> {
        let store = self.clone();
        let meta = meta.clone();
        // Decoding and storing a large state takes seconds: off the async workers.
        let state = tokio::task::spawn_blocking(move || {
            decode_from(&mut io::BufReader::new(snapshot.reader())).map(|s| (s, snapshot))
        });
        let (state, snapshot) = state.await.map_err(io::Error::other)??;
        let _no_export = self.records.write().await;
        self.write().install(state, meta.last_log_id, meta.last_membership.clone()).map_err(io::Error::other)?;
        self.publish_revision();
        tokio::task::spawn_blocking(move || {
            store.save_snapshot(&meta, |out| io::copy(&mut snapshot.reader(), out).map(drop)).map(drop)
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let Some(file) = self.backend.open_blob(CURRENT_SNAPSHOT).map_err(io::Error::other)? else {
            return Ok(None);
        };
        let (meta, snapshot) = read_blob(file)?;
        Ok(Some(RaftSnapshot { meta, snapshot }))
    }
}
