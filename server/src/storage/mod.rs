//! The storage seam: everything durable goes through [`Backend`].
//!
//! sled 0.34 is the only engine today, but it has known space amplification and crash
//! reports, so nothing outside this module names it. Writes are grouped into a
//! [`WriteBatch`] that lands atomically, which is how the applied index stays consistent
//! with the data it describes.

mod blob;
mod group_flush;
mod sled_backend;

pub use blob::{BlobWriter, FileSlice};
pub use group_flush::{GroupFlusher, OnFlushed};

/// How a defragmentation went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defragmented {
    /// How long it took in all.
    pub took: std::time::Duration,
    /// How long writes waited for it (the pause operators see).
    pub paused: std::time::Duration,
}
pub use sled_backend::SledBackend;

use std::ops::RangeBounds;

/// The named key spaces of one member's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tree {
    /// MVCC records keyed by revision (main, sub), like etcd's `key` bucket.
    Kv,
    /// Member metadata: applied index, current and compacted revisions, identity.
    Meta,
    /// The local proposal log: entries are durable here before they are applied.
    Log,
    /// The v2 store: one record per node, keyed by its path.
    V2,
    /// The v2 store's recent events, in a ring of slots, for watchers that start in the
    /// past.
    V2History,
}

impl Tree {
    /// Every tree, in a fixed order.
    pub const ALL: [Tree; 5] = [Tree::Kv, Tree::Meta, Tree::Log, Tree::V2, Tree::V2History];

    /// The tree's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Kv => "kv",
            Tree::Meta => "meta",
            Tree::Log => "log",
            Tree::V2 => "v2",
            Tree::V2History => "v2-history",
        }
    }
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Insert or overwrite `key`.
    Put(Tree, Vec<u8>, Vec<u8>),
    /// Remove `key` if present.
    Delete(Tree, Vec<u8>),
}

/// Writes that land together or not at all.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// Queues an insert.
    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Put(tree, key.into(), value.into()));
    }

    /// Queues a removal.
    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete(tree, key.into()));
    }

    /// Queues `other`'s writes ahead of those queued from position `at` on (all of them
    /// past the end), so that a crash keeping a prefix keeps them first.
    pub fn insert_at(&mut self, at: usize, other: WriteBatch) {
        let at = at.min(self.ops.len());
        self.ops.splice(at..at, other.ops);
    }

    /// How many writes are queued.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The queued writes, in order.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

/// Errors from the storage engine. They are never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The engine reported an I/O or corruption error.
    #[error("storage: {0}")]
    Engine(String),
    /// A stored record could not be decoded.
    #[error("storage: corrupt record in {tree}: {reason}")]
    Corrupt {
        /// Which tree held the record.
        tree: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

/// Visits one key/value pair of a scan; returns whether to go on.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StorageError> + 'a;

/// A key/value pair.
pub type Pair = (Vec<u8>, Vec<u8>);

/// A durable, ordered key/value engine with atomic multi-tree batches.
///
/// Writes become visible to readers as soon as [`Backend::write`] returns; they become
/// durable only after [`Backend::flush`]. Callers decide when durability is needed (the
/// log is flushed before acknowledging, the state machine lazily).
pub trait Backend: Send + Sync + 'static {
    /// Reads one key.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Calls `visit` with each entry in `range`, in ascending key order, until it returns
    /// `false`. Nothing is materialised, so this is how whole trees are walked at startup.
    fn scan<R: RangeBounds<Vec<u8>>>(&self, tree: Tree, range: R, visit: &mut Visitor<'_>) -> Result<(), StorageError>;

    /// The entry with the greatest key, if any.
    fn last(&self, tree: Tree) -> Result<Option<Pair>, StorageError>;

    /// Applies every write of `batch` atomically.
    fn write(&self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Applies the writes of `batch` one at a time, in order. Not atomic: after a crash, a
    /// prefix of them survives. Cheaper than [`Backend::write`] where the caller writes a
    /// commit marker last and can recognise an unfinished batch by its absence.
    fn write_in_order(&self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Makes every write so far durable (fsync).
    fn flush(&self) -> Result<(), StorageError>;

    /// Starts writing the blob `name`: a large value kept as a file beside the trees, such
    /// as a Raft snapshot being sent or received (an engine that rewrites whole pages would
    /// otherwise copy it on every small write near it). It replaces the blob of that name
    /// when committed, and is durable then; not atomic with any other write.
    fn blob_writer(&self, name: &str) -> Result<BlobWriter, StorageError>;

    /// Removes the blob `name`, if one was committed.
    fn remove_blob(&self, name: &str) -> Result<(), StorageError>;

    /// Bytes the database occupies on disk.
    fn size_on_disk(&self) -> Result<u64, StorageError>;

    /// Bytes of the keys and values stored now (the part of the database in use; the rest
    /// is space a defragmentation would give back).
    fn size_in_use(&self) -> u64;

    /// Rewrites the database compactly, giving back the space of deleted data. Reads go
    /// on; writes wait only briefly. The result is durable when this returns.
    fn defragment(&self) -> Result<Defragmented, StorageError>;
}
