//! A running member: its Raft instance, its state, and the request paths on top.
//!
//! Writes become log entries: on the leader through `client_write`, on a follower by
//! forwarding to the leader over the peer service, in batches. Linearizable reads wait
//! for a read index from the leader (one round serves every read that was waiting when
//! it started) and then read the local state once it has applied that far.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLockReadGuard};
use std::time::{Duration, Instant};

use openraft::async_runtime::WatchReceiver;
use openraft::metrics::RaftMetrics;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

mod forwarder;
mod lessor;
mod members;
mod read_index;

pub use members::MemberInfo;

use crate::command::{Command, CommandResponse, Reply};
use crate::error::{Error, Result};
use crate::raft::network::Peer;
use crate::raft::peer::PeerError;
use crate::raft::state_machine::{Export, SmStore};
use crate::raft::stats::PeerStats;
use crate::raft::types::{PeerNode, Raft, TypeConfig};
use crate::state_machine::StateMachine;
use crate::storage::{Defragmented, SledBackend};

/// How long a request may wait for a leader, a commit or a read index (etcd's default
/// request timeout is 5 s plus two election timeouts).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(7);
/// How far this member's applies may trail its commits before it refuses new commands
/// (etcd's `maxGapBetweenApplyAndCommitIndex`): the backlog holds memory and delays
/// every reply, and more proposals only lengthen it.
const MAX_APPLY_BACKLOG: u64 = 5000;
/// The longest a membership change's answer waits for Raft's metrics to show it.
const MEMBERSHIP_PUBLISH_WAIT: Duration = Duration::from_millis(500);
/// Pause between attempts while there is no usable leader.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

type ReadWaiter = oneshot::Sender<Result<u64>>;

/// A proposal's outcome and the log index at which it took effect.
pub type Executed = (Reply, u64);

/// What a member asks the leader to do: a state change, or a membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proposal {
    /// Append a command to the log.
    Command(Command),
    /// Add a member (as a learner, or as a voter).
    AddMember {
        /// Its id.
        id: u64,
        /// Its peer URLs.
        peer_urls: Vec<String>,
        /// Whether it joins as a learner.
        learner: bool,
    },
    /// Remove a member.
    RemoveMember {
        /// Its id.
        id: u64,
    },
    /// Change a member's peer URLs.
    UpdateMember {
        /// Its id.
        id: u64,
        /// The new peer URLs.
        peer_urls: Vec<String>,
    },
    /// Make a learner a voter.
    PromoteMember {
        /// Its id.
        id: u64,
    },
    /// Restart the clocks of leases (keep-alives a follower gathered); only the leader
    /// keeps lease clocks.
    LeaseRenew {
        /// The leases.
        ids: Vec<i64>,
    },
    /// Read a lease's remaining TTL from the leader's clock.
    LeaseTimeToLive {
        /// The lease.
        id: i64,
    },
}

/// Whether `proposal` is one etcd refuses while applies trail commits: every v3 command
/// (its internal Raft requests), but not v2 writes, a member publishing its attributes,
/// membership changes or lease renewals, which etcd proposes by other paths.
fn refused_for_backlog(proposal: &Proposal) -> bool {
    matches!(
        proposal,
        Proposal::Command(cmd)
            if !matches!(cmd, Command::V2(_) | Command::V2Expire { .. } | Command::PublishMember { .. })
    )
}

/// `TooManyRequests` if more than [`MAX_APPLY_BACKLOG`] committed entries wait to be
/// applied.
fn check_backlog(committed: Option<u64>, applied: Option<u64>) -> Result<()> {
    let backlog = committed.unwrap_or(0).saturating_sub(applied.unwrap_or(0));
    if backlog > MAX_APPLY_BACKLOG { Err(Error::TooManyRequests) } else { Ok(()) }
}

/// Counts a proposal in `etcd_server_proposals_pending` while it lives (also when the
/// client gives up and the future is dropped).
struct PendingProposal;

