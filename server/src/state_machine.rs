//! Applies committed commands, in log order, to the member's state.
//!
//! Each command lands in one backend batch together with the index of the log entry it
//! came from (etcd's consistent index), so after a crash the member knows exactly which
//! entries to apply again. The batch is not flushed: the log is the durability point.

use std::sync::Arc;

use crate::command::{Command, CommandResponse};
use crate::error::{Error, Result};
use crate::mvcc::MvccStore;
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Meta key: index of the last applied log entry.
const META_APPLIED: &[u8] = b"applied_index";

/// A member's replicated state.
pub struct StateMachine<B> {
    mvcc: MvccStore<B>,
    applied: u64,
}

impl<B: Backend> StateMachine<B> {
    /// Loads the state from `backend`.
    pub fn open(backend: Arc<B>) -> Result<Self> {
        let applied = match backend.get(Tree::Meta, META_APPLIED)? {
            Some(v) => {
                u64::from_be_bytes(v.as_slice().try_into().map_err(|_| StorageError::Corrupt {
                    tree: Tree::Meta.name(),
                    reason: "bad applied index".into(),
                })?)
            }
            None => 0,
        };
        Ok(Self {
            mvcc: MvccStore::open(backend)?,
            applied,
        })
    }

    /// The v3 key space.
    pub fn mvcc(&self) -> &MvccStore<B> {
        &self.mvcc
    }

    /// Index of the last applied entry.
    pub fn applied_index(&self) -> u64 {
        self.applied
    }

    /// Applies entry `index`. A command the store rejects (e.g. a compaction below the
    /// compacted revision) still consumes its index: every member rejects it alike.
    pub fn apply(&mut self, index: u64, cmd: &Command) -> Result<Result<CommandResponse>> {
        let mut batch = WriteBatch::default();
        let mut w = self.mvcc.write(&mut batch);
        let out = match cmd {
            Command::Put(r) => w.put(r).map(CommandResponse::Put),
            Command::DeleteRange(r) => w.delete_range(r).map(CommandResponse::DeleteRange),
            Command::Txn(r) => w.txn(r).map(CommandResponse::Txn),
            Command::Compact(r) => w.compact(r).map(CommandResponse::Compact),
        };
        w.end();
        // A failing backend leaves the in-memory index ahead of the disk: stop here.
        if let Err(Error::Storage(e)) = out {
            return Err(Error::Storage(e));
        }
        batch.put(Tree::Meta, META_APPLIED, index.to_be_bytes());
        self.mvcc.backend().write(batch)?;
        self.applied = index;
        Ok(out)
    }
}
