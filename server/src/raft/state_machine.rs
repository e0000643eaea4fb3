//! openraft's view of the state machine: applies entries to [`StateMachine`] and builds
//! and installs snapshots of it.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot as RaftSnapshot};
use openraft::{RaftSnapshotBuilder, SnapshotMeta as RaftSnapshotMeta};
use tokio::sync::{OwnedRwLockReadGuard, RwLock as AsyncRwLock, watch};

use super::snapshot_data::{SnapshotData, SnapshotFile, encode_to_scratch};
use super::types::{LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig, decode_from, encode_into};
use crate::mvcc::Discarded;
use crate::state_machine::{StateMachine, StateSnapshot};
use crate::storage::{Backend, SledBackend};

mod sweep;

/// Where earlier versions kept the current snapshot; removed at open.
const STORED_SNAPSHOT: &str = "raft-snapshot";

/// The scratch file a snapshot is encoded into to be sent.
const OUTGOING_SNAPSHOT: &str = "raft-snapshot-outgoing";

/// The blob a snapshot sent by the leader is received into.
const INCOMING_SNAPSHOT: &str = "raft-snapshot-incoming";

/// The shared state machine. Readers take the read lock; only Raft applies.
pub struct SmStore<B = SledBackend> {
    state: Arc<RwLock<StateMachine<B>>>,
    backend: Arc<B>,
    /// The v3 store revision after the last apply: watchers wait on it.
    revision: watch::Sender<i64>,
    /// Held shared by an [`Export`] until it is dropped (it reads records), exclusively to
    /// install a snapshot or sweep discarded records (the only changes that remove records).
    records: Arc<AsyncRwLock<()>>,
    /// How far compactions are physically done (see
    /// [`crate::mvcc::MvccStore::physically_compacted`]): physical compactions wait on it.
    swept: watch::Sender<i64>,
    /// Whether a sweep task is running (see the `sweep` module).
    sweeping: Arc<AtomicBool>,
    /// Whether the sweep skips its rests (a defragmentation waits for it).
    hurry: Arc<AtomicBool>,
}

impl<B> Clone for SmStore<B> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            backend: self.backend.clone(),
            revision: self.revision.clone(),
            records: self.records.clone(),
            swept: self.swept.clone(),
            sweeping: self.sweeping.clone(),
            hurry: self.hurry.clone(),
        }
    }
}

/// The replicated state at one applied entry, copied in two steps: everything but the
/// MVCC records at once (applies wait only for that), the records by [`Export::finish`]
/// (compaction sweeps and snapshot installs wait for that).
pub struct Export<B> {
    state: StateSnapshot,
    /// How many MVCC records the state has.
    records: usize,
    /// Records compactions discarded that are still stored: skipped.
    discarded: Discarded,
    meta: SnapshotMeta,
    backend: Arc<B>,
    _records: OwnedRwLockReadGuard<()>,
}

impl<B: Backend> Export<B> {
    /// Reads the records (blocking: run it off the async workers); the whole state.
    pub fn finish(mut self) -> Result<(StateSnapshot, SnapshotMeta), crate::error::Error> {
        self.state.mvcc.read_records(&*self.backend, &self.discarded)?;
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
        let state = self.state.scanning(&*self.backend, self.records, self.discarded);
        encode_into(&state, out)
    }

    /// [`Export::encode_into`] a file without a name (blocking).
    pub fn encode_to_scratch(self) -> Result<SnapshotFile, io::Error> {
        let blob = self.backend.blob_writer(OUTGOING_SNAPSHOT).map_err(io::Error::other)?;
        encode_to_scratch(blob, |out| self.encode_into(out))
    }
}

impl<B: Backend> SmStore<B> {
    /// Opens the state stored in `backend`.
    pub fn open(backend: Arc<B>) -> Result<Self, crate::error::Error> {
        let state = StateMachine::open(backend.clone())?;
        // The state itself is the snapshot now: a copy kept by an earlier version is only space.
        backend.remove_blob(STORED_SNAPSHOT)?;
        let (revision, _) = watch::channel(state.mvcc().current_revision());
        let (swept, _) = watch::channel(state.mvcc().physically_compacted());
        Ok(Self {
            state: Arc::new(RwLock::new(state)),
            backend,
            revision,
            records: Arc::default(),
            swept,
            sweeping: Arc::default(),
            hurry: Arc::default(),
        })
    }

    /// How far compactions are physically done, as it moves.
    pub fn physically_compacted(&self) -> watch::Receiver<i64> {
        self.swept.subscribe()
    }

    /// The v3 store revision, updated after every applied batch of entries.
    pub fn revisions(&self) -> watch::Receiver<i64> {
        self.revision.subscribe()
    }

