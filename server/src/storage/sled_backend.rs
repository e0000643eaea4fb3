//! [`Backend`] on sled 0.34: one database, one sled tree per [`Tree`], multi-tree
//! transactions for atomic batches.

use std::ops::RangeBounds;
use std::path::Path;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Backend, Pair, StorageError, Tree, Visitor, WriteBatch, WriteOp};

/// sled's default page cache is 1 GiB; a member needs far less to keep its hot set.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// A sled database holding every tree of one member.
#[derive(Clone)]
pub struct SledBackend {
    db: sled::Db,
    trees: [sled::Tree; 3],
}

impl SledBackend {
    /// Opens (or creates) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        let config = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES);
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
        let open = |t: Tree| db.open_tree(t.name()).map_err(engine);
        let trees = [open(Tree::ALL[0])?, open(Tree::ALL[1])?, open(Tree::ALL[2])?];
        Ok(Self { db, trees })
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        match tree {
            Tree::Kv => &self.trees[0],
            Tree::Meta => &self.trees[1],
            Tree::Log => &self.trees[2],
        }
    }
}

fn engine(e: sled::Error) -> StorageError {
    StorageError::Engine(e.to_string())
}

impl Backend for SledBackend {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.tree(tree).get(key).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn scan<R: RangeBounds<Vec<u8>>>(&self, tree: Tree, range: R, visit: &mut Visitor<'_>) -> Result<(), StorageError> {
        for item in self.tree(tree).range(range) {
            let (k, v) = item.map_err(engine)?;
            if !visit(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, tree: Tree) -> Result<Option<Pair>, StorageError> {
        Ok(self.tree(tree).last().map_err(engine)?.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let ops = batch.into_ops();
        // Per-tree sled batches applied inside one transaction over all trees, so a crash
        // leaves either all of them or none.
        let mut batches: [sled::Batch; 3] = Default::default();
        for op in ops {
            match op {
                WriteOp::Put(t, k, v) => batches[t as usize].insert(k, v),
                WriteOp::Delete(t, k) => batches[t as usize].remove(k),
            }
        }
        let [kv, meta, log] = &self.trees;
        (kv, meta, log)
            .transaction(|(kv, meta, log)| {
                kv.apply_batch(&batches[0])?;
                meta.apply_batch(&batches[1])?;
                log.apply_batch(&batches[2])?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => engine(e),
                TransactionError::Abort(()) => StorageError::Engine("transaction aborted".into()),
            })
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
