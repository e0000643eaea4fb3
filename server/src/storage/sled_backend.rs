//! [`Backend`] on sled 0.34: one database, every [`Tree`] under its own key prefix in one
//! sled tree, so a batch is one atomic `apply_batch`; the snapshot alone in a second sled
//! tree (sled rewrites whole nodes, and a node holding a snapshot next to the keys written
//! for every entry would be rewritten, megabytes at a time, over and over).

use std::ops::{Bound, RangeBounds};
use std::path::Path;

use super::{Backend, Pair, StorageError, Tree, Visitor, WriteBatch, WriteOp};

/// sled's default page cache is 1 GiB; a member needs far less to keep its hot set.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// A sled database holding every [`Tree`] of one member in a single sled tree, each under
/// a one-byte prefix. One sled tree means every [`WriteBatch`] is a plain atomic
/// `apply_batch`: no multi-tree transaction, which costs sled extra log writes.
#[derive(Clone)]
pub struct SledBackend {
    db: sled::Db,
    tree: sled::Tree,
    snapshots: sled::Tree,
}

impl SledBackend {
    /// Opens (or creates) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        // No background flusher: the owner flushes when durability is needed (the log on
        // every append, the state before a snapshot and at shutdown), and sled's periodic
        // flushes of a busy state database cost more CPU than everything else it does.
        let config = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES).flush_every_ms(None);
        // The background flusher of a just-dropped instance can hold the file lock for a
        // moment after the drop; wait for it rather than fail.
        let mut attempts = 0;
        loop {
            match config.open() {
                Ok(db) => return Self::from_db(db),
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(engine(e)),
            }
        }
    }

    /// A throw-away database for tests; it disappears when dropped.
    pub fn temporary() -> Result<Self, StorageError> {
        let db = sled::Config::new().temporary(true).open().map_err(engine)?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self, StorageError> {
        let tree = db.open_tree("etcd-rs").map_err(engine)?;
        let snapshots = db.open_tree("snapshots").map_err(engine)?;
        Ok(Self { db, tree, snapshots })
    }
}

/// The prefix of a tree's keys.
fn prefix(tree: Tree) -> u8 {
    match tree {
        Tree::Kv => b'k',
        Tree::Meta => b'm',
        Tree::Log => b'l',
        Tree::V2 => b'v',
        // Kept in its own sled tree; the prefix keeps keys distinct all the same.
        Tree::Snapshot => b's',
    }
}

fn prefixed(tree: Tree, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(prefix(tree));
    k.extend_from_slice(key);
    k
}

/// Bounds over `tree`'s keys, as bounds over the shared sled tree.
fn prefixed_bounds<R: RangeBounds<Vec<u8>>>(tree: Tree, range: &R) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = match range.start_bound() {
        Bound::Included(k) => Bound::Included(prefixed(tree, k)),
        Bound::Excluded(k) => Bound::Excluded(prefixed(tree, k)),
        Bound::Unbounded => Bound::Included(vec![prefix(tree)]),
    };
    let end = match range.end_bound() {
        Bound::Included(k) => Bound::Included(prefixed(tree, k)),
        Bound::Excluded(k) => Bound::Excluded(prefixed(tree, k)),
        Bound::Unbounded => Bound::Excluded(vec![prefix(tree) + 1]),
    };
    (start, end)
}

fn engine(e: sled::Error) -> StorageError {
    StorageError::Engine(e.to_string())
}

impl SledBackend {
    fn sled_tree(&self, tree: Tree) -> &sled::Tree {
        if tree == Tree::Snapshot { &self.snapshots } else { &self.tree }
    }
}

impl Backend for SledBackend {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.sled_tree(tree).get(prefixed(tree, key)).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn scan<R: RangeBounds<Vec<u8>>>(&self, tree: Tree, range: R, visit: &mut Visitor<'_>) -> Result<(), StorageError> {
        for item in self.sled_tree(tree).range(prefixed_bounds(tree, &range)) {
            let (k, v) = item.map_err(engine)?;
            if !visit(&k[1..], &v)? {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, tree: Tree) -> Result<Option<Pair>, StorageError> {
        let last = self.sled_tree(tree).range(prefixed_bounds(tree, &(..))).next_back().transpose().map_err(engine)?;
        Ok(last.map(|(k, v)| (k[1..].to_vec(), v.to_vec())))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut b = sled::Batch::default();
        let mut snapshot_ops = Vec::new();
        for op in batch.into_ops() {
            match op {
                op @ (WriteOp::Put(Tree::Snapshot, ..) | WriteOp::Delete(Tree::Snapshot, _)) => snapshot_ops.push(op),
                WriteOp::Put(t, k, v) => b.insert(prefixed(t, &k), v),
                WriteOp::Delete(t, k) => b.remove(prefixed(t, &k)),
            }
        }
        self.tree.apply_batch(b).map_err(engine)?;
        self.write_in_order(WriteBatch { ops: snapshot_ops })
    }

    /// sled persists writes in log order and recovers a prefix of them. Unlike a batch,
    /// single writes do not seal sled's IO buffer, which costs a synchronous disk write
    /// each time.
    fn write_in_order(&self, batch: WriteBatch) -> Result<(), StorageError> {
        for op in batch.into_ops() {
            match op {
                WriteOp::Put(t, k, v) => self.sled_tree(t).insert(prefixed(t, &k), v).map(|_| ()),
                WriteOp::Delete(t, k) => self.sled_tree(t).remove(prefixed(t, &k)).map(|_| ()),
            }
            .map_err(engine)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.db.flush().map(|_| ()).map_err(engine)
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.db.size_on_disk().map_err(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_is_visible_across_trees_and_survives_reopen() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        {
            let b = SledBackend::open(dir.path())?;
            let mut batch = WriteBatch::default();
            batch.put(Tree::Kv, b"a".to_vec(), b"1".to_vec());
            batch.put(Tree::Meta, b"applied".to_vec(), 7u64.to_be_bytes().to_vec());
            b.write(batch)?;
            b.flush()?;
        }
        let b = SledBackend::open(dir.path())?;
        assert_eq!(b.get(Tree::Kv, b"a")?, Some(b"1".to_vec()));
        assert_eq!(b.get(Tree::Meta, b"applied")?, Some(7u64.to_be_bytes().to_vec()));
        assert_eq!(b.get(Tree::Log, b"a")?, None);
        Ok(())
    }

    #[test]
    fn scan_is_ordered_and_bounded() -> Result<(), Box<dyn std::error::Error>> {
        let b = SledBackend::temporary()?;
        let mut batch = WriteBatch::default();
        for k in [b"c", b"a", b"b", b"d"] {
            batch.put(Tree::Kv, k.to_vec(), k.to_vec());
        }
        batch.delete(Tree::Kv, b"d".to_vec());
        b.write(batch)?;
        let mut keys = Vec::new();
        b.scan(Tree::Kv, b"a".to_vec()..b"c".to_vec(), &mut |k, _| {
            keys.push(k.to_vec());
            Ok(true)
        })?;
        assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
        let mut n = 0;
        b.scan(Tree::Kv, .., &mut |_, _| {
            n += 1;
            Ok(n < 2)
        })?;
        assert_eq!(n, 2, "scan stops when the visitor says so");
        Ok(())
    }
}
