//! A running member: its Raft instance, its state, and the request paths on top.
//!
//! Writes become log entries: on the leader through `client_write`, on a follower by
//! forwarding to the leader over the peer service. Linearizable reads wait for a read
//! index from the leader (one round serves every read that was waiting when it started)
//! and then read the local state once it has applied that far.

use std::collections::BTreeMap;
use std::sync::RwLockReadGuard;
use std::time::{Duration, Instant};

use openraft::ReadPolicy;
use openraft::async_runtime::WatchReceiver;
use openraft::metrics::RaftMetrics;
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, CommandResponse};
use crate::error::{Error, Result};
use crate::raft::network::Peer;
use crate::raft::peer::PeerError;
use crate::raft::state_machine::SmStore;
use crate::raft::types::{PeerNode, Raft, TypeConfig};
use crate::state_machine::StateMachine;
use crate::storage::SledBackend;

/// How long a request may wait for a leader, a commit or a read index (etcd's default
/// request timeout is 5 s plus two election timeouts).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(7);
/// Pause between attempts while there is no usable leader.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

type ReadWaiter = oneshot::Sender<Result<u64>>;

/// A forwarded proposal's outcome and the log index it was applied at.
pub type Forwarded = (crate::command::Reply, u64);

/// Handle to a running member. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    raft: Raft,
    sm: SmStore<SledBackend>,
    id: u64,
    cluster_id: u64,
    reads: mpsc::UnboundedSender<ReadWaiter>,
}

/// Raft-level facts for Status and response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftStatus {
    /// The leader's id, or 0.
    pub leader: u64,
    /// The current term.
    pub term: u64,
    /// Index of the last log entry.
    pub last_index: u64,
    /// Index of the last applied entry.
    pub applied_index: u64,
    /// Whether this member is a learner.
    pub is_learner: bool,
}

impl Node {
    /// Wraps a started Raft instance and its state machine.
    pub fn new(raft: Raft, sm: SmStore<SledBackend>, id: u64, cluster_id: u64) -> Self {
        let (reads, rx) = mpsc::unbounded_channel();
        let node = Self { raft, sm, id, cluster_id, reads };
        tokio::spawn(node.clone().read_index_rounds(rx));
        node
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Read access to the applied state.
    pub fn read(&self) -> RwLockReadGuard<'_, StateMachine<SledBackend>> {
        self.sm.read()
    }

    fn metrics(&self) -> RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    /// Leader, term, indexes.
    pub fn status(&self) -> RaftStatus {
        let m = self.metrics();
        RaftStatus {
            leader: m.current_leader.unwrap_or(0),
            term: m.current_term,
            last_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.as_ref().map_or(0, |l| l.index),
            is_learner: m.membership_config.membership().learner_ids().any(|id| id == self.id),
        }
    }

    /// The current term (cheap: no copy of the metrics).
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow_watched().current_term
    }

    /// Ids of the voting members.
    pub fn voters(&self) -> Vec<u64> {
        self.metrics().membership_config.membership().voter_ids().collect()
    }

    /// Every member with its Raft-level description, and the ids of learners.
    pub fn members(&self) -> (BTreeMap<u64, PeerNode>, Vec<u64>) {
        let m = self.metrics();
        let mem = m.membership_config.membership();
        (mem.nodes().map(|(id, n)| (*id, n.clone())).collect(), mem.learner_ids().collect())
    }

    /// A client for member `id`, if it is in the membership.
    pub fn peer(&self, id: u64) -> Option<Peer> {
        let m = self.metrics();
        m.membership_config.membership().get_node(&id).map(|n| Peer::new(self.cluster_id, id, n))
    }

    /// Waits until someone leads, or the deadline passes.
    async fn leader(&self, deadline: Instant) -> Result<u64> {
        let mut rx = self.raft.metrics();
        loop {
            if let Some(l) = rx.borrow_watched().current_leader {
                return Ok(l);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, rx.changed()).await.is_err() {
                return Err(Error::NoLeader);
            }
        }
    }

    /// Proposes a change and waits until it is applied here.
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let leader = self.leader(deadline).await?;
            if leader == self.id {
                match self.raft.client_write(cmd.clone()).await {
                    Ok(r) => return r.data,
                    // Refused before it was appended: safe to try again.
                    Err(e) if e.forward_to_leader().is_some() => {}
                    Err(e) if e.api_error().is_some() => return Err(Error::LeaderChanged),
                    Err(_) => return Err(Error::Stopped),
                }
            } else {
                let peer = self.peer(leader).ok_or(Error::NoLeader)?;
                let left = deadline.saturating_duration_since(Instant::now());
                let forwarded =
                    peer.call::<_, Forwarded, _, _>(&cmd, left, |mut c, r| async move { c.forward(r).await });
                match forwarded.await {
                    Ok((reply, index)) => {
                        // Applied on the leader at `index`; answer once it is applied here
                        // too, so the client can read its own write from this member.
                        self.wait_applied(index, deadline).await?;
                        return reply;
                    }
                    // Refused, or never delivered: safe to try again.
                    Err(PeerError::NotLeader(_) | PeerError::NotConnected(_)) => {}
                    // It may or may not have been applied: never send it twice.
                    Err(_) => return Err(Error::Timeout),
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    async fn wait_applied(&self, index: u64, deadline: Instant) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.raft
            .wait(Some(left))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map(|_| ())
            .map_err(|_| Error::Timeout)
    }

    /// Waits until this member may serve a linearizable read: the leader confirmed its
    /// leadership after the call began, and this member applied up to its commit index.
    pub async fn linearizable(&self) -> Result<()> {
        let index = self.read_index().await?;
        self.wait_applied(index, Instant::now() + REQUEST_TIMEOUT).await
    }

    async fn read_index(&self) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        self.reads.send(tx).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Serves read-index requests in rounds: every waiter queued before a round starts
    /// shares its answer, so many concurrent reads cost one leader round trip.
    async fn read_index_rounds(self, mut rx: mpsc::UnboundedReceiver<ReadWaiter>) {
        while let Some(first) = rx.recv().await {
            let mut waiters = vec![first];
            while let Ok(w) = rx.try_recv() {
                waiters.push(w);
            }
            let index = self.fetch_read_index().await;
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
                match self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
                    Ok(read) => return Ok(read.index()),
                    Err(e) if e.forward_to_leader().is_none() => return Err(Error::Timeout),
                    Err(_) => {}
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
