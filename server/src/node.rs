//! The write path of a member: propose → append to the log (fsync) → apply in log order
//! → answer. Reads go straight to the applied state.
//!
//! A single member commits an entry as soon as it is durable in its own log; the shapes
//! (command, log index, apply, applied index) are the ones a replicated log plugs into.
//! Proposals are grouped: one fsync covers every proposal waiting at that moment, which is
//! where throughput under many clients comes from.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, CommandResponse};
use crate::error::{Error, Result};
use crate::state_machine::StateMachine;
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Most proposals that share one log append.
const MAX_GROUP: usize = 1024;
/// Proposals that may wait for the log before proposers are slowed down.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<CommandResponse>>;

/// Handle to a running member's state. Cheap to clone.
pub struct Node<B> {
    state: Arc<RwLock<StateMachine<B>>>,
    proposals: mpsc::Sender<(Command, Reply)>,
}

impl<B> Clone for Node<B> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            proposals: self.proposals.clone(),
        }
    }
}

impl<B: Backend> Node<B> {
    /// Opens the state in `backend`, re-applies log entries the state had not recorded as
    /// applied before a crash, and starts the log writer thread.
    pub fn start(backend: Arc<B>) -> Result<Self> {
        let mut sm = StateMachine::open(backend.clone())?;
        let mut last = sm.applied_index();
        let mut unapplied = Vec::new();
        backend.scan(Tree::Log, .., &mut |k, v| {
            let index = u64::from_be_bytes(k.try_into().map_err(|_| corrupt_log("bad index"))?);
            if index > sm.applied_index() {
                unapplied.push((index, Command::decode(v).map_err(corrupt_log)?));
            }
            last = last.max(index);
            Ok(true)
        })?;
        for (index, cmd) in unapplied {
            // Rejections were rejections the first time too; only storage failures matter.
            sm.apply(index, &cmd)?.ok();
        }
        let state = Arc::new(RwLock::new(sm));
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = LogWriter {
            backend,
            state: state.clone(),
            next: last + 1,
            purge_upto: last,
        };
        thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::Storage(format!("cannot start the log writer: {e}")))?;
        Ok(Self {
            state,
            proposals: tx,
        })
    }

    /// Proposes a change and waits until it is applied.
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse> {
        let (tx, rx) = oneshot::channel();
        self.proposals
            .send((cmd, tx))
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Read access to the applied state.
    pub fn read(&self) -> RwLockReadGuard<'_, StateMachine<B>> {
        // A writer that panicked mid-apply poisons the lock; the state it left is still
        // the last consistent one the reader can see, as the batch was not written.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn corrupt_log(reason: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        tree: Tree::Log.name(),
        reason: reason.into(),
    }
}

/// Owns the log: appends groups of proposals, makes them durable, applies them.
struct LogWriter<B> {
    backend: Arc<B>,
    state: Arc<RwLock<StateMachine<B>>>,
    next: u64,
    /// Entries up to here are applied; their log records can go.
    purge_upto: u64,
}

impl<B: Backend> LogWriter<B> {
    fn run(mut self, mut rx: mpsc::Receiver<(Command, Reply)>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(p) => group.push(p),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.commit(&mut group) {
                // The log or the state can no longer be trusted: refuse everything after.
                tracing::error!(error = %e, "storage failure; the member stops accepting writes");
                for (_, reply) in group.drain(..) {
                    reply.send(Err(e.clone())).ok();
                }
                return;
            }
        }
    }

    fn commit(&mut self, group: &mut Vec<(Command, Reply)>) -> Result<()> {
        let first = self.next;
        let mut batch = WriteBatch::default();
        for (i, (cmd, _)) in group.iter().enumerate() {
            let bytes = cmd.encode().map_err(Error::Storage)?;
            batch.put(Tree::Log, (first + i as u64).to_be_bytes(), bytes);
        }
        // Entries applied before this group are durable once this flush returns, so
        // their log records are no longer needed after it.
        for index in self.purge_upto + 1..first {
            batch.delete(Tree::Log, index.to_be_bytes());
        }
        self.backend.write(batch)?;
        self.backend.flush()?;
        self.purge_upto = first - 1;
        self.next = first + group.len() as u64;

        let mut sm = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (i, (cmd, reply)) in group.drain(..).enumerate() {
            let out = sm.apply(first + i as u64, &cmd)?;
            reply.send(out).ok();
        }
        Ok(())
    }
}
