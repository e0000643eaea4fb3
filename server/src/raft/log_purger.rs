//! Removes purged log entries in the background.
//!
//! Raft purges the log behind every snapshot: often a hundred thousand entries at once.
//! Removing them one by one took the log store seconds, and appends (so every write of the
//! cluster) waited behind it. A purge now only records how far the log is purged; this
//! thread removes the entries afterwards, in small groups, beside the appends. Entries at
//! or below the purge point are never read again, so until they are gone they are only
//! space.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use super::log_store::index_key;
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Entries removed per backend write.
const CHUNK: usize = 1024;

/// The thread removing purged entries; it ends when this is dropped.
pub struct LogPurger {
    tx: mpsc::Sender<u64>,
    removed: tokio::sync::watch::Receiver<u64>,
}

impl LogPurger {
    /// Starts the thread. Entries at or below `purged` (what the last run may have left
    /// behind, say after a crash) are removed first.
    pub fn start<B: Backend>(backend: Arc<B>, purged: Option<u64>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<u64>();
        let (removed_tx, removed) = tokio::sync::watch::channel(0);
        thread::Builder::new().name("log-purge".into()).spawn(move || {
            // Everything below `from` is removed already.
            let mut from = 0;
            let mut next = purged;
            loop {
                // A purge point behind what is removed already changes nothing.
                if let Some(upto) = next.filter(|&upto| upto >= from) {
                    match remove(&*backend, from, upto) {
                        Ok(()) => {
                            from = from.max(upto.saturating_add(1));
                            removed_tx.send_replace(upto);
                        }
                        // Left for the next purge (or the next start) to retry.
                        Err(e) => tracing::warn!(error = %e, upto, "removing purged log entries"),
                    }
                }
                // The latest purge point only: it covers every earlier one.
                match rx.recv() {
                    Ok(upto) => next = Some(rx.try_iter().fold(upto, u64::max)),
                    Err(_) => return,
                }
            }
        })?;
        Ok(Self { tx, removed })
    }

    /// The index up to which entries are removed, as it moves.
    pub fn removed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.removed.clone()
    }

    /// Asks for every entry up to index `upto` to be removed.
    pub fn purge(&self, upto: u64) {
        // Only fails once the thread is gone (at shutdown); the next start removes them.
        let _ = self.tx.send(upto);
    }
}

/// Removes the log entries with indexes in `from..=upto`, a group at a time, by index
/// without reading them. The log is contiguous except where a follower installed a
/// snapshot ahead of it (its old entries, a gap, then the entries after the snapshot), so
/// each group starts at the next entry that exists and no gap costs a removal per index.
///
/// Between groups the thread rests twice as long as the group took, so a purge of a
/// hundred thousand entries never takes more than a third of a CPU from the requests
/// (etcd paces its compaction the same way: batches of 1,000 keys, 10 ms apart).
fn remove<B: Backend>(backend: &B, from: u64, upto: u64) -> Result<(), StorageError> {
    let mut from = from;
    while let Some(start) = first_at_or_after(backend, from, upto)? {
        let last = start.saturating_add(CHUNK as u64 - 1).min(upto);
        let mut batch = WriteBatch::default();
        for index in start..=last {
            batch.delete(Tree::Log, index_key(index));
        }
        let began = Instant::now();
        // In order, not atomic: any prefix of the removals is fine.
        backend.write_in_order(batch)?;
        match last.checked_add(1) {
            Some(next) if next <= upto => from = next,
            _ => return Ok(()),
        }
        thread::sleep(began.elapsed() * 2);
    }
    Ok(())
}

/// The index of the first log entry in `from..=upto`, if there is one.
fn first_at_or_after<B: Backend>(backend: &B, from: u64, upto: u64) -> Result<Option<u64>, StorageError> {
    let mut first = None;
    backend.scan(Tree::Log, index_key(from)..=index_key(upto), &mut |k, _| {
        let index = k.try_into().map(u64::from_be_bytes).map_err(|_| StorageError::Corrupt {
            tree: Tree::Log.name(),
            reason: "a log key is not an index".into(),
        })?;
        first = Some(index);
        Ok(false)
    })?;
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SledBackend;

    fn indexes(b: &SledBackend) -> Result<Vec<u64>, StorageError> {
        let mut out = Vec::new();
        b.scan(Tree::Log, .., &mut |k, _| {
            out.push(u64::from_be_bytes(k.try_into().unwrap_or_default()));
            Ok(true)
        })?;
        Ok(out)
    }

    fn wait_for(b: &SledBackend, first: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
        for _ in 0..500 {
            let left = indexes(b)?;
            if left.first().is_none_or(|&i| i >= first) {
                return Ok(left);
            }
            thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(format!("entries below {first} were not removed").into())
    }

    #[test]
    fn purged_entries_go_and_later_ones_stay() -> Result<(), Box<dyn std::error::Error>> {
        let b = Arc::new(SledBackend::temporary()?);
        let mut batch = WriteBatch::default();
        // With a hole, which a purge must not stop at.
        for i in (1..=5000u64).filter(|i| !(100..200).contains(i)) {
            batch.put(Tree::Log, index_key(i), vec![1]);
        }
        b.write(batch)?;
        // Left behind by an earlier run: removed at start.
        let purger = LogPurger::start(b.clone(), Some(10))?;
        assert_eq!(wait_for(&b, 11)?.len(), 4890);
        purger.purge(3000);
        let left = wait_for(&b, 3001)?;
        let removed = purger.removed();
        for _ in 0..100 {
            if *removed.borrow() == 3000 {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(*removed.borrow(), 3000, "progress is told");
        // An earlier purge point, handled on its own, changes nothing.
        purger.purge(2500);
        thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(*removed.borrow(), 3000, "progress never goes back");
        assert_eq!(left, (3001..=5000).collect::<Vec<_>>());
        assert_eq!(indexes(&b)?, left);
        purger.purge(u64::MAX);
        assert!(wait_for(&b, u64::MAX)?.is_empty(), "a purge past the last entry removes all");
        Ok(())
    }

    #[test]
    fn a_gap_left_by_an_installed_snapshot_is_skipped() -> Result<(), Box<dyn std::error::Error>> {
        let b = Arc::new(SledBackend::temporary()?);
        let mut batch = WriteBatch::default();
        // Old entries, then (after a snapshot at 10,000,000 was installed) the next ones.
        for i in (1..=100u64).chain(10_000_001..=10_000_010) {
            batch.put(Tree::Log, index_key(i), vec![1]);
        }
        b.write(batch)?;
        let purger = LogPurger::start(b.clone(), None)?;
        // Removing ten million indexes one by one would take minutes.
        purger.purge(10_000_005);
        assert_eq!(wait_for(&b, 10_000_006)?, (10_000_006..=10_000_010).collect::<Vec<_>>());
        Ok(())
    }
}
