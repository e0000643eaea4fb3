//! Linearizable reads: a read index from the leader, fetched in rounds shared by every
//! read waiting when a round starts, then a wait until this member applied that far.

use std::time::Instant;

use openraft::async_runtime::WatchReceiver;
use openraft::{ReadPolicy, ServerState};
use tokio::sync::{mpsc, oneshot};

use super::{Node, REQUEST_TIMEOUT, RETRY_PAUSE, ReadWaiter};
use crate::error::{Error, Result};
use crate::raft::peer::PeerError;

impl Node {
    /// Waits until this member may serve a linearizable read: the leader confirmed its
    /// leadership after the call began (or is the only voter), and this member applied up
    /// to the leader's commit index.
    pub async fn linearizable(&self) -> Result<()> {
        let index = match self.sole_voter_read_index() {
            Some(index) => index,
            None => self.read_index().await?,
        };
        self.wait_applied(index, Instant::now() + REQUEST_TIMEOUT).await
    }

    /// The read index, without asking Raft's task, when this member leads and is the only
    /// voter (of every configuration in effect): no other member can commit anything, so
    /// there is no leadership to confirm, and the read index is its commit index once an
    /// entry of its own term is committed (before that, entries of earlier terms may still
    /// be committed after the read began). Raft would hand out the same index; this saves
    /// the hand-offs to its task and back on every read of a single-member cluster.
    fn sole_voter_read_index(&self) -> Option<u64> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let committed = m.local_committed.as_ref()?;
        let mut voters = m.membership_config.membership().voter_ids();
        let sole_leader = m.current_leader == Some(self.id)
            && m.state == ServerState::Leader
            && voters.next() == Some(self.id)
            && voters.next().is_none();
        (sole_leader && committed.committed_leader_id().term == m.current_term).then_some(committed.index)
    }

    async fn read_index(&self) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        self.reads.send(tx).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Serves read-index requests in rounds: every waiter queued before a round starts
    /// shares its answer, so many concurrent reads cost one leader round trip.
    pub(super) async fn read_index_rounds(self, mut rx: mpsc::UnboundedReceiver<ReadWaiter>) {
        while let Some(first) = rx.recv().await {
            let mut waiters = vec![first];
            while let Ok(w) = rx.try_recv() {
                waiters.push(w);
            }
            let index = self.fetch_read_index().await;
            // etcd counts a read index that timed out as slow, any other failure but its
            // stopping as failed.
            match &index {
                Err(Error::Timeout) => crate::metrics::metrics().slow_read_indexes.inc(),
                Err(Error::Stopped) | Ok(_) => {}
                Err(_) => crate::metrics::metrics().read_indexes_failed.inc(),
            }
            for w in waiters {
                w.send(index.clone()).ok();
            }
        }
    }

    async fn fetch_read_index(&self) -> Result<u64> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let leader = self.leader(deadline).await?;
            if leader == self.id {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, self.raft.ensure_linearizable(ReadPolicy::ReadIndex)).await {
                    Ok(Ok(read)) => return Ok(read.index()),
                    Ok(Err(e)) if e.forward_to_leader().is_none() => return Err(Error::Timeout),
                    Ok(Err(_)) => {}
                    // A leader without its quorum cannot confirm it still leads.
                    Err(_) => return Err(Error::Timeout),
                }
            } else if let Some(peer) = self.peer(leader) {
                let left = deadline.saturating_duration_since(Instant::now());
                match peer.call::<_, u64, _, _>(&(), left, |mut c, r| async move { c.read_index(r).await }).await {
                    Ok(index) => return Ok(index),
                    Err(PeerError::NotLeader(_) | PeerError::Unreachable(_) | PeerError::NotConnected(_)) => {}
                    Err(_) => return Err(Error::Timeout),
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