    /// After an apply or an install, in one look at the state: wakes watchers if the
    /// revision moved, tells physical compactions how far the sweep got, and starts the
    /// sweep if records were discarded.
    fn publish_changes(&self) {
        let (current, swept, discarded) = {
            let sm = self.read();
            let mvcc = sm.mvcc();
            (mvcc.current_revision(), mvcc.physically_compacted(), mvcc.has_discarded())
        };
        self.revision.send_if_modified(|r| std::mem::replace(r, current) != current);
        self.publish_swept(swept);
        if discarded {
            self.start_sweep();
        }
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

    /// Makes the applied state durable (blocking). Raft purges the log behind a snapshot,
    /// and the state is otherwise flushed lazily: the state a snapshot covers must be
    /// durable before the snapshot is reported taken or installed.
    fn make_durable(&self, meta: &SnapshotMeta, what: &str) -> io::Result<()> {
        let started = std::time::Instant::now();
        self.backend.flush().map_err(io::Error::other)?;
        tracing::debug!(
            index = meta.last_log_id.as_ref().map_or(0, |l| l.index),
            took_ms = started.elapsed().as_millis() as u64,
            "{what}"
        );
        Ok(())
    }

    /// The metadata of a snapshot of the state as it is now.
    fn current_meta(&self) -> SnapshotMeta {
        snapshot_meta(&self.read())
    }

    /// Where a snapshot sent by the leader is received (see [`SnapshotData`]).
    pub fn incoming_snapshot(&self) -> Result<crate::storage::BlobWriter, crate::storage::StorageError> {
        self.backend.blob_writer(INCOMING_SNAPSHOT)
    }

    /// Starts copying the state at the last applied entry (see [`Export`]). The copy
    /// holds only what the index keeps: records compactions discarded are skipped.
    pub async fn export(&self) -> Export<B> {
        let records = self.records.clone().read_owned().await;
        let sm = self.read();
        Export {
            state: sm.snapshot(),
            records: sm.mvcc().record_count(),
            discarded: sm.mvcc().discarded_view(),
            meta: snapshot_meta(&sm),
            backend: self.backend.clone(),
            _records: records,
        }
    }
}

/// The metadata of a snapshot of `sm`: its last applied log id and the membership as of it.
fn snapshot_meta<B: Backend>(sm: &StateMachine<B>) -> SnapshotMeta {
    RaftSnapshotMeta { last_log_id: sm.applied().cloned(), last_membership: sm.membership().clone() }
}

/// A snapshot of the state when the builder was made. Taking it makes that state durable
/// and copies nothing: the data is the state itself, encoded only if the snapshot is sent.
pub struct Builder<B> {
    store: SmStore<B>,
    meta: SnapshotMeta,
}

impl<B: Backend> RaftSnapshotBuilder<TypeConfig> for Builder<B> {
    type SnapshotData = SnapshotData<B>;

    async fn build_snapshot(&mut self) -> Result<Snapshot<B>, io::Error> {
        let (store, meta) = (self.store.clone(), self.meta.clone());
        // A flush waits for the disk: off the async workers.
        let durable = tokio::task::spawn_blocking(move || store.make_durable(&meta, "snapshot taken"));
        durable.await.map_err(io::Error::other)??;
        Ok(RaftSnapshot { meta: self.meta.clone(), snapshot: SnapshotData::Current(self.store.clone()) })
    }
}

impl<B: Backend> RaftStateMachine<TypeConfig> for SmStore<B> {
    type SnapshotData = SnapshotData<B>;
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
            let reply = self.write().apply(entry).map_err(io::Error::other)?;
            if let Some(r) = responder {
                r.send(reply);
            }
        }
        self.write().write_progress().map_err(io::Error::other)?;
        self.publish_changes();
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called between applies: the snapshot covers the entries applied so far.
        Builder { store: self.clone(), meta: self.current_meta() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotData<B>) -> Result<(), io::Error> {
        // A received snapshot is encoded already; `Current` only comes from another store in
        // tests, and is encoded here. Its metadata is then the copy's own.
        let (meta, file) = snapshot.encode(meta.clone()).await?;
        // Decoding a large state takes seconds: off the async workers.
        let state = tokio::task::spawn_blocking(move || decode_from(&mut io::BufReader::new(file.reader())));
        let state = state.await.map_err(io::Error::other)??;
        let _no_export = self.records.write().await;
        self.write().install(state, meta.last_log_id, meta.last_membership.clone()).map_err(io::Error::other)?;
        self.publish_changes();
        let store = self.clone();
        let durable = tokio::task::spawn_blocking(move || store.make_durable(&meta, "snapshot installed"));
        durable.await.map_err(io::Error::other)?
    }

    /// The state as it is now, at the last applied entry: newer than the snapshot last
    /// taken or installed, which is as good for Raft (it covers every purged entry) and
    /// is what etcd sends too. Nothing is copied until it is sent (see [`SnapshotData`]).
    /// Nothing before the first entry is applied.
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<B>>, io::Error> {
        let meta = self.current_meta();
        if meta.last_log_id.is_none() {
            return Ok(None);
        }
        Ok(Some(RaftSnapshot { meta, snapshot: SnapshotData::Current(self.clone()) }))
    }
}
