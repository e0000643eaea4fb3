//! openraft's view of the state machine: applies entries to [`StateMachine`] and builds
//! and installs snapshots of it.

use std::io;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot as RaftSnapshot};
use openraft::{RaftSnapshotBuilder, SnapshotMeta as RaftSnapshotMeta};
use tokio::sync::watch;

use super::types::{LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig, decode, encode};
use crate::state_machine::StateMachine;
use crate::storage::{Backend, SledBackend, Tree, WriteBatch};

/// Key of the current snapshot (metadata and data) in [`Tree::Snapshot`].
const CURRENT_SNAPSHOT: &[u8] = b"current";

/// The shared state machine. Readers take the read lock; only Raft applies.
pub struct SmStore<B = SledBackend> {
    state: Arc<RwLock<StateMachine<B>>>,
    backend: Arc<B>,
    /// The v3 store revision after the last apply: watchers wait on it.
    revision: watch::Sender<i64>,
}

impl<B> Clone for SmStore<B> {
    fn clone(&self) -> Self {
        Self { state: self.state.clone(), backend: self.backend.clone(), revision: self.revision.clone() }
    }
}

impl<B: Backend> SmStore<B> {
    /// Opens the state stored in `backend`.
    pub fn open(backend: Arc<B>) -> Result<Self, crate::error::Error> {
        let state = StateMachine::open(backend.clone())?;
        let (revision, _) = watch::channel(state.mvcc().current_revision());
        Ok(Self { state: Arc::new(RwLock::new(state)), backend, revision })
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
    pub fn defragment(&self) -> Result<(), crate::storage::StorageError> {
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
        let mut batch = WriteBatch::default();
        batch.put(Tree::Snapshot, CURRENT_SNAPSHOT, encode(&(&snap.meta, &snap.snapshot))?);
        self.backend.write(batch).map_err(io::Error::other)?;
        // The state is otherwise flushed lazily, but Raft purges the log behind a snapshot:
        // the snapshot (and the state it covers) must be durable before that can happen.
        self.backend.flush().map_err(io::Error::other)
    }
}

/// A snapshot copied at the moment the builder was made; building only saves it.
pub struct Builder<B> {
    store: SmStore<B>,
    copy: io::Result<(Vec<u8>, SnapshotMeta)>,
}

impl<B: Backend> SmStore<B> {
    /// Copies the state under the read lock: applied id, membership and data agree. The
    /// copy is encoded after the lock is released, so applies wait only for the copy.
    fn copy(&self) -> io::Result<(Vec<u8>, SnapshotMeta)> {
        let (state, meta) = {
            let sm = self.read();
            let meta =
                RaftSnapshotMeta { last_log_id: sm.applied().cloned(), last_membership: sm.membership().clone() };
            (sm.snapshot().map_err(io::Error::other)?, meta)
        };
        Ok((encode(&state)?, meta))
    }
}

impl<B: Backend> RaftSnapshotBuilder<TypeConfig> for Builder<B> {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let (data, meta) = std::mem::replace(&mut self.copy, Err(io::Error::other("snapshot already built")))?;
        let snap = RaftSnapshot { meta, snapshot: data };
        self.store.save_snapshot(&snap)?;
        Ok(snap)
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
            let reply = self.write().apply(entry).map_err(io::Error::other)?;
            if let Some(r) = responder {
                r.send(reply);
            }
        }
        self.publish_revision();
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called between applies: the copy is the state at one log id. Building then runs
        // concurrently with later applies without seeing them.
        Builder { store: self.clone(), copy: self.copy() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: Vec<u8>) -> Result<(), io::Error> {
        let state = decode(&snapshot)?;
        self.write().install(state, meta.last_log_id, meta.last_membership.clone()).map_err(io::Error::other)?;
        self.publish_revision();
        self.save_snapshot(&RaftSnapshot { meta: meta.clone(), snapshot })
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        match self.backend.get(Tree::Snapshot, CURRENT_SNAPSHOT).map_err(io::Error::other)? {
            Some(b) => {
                let (meta, snapshot): (SnapshotMeta, Vec<u8>) = decode(&b)?;
                Ok(Some(RaftSnapshot { meta, snapshot }))
            }
            None => Ok(None),
        }
    }
}
