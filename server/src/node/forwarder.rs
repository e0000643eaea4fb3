//! Proposals a follower forwards to the leader travel in batches: one peer call carries
//! every proposal that was waiting, and a few calls travel at once, so under load many
//! proposals share a round trip while an idle member still forwards at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Executed, Node, Proposal};
use crate::raft::peer::PeerError;
use crate::raft::types::encoded_len;

/// Batches on their way to the leader at once.
const BATCHES_IN_FLIGHT: usize = 4;
/// Most proposals in one batch.
const MAX_BATCH: usize = 512;
/// Most bytes of proposals in one batch, unless its first is larger: a batch travels as
/// one peer message, which may not exceed `MAX_PEER_MESSAGE` (64 MiB), and 64 clients'
/// puts of 1.5 MiB queued behind busy batches would.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// A proposal waiting to be forwarded.
pub(super) struct Forward {
    /// The member it goes to.
    leader: u64,
    proposal: Proposal,
    /// When its caller gives up.
    deadline: Instant,
    reply: oneshot::Sender<Result<Executed, PeerError>>,
}

/// A batch of `first` and whatever queued up behind it (while every slot was busy), by
/// leader, as far as it fits in [`MAX_BATCH`] proposals and [`MAX_BATCH_BYTES`]; and the
/// proposal taken off the queue that did not fit, which starts the next batch. Sizes are
/// only worked out once a second proposal comes: a lone one goes whatever its size.
fn gather(
    first: Forward,
    queue: &mut mpsc::UnboundedReceiver<Forward>,
) -> (BTreeMap<u64, Vec<Forward>>, Option<Forward>) {
    let mut batch = vec![first];
    let mut bytes = None;
    let mut left_over = None;
    while batch.len() < MAX_BATCH
        && let Ok(f) = queue.try_recv()
    {
        let so_far = *bytes.get_or_insert_with(|| encoded_len(&batch[0].proposal));
        let total = so_far.saturating_add(encoded_len(&f.proposal));
        if total > MAX_BATCH_BYTES {
            left_over = Some(f);
            break;
        }
        bytes = Some(total);
        batch.push(f);
    }
    let mut by_leader: BTreeMap<u64, Vec<Forward>> = BTreeMap::new();
    for f in batch {
        by_leader.entry(f.leader).or_default().push(f);
    }
    (by_leader, left_over)
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
        // A proposal taken off the queue that did not fit in the batch before.
        let mut left_over = None;
        loop {
            let first = match left_over.take() {
                Some(f) => f,
                None => match queue.recv().await {
                    Some(f) => f,
                    None => return,
                },
            };
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let (by_leader, rest) = gather(first, &mut queue);
            left_over = rest;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::mvcc::PutRequest;

    fn forward(leader: u64, value_bytes: usize) -> Forward {
        let put = PutRequest { key: b"k".to_vec(), value: vec![0; value_bytes], ..Default::default() };
        let proposal = Proposal::Command(Command::Put(put));
        let (reply, _) = oneshot::channel();
        Forward { leader, proposal, deadline: Instant::now(), reply }
    }

    fn sizes(batch: &BTreeMap<u64, Vec<Forward>>) -> Vec<(u64, usize)> {
        batch.iter().flat_map(|(l, fs)| fs.iter().map(|f| (*l, encoded_len(&f.proposal) / 1_000_000))).collect()
    }

    #[test]
    fn batches_stay_under_the_byte_budget_and_carry_the_rest_over() {
        let (tx, mut queue) = mpsc::unbounded_channel();
        for _ in 0..9 {
            tx.send(forward(1, 1_000_000)).ok();
        }
        // Four of 1 MB fit in 4 MiB; the fifth starts the next batch.
        let (batch, rest) = gather(forward(1, 1_000_000), &mut queue);
        assert_eq!(sizes(&batch), vec![(1, 1); 4]);
        let (batch, rest) = gather(rest.expect("carried over"), &mut queue);
        assert_eq!(sizes(&batch), vec![(1, 1); 4]);
        let (batch, rest) = gather(rest.expect("carried over"), &mut queue);
        assert_eq!((sizes(&batch), rest.is_none()), (vec![(1, 1); 2], true));
        // One proposal over the budget goes alone; small ones for two leaders share a batch.
        tx.send(forward(2, 10)).ok();
        tx.send(forward(1, 10)).ok();
        let (batch, rest) = gather(forward(1, 5_000_000), &mut queue);
        assert_eq!(sizes(&batch), vec![(1, 5)]);
        let (batch, rest) = gather(rest.expect("carried over"), &mut queue);
        assert_eq!((sizes(&batch), rest.is_none()), (vec![(1, 0), (2, 0)], true));
    }

    #[test]
    fn batches_hold_at_most_max_batch_proposals() {
        let (tx, mut queue) = mpsc::unbounded_channel();
        for _ in 0..MAX_BATCH + 5 {
            tx.send(forward(1, 0)).ok();
        }
        let (batch, rest) = gather(forward(1, 0), &mut queue);
        assert_eq!((batch[&1].len(), rest.is_none()), (MAX_BATCH, true));
        assert_eq!(queue.len(), 6);
    }
}
