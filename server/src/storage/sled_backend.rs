//! [`Backend`] on sled 0.34: one database, every [`Tree`] under its own key prefix in one
//! sled tree, so a batch is one atomic `apply_batch`; the snapshot alone in a second sled
//! tree (sled rewrites whole nodes, and a node holding a snapshot next to the keys written
//! for every entry would be rewritten, megabytes at a time, over and over).
//!
//! Defragmentation copies the live data into a fresh database (a new *generation*, in
//! its own directory) and switches to it; sled never gives back the space of deleted
//! data otherwise. The file `<path>.generation` names the generation in use and is
//! replaced atomically, so a crash mid-copy leaves the old generation in charge.

use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use super::{Backend, Pair, StorageError, Tree, Visitor, WriteBatch, WriteOp};

/// sled's default page cache is 1 GiB; a member needs far less to keep its hot set.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;
/// The sled trees that hold our data.
const MAIN_TREE: &str = "etcd-rs";
const SNAPSHOT_TREE: &str = "snapshots";
/// Entries per batch while a defragmentation copies.
const COPY_BATCH: usize = 10_000;

/// A sled database holding every [`Tree`] of one member in a single sled tree, each under
/// a one-byte prefix. One sled tree means every [`WriteBatch`] is a plain atomic
/// `apply_batch`: no multi-tree transaction, which costs sled extra log writes.
#[derive(Clone)]
pub struct SledBackend {
    inner: Arc<Inner>,
}

struct Inner {
    handles: RwLock<Handles>,
    /// Writers hold it shared; a defragmentation holds it exclusively while it copies,
    /// so the copy misses no write while reads go on.
    writes: RwLock<()>,
    /// Where generations live; `None` for a temporary database.
    home: Option<PathBuf>,
    /// Bytes of the keys and values stored now (what Status reports as in use): counted
    /// at open, kept up to date by every write, recounted by each defragmentation.
    live: AtomicI64,
}

struct Handles {
    db: sled::Db,
    tree: sled::Tree,
    snapshots: sled::Tree,
    generation: u64,
}

impl Handles {
    fn new(db: sled::Db, generation: u64) -> Result<Self, StorageError> {
        let tree = db.open_tree(MAIN_TREE).map_err(engine)?;
        let snapshots = db.open_tree(SNAPSHOT_TREE).map_err(engine)?;
        Ok(Self { db, tree, snapshots, generation })
    }

    fn sled_tree(&self, tree: Tree) -> &sled::Tree {
        if tree == Tree::Snapshot { &self.snapshots } else { &self.tree }
    }
}

/// The directory of generation `g` of the database at `home` (generation 0 is `home`).
fn generation_dir(home: &Path, g: u64) -> PathBuf {
    if g == 0 { home.to_path_buf() } else { PathBuf::from(format!("{}.{g}", home.display())) }
}

fn generation_file(home: &Path) -> PathBuf {
    PathBuf::from(format!("{}.generation", home.display()))
}

fn io(e: std::io::Error) -> StorageError {
    StorageError::Engine(e.to_string())
}

fn open_dir(dir: &Path) -> Result<sled::Db, StorageError> {
    // No background flusher: the owner flushes when durability is needed (the log on
    // every append, the state before a snapshot and at shutdown), and sled's periodic
    // flushes of a busy state database cost more CPU than everything else it does.
    let config = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES).flush_every_ms(None);
    // The background flusher of a just-dropped instance can hold the file lock for a
    // moment after the drop; wait for it rather than fail.
    let mut attempts = 0;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(engine(e)),
        }
    }
}

impl SledBackend {
    /// Opens (or creates) the database at `home`, in the generation last switched to;
    /// what an interrupted defragmentation left behind is removed.
    pub fn open(home: &Path) -> Result<Self, StorageError> {
        let generation: u64 = match std::fs::read_to_string(generation_file(home)) {
            Ok(text) => text.trim().parse().map_err(|_| StorageError::Corrupt {
                tree: "generation",
                reason: format!("{} does not hold a number", generation_file(home).display()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(e)),
        };
        // An unfinished copy (the next generation) or a finished one's predecessor.
        for stale in [generation.checked_add(1), generation.checked_sub(1)].into_iter().flatten() {
            let dir = generation_dir(home, stale);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io)?;
            }
        }
        let handles = Handles::new(open_dir(&generation_dir(home, generation))?, generation)?;
        Self::with(handles, Some(home.to_path_buf()))
    }

    /// A throw-away database for tests; it disappears when dropped.
    pub fn temporary() -> Result<Self, StorageError> {
        let db = sled::Config::new().temporary(true).open().map_err(engine)?;
        Self::with(Handles::new(db, 0)?, None)
    }

    fn with(handles: Handles, home: Option<PathBuf>) -> Result<Self, StorageError> {
        let live = live_bytes(&handles.tree)? + live_bytes(&handles.snapshots)?;
        let inner = Inner { handles: RwLock::new(handles), writes: RwLock::new(()), home, live: AtomicI64::new(live) };
        Ok(Self { inner: Arc::new(inner) })
    }

