//! Proposals a follower forwards to the leader travel in batches: one peer call carries
//! every proposal that was waiting, and a few calls travel at once, so under load many
//! proposals share a round trip while an idle member still forwards at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Executed, Node, Proposal};
use crate::raft::peer::PeerError;

/// Batches on their way to the leader at once.
const BATCHES_IN_FLIGHT: usize = 4;
/// Most proposals in one batch.
const MAX_BATCH: usize = 512;

/// A proposal waiting to be forwarded.
pub(super) struct Forward {
    /// The member it goes to.
    leader: u64,
    proposal: Proposal,
    /// When its caller gives up.
    deadline: Instant,
    reply: oneshot::Sender<Result<Executed, PeerError>>,
}

impl Node {
    /// Has `leader` carry out `proposal` (see [`Node::execute`] for what the errors mean).
    pub(super) async fn forward(
        &self,
        leader: u64,
        proposal: Proposal,
        deadline: Instant,
    ) -> Result<Executed, PeerError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || PeerError::NotConnected("this member is stopping".into());
        self.forwards.send(Forward { leader, proposal, deadline, reply }).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    /// Sends what [`Node::forward`] queues, in batches, until the member stops.
    pub(super) async fn forward_batches(self, mut queue: mpsc::UnboundedReceiver<Forward>) {
        let slots = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
        while let Some(first) = queue.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            // Whatever queued up while every slot was busy goes along.
            let mut by_leader: BTreeMap<u64, Vec<Forward>> = BTreeMap::new();
            let mut taken = 1;
            by_leader.entry(first.leader).or_default().push(first);
            while taken < MAX_BATCH
                && let Ok(f) = queue.try_recv()
            {
                by_leader.entry(f.leader).or_default().push(f);
                taken += 1;
            }
            let node = self.clone();
            tokio::spawn(async move {
                // Several leaders only while leadership changes hands.
                for (leader, batch) in by_leader {
                    node.send_batch(leader, batch).await;
                }
                drop(slot);
            });
        }
    }

    async fn send_batch(&self, leader: u64, batch: Vec<Forward>) {
        let Some(peer) = self.peer(leader) else {
            // The leader we knew was just removed; an election is under way.
            for f in batch {
                f.reply.send(Err(PeerError::NotLeader(None))).ok();
            }
            return;
        };
        let latest = batch.iter().map(|f| f.deadline).max().unwrap_or_else(Instant::now);
        let left = latest.saturating_duration_since(Instant::now());
        let proposals: Vec<&Proposal> = batch.iter().map(|f| &f.proposal).collect();
        let outcome = peer
            .call::<_, Vec<Result<Executed, PeerError>>, _, _>(&proposals, left, |mut c, r| async move {
                c.forward(r).await
            })
            .await;
        let outcome = outcome.and_then(|results| {
            if results.len() == batch.len() {
                Ok(results)
            } else {
                Err(PeerError::Failed(format!("{} answers to {} proposals", results.len(), batch.len())))
            }
        });
        match outcome {
            Ok(results) => {
                for (f, r) in batch.into_iter().zip(results) {
                    f.reply.send(r).ok();
                }
            }
            Err(e) => {
                for f in batch {
                    f.reply.send(Err(e.clone())).ok();
                }
            }
        }
    }
}