impl PendingProposal {
    fn new() -> Self {
        crate::metrics::metrics().proposals_pending.inc();
        PendingProposal
    }
}

impl Drop for PendingProposal {
    fn drop(&mut self) {
        crate::metrics::metrics().proposals_pending.dec();
    }
}

/// Handle to a running member. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    raft: Raft,
    sm: SmStore<SledBackend>,
    /// How far purged log entries are removed from the database.
    log_removed: tokio::sync::watch::Receiver<u64>,
    id: u64,
    cluster_id: u64,
    reads: mpsc::UnboundedSender<ReadWaiter>,
    /// Keep-alives waiting to be forwarded to the leader in the next round.
    renewals: mpsc::UnboundedSender<lessor::RenewWaiter>,
    /// Proposals waiting to be forwarded to the leader.
    forwards: mpsc::UnboundedSender<forwarder::Forward>,
    /// Connections to other members, reused across forwarded requests and read indexes.
    peers: Arc<Mutex<HashMap<u64, (PeerNode, Peer)>>>,
    /// AppendEntries traffic.
    peer_stats: Arc<PeerStats>,
    /// Lease clocks, kept while this member leads.
    lessor: Arc<Mutex<lessor::Lessor>>,
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
    /// Wraps a started Raft instance, its state machine and its log's removal progress.
    pub fn new(
        raft: Raft,
        sm: SmStore<SledBackend>,
        log_removed: tokio::sync::watch::Receiver<u64>,
        id: u64,
        cluster_id: u64,
        peer_stats: Arc<PeerStats>,
    ) -> Self {
        let (reads, rx) = mpsc::unbounded_channel();
        let (renewals, renewals_rx) = mpsc::unbounded_channel();
        let (forwards, forwards_rx) = mpsc::unbounded_channel();
        let node = Self {
            raft,
            sm,
            log_removed,
            id,
            cluster_id,
            reads,
            peers: Arc::default(),
            peer_stats,
            lessor: Arc::default(),
            renewals,
            forwards,
        };
        // What a sweep cut short at the last stop is removed now, not at the next write.
        node.sm.sweep_if_needed();
        tokio::spawn(node.clone().read_index_rounds(rx));
        tokio::spawn(node.clone().renewal_rounds(renewals_rx));
        tokio::spawn(node.clone().forward_batches(forwards_rx));
        node
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The v3 store revision as this member applies: changes wake watchers.
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<i64> {
        self.sm.revisions()
    }

    /// Waits until this member removed every record a compaction at `revision` discarded
    /// (a physical compaction's reply waits for it, as etcd's does). The sweep goes in
    /// revision order, so it waits for records other compactions discarded at or below
    /// `revision` too, but never for ones above it.
    pub async fn physically_compacted(&self, revision: i64) {
        // Fails only once the state machine is gone, at shutdown.
        let _ = self.sm.physically_compacted().wait_for(|&done| done >= revision).await;
    }

    /// AppendEntries counts and round trips.
    pub fn peer_stats(&self) -> &PeerStats {
        &self.peer_stats
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Stops Raft and makes the applied state durable.
    pub async fn stop(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        if let Err(e) = self.sm.flush() {
            tracing::warn!(error = %e, "flushing the state at shutdown");
        }
    }

    /// Bytes the member's database occupies on disk.
    pub fn db_size(&self) -> Result<u64> {
        Ok(self.sm.size_on_disk()?)
    }

    /// Bytes of the database in use (its keys and values; the rest is reclaimable).
    pub fn db_size_in_use(&self) -> u64 {
        self.sm.size_in_use()
    }

    /// Rewrites this member's database compactly (etcd's defragmentation, which is local
    /// to a member too), after cutting the log.
    pub async fn defragment(&self) -> Result<Defragmented> {
        let started = Instant::now();
        self.compact_log().await;
        tracing::debug!(took_ms = started.elapsed().as_millis() as u64, "log cut before defragmentation");
        // The copy takes whatever is stored: compacted records first go.
        self.sm.sweep_now().await;
        let sm = self.sm.clone();
        let done = tokio::task::spawn_blocking(move || sm.defragment())
            .await
            .map_err(|e| Error::Storage(format!("defragmentation stopped: {e}")))??;
        Ok(Defragmented { took: started.elapsed(), ..done })
    }

    /// The log shares the database, so before a defragmentation the log is cut behind a
    /// fresh snapshot (a follower that still needed the purged entries gets the snapshot).
    /// Best effort: the defragmentation goes on if this does not finish in time.
    async fn compact_log(&self) {
        let applied = self.term_and_applied().1;
        if self.raft.trigger().snapshot().await.is_err() {
            return;
        }
        let Ok(m) = self
            .raft
            .wait(Some(REQUEST_TIMEOUT))
            .metrics(|m| m.snapshot.as_ref().is_some_and(|s| s.index >= applied), "snapshot before defragmentation")
            .await
        else {
            return;
        };
        let Some(upto) = m.snapshot.map(|s| s.index) else { return };
        if self.raft.trigger().purge_log(upto).await.is_err() {
            return;
        }
        let purged = self
            .raft
            .wait(Some(Duration::from_secs(2)))
            .metrics(|m| m.purged.as_ref().is_some_and(|p| p.index >= upto), "log purged before defragmentation")
            .await;
        if purged.is_err() {
            tracing::info!(upto, "the log purge was still pending when defragmentation started");
            return;
        }
        // The entries go in the background; a copy made meanwhile would carry them.
        let mut removed = self.log_removed.clone();
        let removed = tokio::time::timeout(REQUEST_TIMEOUT * 4, removed.wait_for(|r| *r >= upto)).await;
        if !matches!(removed, Ok(Ok(_))) {
            tracing::info!(upto, "purged log entries were still being removed when defragmentation started");
        }
    }

    /// Where a snapshot sent by the leader is received.
    pub fn incoming_snapshot(&self) -> Result<crate::storage::BlobWriter, crate::storage::StorageError> {
        self.sm.incoming_snapshot()
    }

    /// Starts copying the applied state (see [`Export`]).
    pub async fn export(&self) -> Export<SledBackend> {
        self.sm.export().await
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

    /// Whether this member leads now (cheap: no copy of the metrics).
    pub fn leads(&self) -> bool {
        self.raft.metrics().borrow_watched().current_leader == Some(self.id)
    }

    /// The current term and this member's applied index (cheap: no copy of the metrics).
    pub fn term_and_applied(&self) -> (u64, u64) {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        (m.current_term, m.last_applied.as_ref().map_or(0, |l| l.index))
    }

    /// The index of the last committed entry this member knows of.
    pub fn committed_index(&self) -> u64 {
        self.raft.metrics().borrow_watched().local_committed.as_ref().map_or(0, |l| l.index)
    }

    /// Completes when the leader this member sees changes (to another member or to none),
    /// with the new one.
    pub async fn leader_change(&self, known: Option<u64>) -> Option<u64> {
        let mut rx = self.raft.metrics();
        loop {
            let now = rx.borrow_watched().current_leader;
            if now != known {
                return now;
            }
            if rx.changed().await.is_err() {
                // Raft stopped: no more changes will come.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Completes if Raft stops by itself, on a fatal error (a log write that failed: a
    /// full disk, say), with the error.
    pub async fn raft_failed(&self) -> String {
        let mut rx = self.raft.metrics();
        loop {
            if let Err(fatal) = &rx.borrow_watched().running_state {
                return fatal.to_string();
            }
            if rx.changed().await.is_err() {
                return "Raft stopped".into();
            }
        }
    }

    /// The current term (cheap: no copy of the metrics).
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow_watched().current_term
    }

    /// Fails with etcd's learner error if this member is a learner: a learner serves only
    /// Status and serializable reads.
    pub fn refuse_if_learner(&self) -> Result<()> {
        let learner =
            self.raft.metrics().borrow_watched().membership_config.membership().learner_ids().any(|l| l == self.id);
        if learner { Err(Error::NotSupportedForLearner) } else { Ok(()) }
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
        let node = self.raft.metrics().borrow_watched().membership_config.membership().get_node(&id).cloned()?;
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        match peers.get(&id) {
            // Same URLs as when we connected: reuse the connection.
            Some((known, peer)) if *known == node => Some(peer.clone()),
            _ => {
                let peer = Peer::new(self.cluster_id, id, &node);
                peers.insert(id, (node, peer.clone()));
                Some(peer)
            }
        }
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
        self.submit(Proposal::Command(cmd)).await?
    }

    /// Has the leader carry out `proposal`, and waits until this member has applied its
    /// effect, so the client can read its own write here. Retries only where the proposal
    /// certainly did not take effect; otherwise it never sends it twice.
    pub async fn submit(&self, proposal: Proposal) -> Result<Reply> {
        if refused_for_backlog(&proposal) {
            let m = self.raft.metrics();
            let m = m.borrow_watched();
            check_backlog(m.local_committed.as_ref().map(|l| l.index), m.last_applied.as_ref().map(|l| l.index))?;
        }
        let _pending = PendingProposal::new();
        let outcome = self.submit_once(proposal).await;
        // A command the state machine rejected was committed all the same; only proposals
        // that did not make it (no leader, timeout, leader change) count as failed.
        if outcome.is_err() {
            crate::metrics::metrics().proposals_failed.inc();
        }
        outcome
    }

    async fn submit_once(&self, proposal: Proposal) -> Result<Reply> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let leader = self.leader(deadline).await?;
            // Forwarding and membership changes (`execute_now`) are boxed: inline, they
            // made the future of every proposal, which is moved into boxes per request,
            // 5,608 bytes instead of 3,416.
            let local = leader == self.id;
            let outcome = if local {
                self.execute(&proposal).await
            } else {
                Box::pin(self.forward(leader, proposal.clone(), deadline)).await
            };
            match outcome {
                Ok((reply, index)) => {
                    // A command's reply from this member's own Raft comes from applying
                    // its entry here: nothing to wait for, and no read of the state
                    // machine's lock, which the applier holds for writing, under every
                    // local write.
                    if !(local && matches!(proposal, Proposal::Command(_))) {
                        self.wait_applied(index, deadline).await?;
                    }
                    if !matches!(
                        proposal,
                        Proposal::Command(_) | Proposal::LeaseRenew { .. } | Proposal::LeaseTimeToLive { .. }
                    ) {
                        self.wait_membership(index).await;
                    }
                    return Ok(reply);
                }
                // Refused, or never delivered: safe to try again.
                Err(PeerError::NotLeader(_) | PeerError::NotConnected(_)) => {}
                // It may or may not have taken effect.
                Err(PeerError::Unreachable(_) | PeerError::Failed(_)) => return Err(Error::Timeout),
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Carries out `proposal` as the leader, giving up after the request timeout (a leader
    /// cut off from its quorum cannot commit). `NotLeader` means nothing was done;
    /// `Unreachable` that the outcome is unknown.
    pub async fn execute(&self, proposal: &Proposal) -> Result<Executed, PeerError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.execute_now(proposal)).await {
            Ok(done) => done,
            Err(_) => Err(PeerError::Unreachable("no commit within the request timeout".into())),
        }
    }

    async fn execute_now(&self, proposal: &Proposal) -> Result<Executed, PeerError> {
        let written = match proposal {
            Proposal::Command(cmd) => self.raft.client_write(cmd.clone()).await,
            Proposal::LeaseRenew { ids } => {
                self.must_lead().await?;
                let ttls = ids.iter().map(|id| self.renew_lease_here(*id)).collect();
                return Ok((Ok(CommandResponse::LeaseTtls(ttls)), 0));
            }
            Proposal::LeaseTimeToLive { id } => {
                self.must_lead().await?;
                return Ok((Ok(CommandResponse::LeaseTtl(self.lease_ttl_here(*id))), 0));
            }
            change => return Box::pin(self.change_members(change)).await,
        };
        match written {
            Ok(r) => Ok((r.data, r.log_id.index)),
            Err(e) => match e.forward_to_leader() {
                Some(f) => Err(PeerError::NotLeader(f.leader_id)),
                // Appended, then discarded by a new leader: it did not take effect.
                None if e.api_error().is_some() => Ok((Err(Error::LeaderChanged), 0)),
                None => Err(PeerError::Failed(e.to_string())),
            },
        }
    }

    /// `NotLeader` (naming the leader we know) unless this member leads.
    pub(super) async fn must_lead(&self) -> Result<(), PeerError> {
        if self.raft.is_leader() { Ok(()) } else { Err(PeerError::NotLeader(self.raft.current_leader().await)) }
    }

    /// Waits, briefly, until Raft's published membership holds the change at `index`:
    /// openraft can answer a membership change before its metrics, which the member list
    /// is read from, show it, and a MemberRemove answered with the removed member still
    /// listed was seen. Best effort: a change that wrote no entry of its own leaves the
    /// published membership where it was, which already holds it.
    async fn wait_membership(&self, index: u64) {
        let published =
            |m: &RaftMetrics<TypeConfig>| m.membership_config.log_id().as_ref().is_some_and(|l| l.index >= index);
        if published(&self.raft.metrics().borrow_watched()) {
            return;
        }
        let _ = self.raft.wait(Some(MEMBERSHIP_PUBLISH_WAIT)).metrics(published, "membership published").await;
    }

    async fn wait_applied(&self, index: u64, deadline: Instant) -> Result<()> {
        // Usually already applied (always for membership changes this member led): no
        // need to subscribe to Raft's metrics, which wakes every waiter on every change.
        if self.sm.read().applied_index() >= index {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.raft
            .wait(Some(left))
            .applied_index_at_least(Some(index), "read index")
            .await
            .map(|_| ())
            .map_err(|_| Error::Timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::PutRequest;

    #[test]
    fn commands_are_refused_once_applies_trail_commits_by_more_than_5000() {
        assert!(check_backlog(None, None).is_ok());
        assert!(check_backlog(Some(5000), None).is_ok());
        assert!(check_backlog(Some(10_000), Some(5000)).is_ok());
        assert!(matches!(check_backlog(Some(10_001), Some(5000)), Err(Error::TooManyRequests)));
        assert!(matches!(check_backlog(Some(5001), None), Err(Error::TooManyRequests)));
        // A snapshot can put applied ahead of what this member saw committed.
        assert!(check_backlog(Some(10), Some(20)).is_ok());
    }

    #[test]
    fn only_v3_commands_are_held_back_as_etcd_holds_back_its_raft_requests() {
        assert!(refused_for_backlog(&Proposal::Command(Command::Put(PutRequest::default()))));
        assert!(refused_for_backlog(&Proposal::Command(Command::LeaseRevoke { id: 1 })));
        assert!(!refused_for_backlog(&Proposal::Command(Command::V2Expire { path: "/a".into(), now: 1 })));
        let publish = Command::PublishMember { id: 1, name: "m".into(), client_urls: Vec::new() };
        assert!(!refused_for_backlog(&Proposal::Command(publish)));
        assert!(!refused_for_backlog(&Proposal::LeaseRenew { ids: vec![1] }));
        assert!(!refused_for_backlog(&Proposal::RemoveMember { id: 1 }));
    }
}