    fn add_live(&self, delta: i64) {
        self.inner.live.fetch_add(delta, Ordering::Relaxed);
    }

    fn handles(&self) -> RwLockReadGuard<'_, Handles> {
        self.inner.handles.read().unwrap_or_else(|p| p.into_inner())
    }

    fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.inner.writes.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies `from` into `to`, in batches; the bytes copied.
    fn copy_tree(from: &sled::Tree, to: &sled::Tree) -> Result<i64, StorageError> {
        let mut batch = sled::Batch::default();
        let (mut n, mut bytes) = (0, 0);
        for item in from.iter() {
            let (k, v) = item.map_err(engine)?;
            bytes += (k.len() + v.len()) as i64;
            batch.insert(k, v);
            n += 1;
            if n == COPY_BATCH {
                to.apply_batch(std::mem::take(&mut batch)).map_err(engine)?;
                n = 0;
            }
        }
        to.apply_batch(batch).map_err(engine)?;
        Ok(bytes)
    }
}

/// Bytes of every key and value in `tree`.
fn live_bytes(tree: &sled::Tree) -> Result<i64, StorageError> {
    let mut bytes = 0;
    for item in tree.iter() {
        let (k, v) = item.map_err(engine)?;
        bytes += (k.len() + v.len()) as i64;
    }
    Ok(bytes)
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

impl Backend for SledBackend {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.handles().sled_tree(tree).get(prefixed(tree, key)).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn scan<R: RangeBounds<Vec<u8>>>(&self, tree: Tree, range: R, visit: &mut Visitor<'_>) -> Result<(), StorageError> {
        let handles = self.handles();
        for item in handles.sled_tree(tree).range(prefixed_bounds(tree, &range)) {
            let (k, v) = item.map_err(engine)?;
            if !visit(&k[1..], &v)? {
                break;
            }
        }
        Ok(())
    }

    fn last(&self, tree: Tree) -> Result<Option<Pair>, StorageError> {
        let last = self
            .handles()
            .sled_tree(tree)
            .range(prefixed_bounds(tree, &(..)))
            .next_back()
            .transpose()
            .map_err(engine)?;
        Ok(last.map(|(k, v)| (k[1..].to_vec(), v.to_vec())))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        // One write is atomic by itself: no batch (which seals sled's IO buffer), and the
        // replaced value's size comes back from the insert. Raft's vote and commit index
        // are saved this way.
        if batch.ops.len() == 1 {
            return self.write_in_order(batch);
        }
        let mut b = sled::Batch::default();
        let mut snapshot_ops = Vec::new();
        // Each key with the size of its new value (None: removed).
        let mut sizes: Vec<(Vec<u8>, Option<usize>)> = Vec::new();
        for op in batch.into_ops() {
            match op {
                op @ (WriteOp::Put(Tree::Snapshot, ..) | WriteOp::Delete(Tree::Snapshot, _)) => snapshot_ops.push(op),
                WriteOp::Put(t, k, v) => {
                    let key = prefixed(t, &k);
                    sizes.push((key.clone(), Some(v.len())));
                    b.insert(key, v);
                }
                WriteOp::Delete(t, k) => {
                    let key = prefixed(t, &k);
                    sizes.push((key.clone(), None));
                    b.remove(key);
                }
            }
        }
        let _writing = self.writing();
        let handles = self.handles();
        // A batch does not say what it replaced: look first (batches are small and rare;
        // the hot paths write in order).
        let mut delta = 0;
        for (k, v) in &sizes {
            let old = handles.tree.get(k).map_err(engine)?.map_or(0, |o| (k.len() + o.len()) as i64);
            delta += v.map_or(0, |v| (k.len() + v) as i64) - old;
        }
        handles.tree.apply_batch(b).map_err(engine)?;
        for op in snapshot_ops {
            delta += apply_one(&handles, op)?;
        }
        self.add_live(delta);
        Ok(())
    }

    /// sled persists writes in log order and recovers a prefix of them. Unlike a batch,
    /// single writes do not seal sled's IO buffer, which costs a synchronous disk write
    /// each time.
    fn write_in_order(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let _writing = self.writing();
        let handles = self.handles();
        let mut delta = 0;
        for op in batch.into_ops() {
            delta += apply_one(&handles, op)?;
        }
        self.add_live(delta);
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        self.handles().db.flush().map(|_| ()).map_err(engine)
    }

    fn size_on_disk(&self) -> Result<u64, StorageError> {
        self.handles().db.size_on_disk().map_err(engine)
    }

    fn size_in_use(&self) -> u64 {
        u64::try_from(self.inner.live.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Copies every tree into the next generation while writes wait (reads go on), makes
    /// the copy durable, records it as current, then switches to it and deletes the old.
    fn defragment(&self) -> Result<(), StorageError> {
        let _no_writes = self.inner.writes.write().unwrap_or_else(|p| p.into_inner());
        let (db, generation) = {
            let old = self.handles();
            let generation = old.generation + 1;
            let db = match &self.inner.home {
                Some(home) => {
                    let dir = generation_dir(home, generation);
                    if dir.exists() {
                        std::fs::remove_dir_all(&dir).map_err(io)?;
                    }
                    open_dir(&dir)?
                }
                None => sled::Config::new().temporary(true).open().map_err(engine)?,
            };
            let new = Handles::new(db, generation)?;
            let live = Self::copy_tree(&old.tree, &new.tree)? + Self::copy_tree(&old.snapshots, &new.snapshots)?;
            self.inner.live.store(live, Ordering::Relaxed);
            new.db.flush().map_err(engine)?;
            (new.db, generation)
        };
        if let Some(home) = &self.inner.home {
            let file = generation_file(home);
            let tmp = file.with_extension("generation.tmp");
            std::fs::write(&tmp, generation.to_string()).map_err(io)?;
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
            std::fs::rename(&tmp, &file).map_err(io)?;
            if let Some(parent) = file.parent() {
                std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io)?;
            }
        }
        let old = {
            let mut handles = self.inner.handles.write().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *handles, Handles::new(db, generation)?)
        };
        let old_generation = old.generation;
        drop(old);
        if let Some(home) = &self.inner.home {
            std::fs::remove_dir_all(generation_dir(home, old_generation)).map_err(io)?;
        }
        Ok(())
    }
}

/// Applies one write; how many bytes of keys and values it added (negative: freed).
fn apply_one(handles: &Handles, op: WriteOp) -> Result<i64, StorageError> {
    let key_len = |k: &[u8]| (k.len() + 1) as i64;
    match op {
        WriteOp::Put(t, k, v) => {
            let added = key_len(&k) + v.len() as i64;
            let old = handles.sled_tree(t).insert(prefixed(t, &k), v).map_err(engine)?;
            Ok(added - old.map_or(0, |o| key_len(&k) + o.len() as i64))
        }
        WriteOp::Delete(t, k) => {
            let old = handles.sled_tree(t).remove(prefixed(t, &k)).map_err(engine)?;
            Ok(-old.map_or(0, |o| key_len(&k) + o.len() as i64))
        }
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
    fn defragmentation_keeps_data_and_survives_reopen() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let home = dir.path().join("db");
        {
            let b = SledBackend::open(&home)?;
            let mut batch = WriteBatch::default();
            for i in 0..1000u32 {
                batch.put(Tree::Kv, i.to_be_bytes().to_vec(), vec![b'x'; 1000]);
            }
            batch.put(Tree::Snapshot, b"snap".to_vec(), b"s".to_vec());
            b.write(batch)?;
            let mut batch = WriteBatch::default();
            for i in 0..990u32 {
                batch.delete(Tree::Kv, i.to_be_bytes().to_vec());
            }
            b.write(batch)?;
            b.flush()?;
            b.defragment()?;
            assert_eq!(b.get(Tree::Kv, &999u32.to_be_bytes())?, Some(vec![b'x'; 1000]));
            assert_eq!(b.get(Tree::Kv, &0u32.to_be_bytes())?, None);
            // Writes after the switch land in the new generation.
            let mut batch = WriteBatch::default();
            batch.put(Tree::Meta, b"after".to_vec(), b"1".to_vec());
            b.write(batch)?;
            b.flush()?;
        }
        assert!(!home.exists(), "the old generation is removed");
        // A leftover of an interrupted copy into the next generation is ignored and removed.
        std::fs::create_dir_all(generation_dir(&home, 2))?;
        let b = SledBackend::open(&home)?;
        assert!(!generation_dir(&home, 2).exists());
        assert_eq!(b.get(Tree::Kv, &995u32.to_be_bytes())?, Some(vec![b'x'; 1000]));
        assert_eq!(b.get(Tree::Meta, b"after")?, Some(b"1".to_vec()));
        assert_eq!(b.get(Tree::Snapshot, b"snap")?, Some(b"s".to_vec()));
        Ok(())
    }

    #[test]
    fn bytes_in_use_follow_every_kind_of_write() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let home = dir.path().join("db");
        let b = SledBackend::open(&home)?;
        let base = b.size_in_use();
        let mut batch = WriteBatch::default();
        batch.put(Tree::Kv, b"k1".to_vec(), vec![0; 100]);
        batch.put(Tree::Meta, b"m".to_vec(), vec![0; 10]);
        b.write(batch)?;
        assert_eq!(b.size_in_use() - base, (3 + 100) + (2 + 10), "keys count with their tree prefix");
        let mut batch = WriteBatch::default();
        batch.put(Tree::Kv, b"k1".to_vec(), vec![0; 40]);
        batch.delete(Tree::Meta, b"m".to_vec());
        batch.delete(Tree::Meta, b"never-there".to_vec());
        batch.put(Tree::Snapshot, b"s".to_vec(), vec![0; 1000]);
        b.write_in_order(batch)?;
        assert_eq!(b.size_in_use() - base, (3 + 40) + (2 + 1000));
        let counted = b.size_in_use();
        b.defragment()?;
        assert_eq!(b.size_in_use(), counted, "a defragmentation recounts the same");
        b.flush()?;
        drop(b);
        assert_eq!(SledBackend::open(&home)?.size_in_use(), counted, "and so does opening");
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
