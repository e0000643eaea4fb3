//! Sweeps the records compactions discarded out of the backend, a group at a time.
//!
//! A compaction only drops history from the index (see [`crate::mvcc::MvccStore`]); this
//! task removes the records afterwards, beside the writes, and pauses between groups, as
//! etcd removes a compaction's keys in batches of 1,000 with pauses between them. A crash
//! mid-sweep loses nothing: the reopened store finds the discarded records again.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::SmStore;
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Records removed per backend write.
const CHUNK: usize = 1000;

/// How long a failed step waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

impl<B: Backend> SmStore<B> {
    /// Starts the sweep task unless it runs already or nothing is left to sweep.
    pub fn sweep_if_needed(&self) {
        if self.read().mvcc().has_discarded() {
            self.start_sweep();
        }
    }

    /// Starts the sweep task unless it runs already.
    pub(super) fn start_sweep(&self) {
        if !self.sweeping.swap(true, Ordering::SeqCst) {
            tokio::spawn(self.clone().sweep());
        }
    }

    /// Sweeps without resting until every compaction applied so far is physically done
    /// (a defragmentation waits for this: it copies whatever is still stored).
    pub async fn sweep_now(&self) {
        let target = self.read().mvcc().compacted_revision();
        self.hurry.store(true, Ordering::SeqCst);
        self.sweep_if_needed();
        // Fails only if the sender is gone, which `self` keeps alive.
        let _ = self.swept.subscribe().wait_for(|&done| done >= target).await;
        self.hurry.store(false, Ordering::SeqCst);
    }

    /// Tells physical compactions that the sweep got to `now`, if that moved.
    pub(super) fn publish_swept(&self, now: i64) {
        self.swept.send_if_modified(|s| std::mem::replace(s, now) != now);
    }

    /// Sweeps until nothing discarded is left. Between groups it rests twice as long as the
    /// group took, so a sweep never takes more than a third of a CPU from the requests
    /// (unless a defragmentation waits for it).
    async fn sweep(self) {
        loop {
            // Exports read records: none runs while a group is removed.
            let no_export = self.records.clone().write_owned().await;
            let store = self.clone();
            let step = tokio::task::spawn_blocking(move || {
                let _no_export = no_export;
                let began = Instant::now();
                store.sweep_step().map(|n| (n, began.elapsed()))
            })
            .await;
            self.publish_swept(self.read().mvcc().physically_compacted());
            match step {
                Ok(Ok((0, _))) => {
                    self.sweeping.store(false, Ordering::SeqCst);
                    // A compaction applied since the last step saw the task running and
                    // started none: look again.
                    if !self.read().mvcc().has_discarded() || self.sweeping.swap(true, Ordering::SeqCst) {
                        return;
                    }
                }
                Ok(Ok((_, took))) => {
                    if !self.hurry.load(Ordering::SeqCst) {
                        tokio::time::sleep(took * 2).await;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "removing compacted records");
                    tokio::time::sleep(RETRY).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the compaction sweep stopped");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Removes up to [`CHUNK`] discarded records and flushes (blocking); how many it
    /// removed.
    fn sweep_step(&self) -> Result<usize, StorageError> {
        let revs = self.read().mvcc().discarded(CHUNK);
        if revs.is_empty() {
            return Ok(0);
        }
        let mut batch = WriteBatch::default();
        for rev in &revs {
            batch.delete(Tree::Kv, rev.to_bytes().to_vec());
        }
        // Any prefix of the removals is fine: the records are unreachable already.
        self.backend.write_in_order(batch)?;
        self.write().discarded_removed(&revs);
        crate::metrics::metrics().compaction_keys.inc_by(revs.len() as u64);
        // Written out now, off the request path: the next log flush would otherwise carry
        // every group removed since the last one, and a put would wait for all of it.
        self.backend.flush()?;
        Ok(revs.len())
    }
}
