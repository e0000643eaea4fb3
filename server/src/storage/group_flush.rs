//! Group commit: one flush (fsync) makes every write queued before it durable, so writers
//! that arrive while a flush is in progress share the next one instead of each paying for
//! their own.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use super::Backend;

/// What to do once the writes before a flush are durable (or the flush failed).
pub type OnFlushed = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A thread that flushes the backend for whoever is waiting, one flush per group.
pub struct GroupFlusher {
    tx: mpsc::Sender<OnFlushed>,
}

impl GroupFlusher {
    /// Starts the flusher thread for `backend`; it ends when the flusher is dropped.
    pub fn start<B: Backend>(backend: Arc<B>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<OnFlushed>();
        thread::Builder::new().name("group-flush".into()).spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                group.extend(rx.try_iter());
                let started = std::time::Instant::now();
                let result = backend.flush().map_err(|e| e.to_string());
                crate::metrics::metrics().wal_fsync.observe(started.elapsed().as_secs_f64());
                tracing::trace!(waiters = group.len(), micros = started.elapsed().as_micros() as u64, "group flush");
                for done in group {
                    done(result.clone());
                }
            }
        })?;
        Ok(Self { tx })
    }

    /// Calls `done` once everything written so far is durable.
    pub fn after_flush(&self, done: OnFlushed) {
        if let Err(mpsc::SendError(done)) = self.tx.send(done) {
            done(Err("the flusher has stopped".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SledBackend, Tree, WriteBatch};

    #[test]
    fn every_waiter_is_told_after_the_flush() -> Result<(), Box<dyn std::error::Error>> {
        let backend = Arc::new(SledBackend::temporary()?);
        let flusher = GroupFlusher::start(backend.clone())?;
        let (tx, rx) = mpsc::channel();
        for i in 0..50u8 {
            let mut batch = WriteBatch::default();
            batch.put(Tree::Kv, vec![i], vec![i]);
            backend.write(batch)?;
            let tx = tx.clone();
            flusher.after_flush(Box::new(move |r| tx.send((i, r)).unwrap_or(())));
        }
        let mut seen: Vec<u8> =
            (0..50).map(|_| rx.recv().map(|(i, r)| r.map(|_| i))).collect::<Result<Result<_, _>, _>>()??;
        seen.sort();
        assert_eq!(seen, (0..50).collect::<Vec<u8>>());
        Ok(())
    }
}
