//! Membership changes and leader transfer, as the leader carries them out.
//!
//! etcd changes one member at a time; openraft goes through a joint configuration, which
//! is equivalent for one change, except that a second voter added to a one-voter cluster
//! cannot commit without the new member (see `add_second_voter`). Changes run one at a
//! time, as etcd's. Learners are openraft learners.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use openraft::ChangeMembers;
use openraft::errors::{ChangeMembershipError, ClientWriteError, RaftError};
use openraft::metrics::RaftMetrics;
use openraft::raft::ClientWriteResponse;

use super::{Executed, Node, Proposal};
use crate::command::CommandResponse;
use crate::error::Error;
use crate::raft::peer::PeerError;
use crate::raft::types::{PeerNode, TypeConfig};

/// A learner may be promoted once it has at least this share of the leader's log, as in
/// etcd (90%).
const PROMOTE_READY_PERCENT: u64 = 90;

/// How long an added voter may take to appear in the leader's membership (it is appended
/// there at once unless the change failed, which ends the wait sooner).
const VOTER_SHOWN_WAIT: Duration = Duration::from_secs(5);
/// How long a membership change waits for one in progress, and how often it tries again.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(5);
const IN_PROGRESS_PAUSE: Duration = Duration::from_millis(50);

/// A member as member lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Its id.
    pub id: u64,
    /// Its name, once it has published it (empty before it started).
    pub name: String,
    /// Its peer URLs.
    pub peer_urls: Vec<String>,
    /// Its client URLs, once published.
    pub client_urls: Vec<String>,
    /// Whether it is a learner.
    pub is_learner: bool,
}

impl Node {
    /// Every member, sorted by id, with what it published about itself.
    pub fn member_list(&self) -> Vec<MemberInfo> {
        let (nodes, learners) = self.members();
        let state = self.read();
        let published = state.published();
        nodes
            .into_iter()
            .map(|(id, node)| {
                let p = published.get(&id);
                MemberInfo {
                    id,
                    name: p.map(|p| p.name.clone()).unwrap_or_default(),
                    peer_urls: node.peer_urls,
                    client_urls: p.map(|p| p.client_urls.clone()).unwrap_or_default(),
                    is_learner: learners.contains(&id),
                }
            })
            .collect()
    }

    /// Carries out a membership proposal as the leader.
    pub(super) async fn change_members(&self, proposal: &Proposal) -> Result<Executed, PeerError> {
        self.must_lead().await?;
        let (nodes, learners) = self.members();
        // A member is found in the membership, or else among the removed.
        let not_found = |id: &u64| match self.read().removed().contains(id) {
            true => Error::MemberRemoved,
            false => Error::MemberNotFound,
        };
        let checked = match proposal {
            Proposal::Command(_) | Proposal::LeaseRenew { .. } | Proposal::LeaseTimeToLive { .. } => {
                return Err(PeerError::Failed("not a membership change".into()));
            }
            Proposal::AddMember { id, peer_urls, learner } => self.add(&nodes, *id, peer_urls, *learner).await,
            Proposal::RemoveMember { id } => match nodes.contains_key(id) {
                false => Err(not_found(id)),
                true if learners.contains(id) => self.change(ChangeMembers::RemoveNodes(BTreeSet::from([*id]))).await,
                true => self.change(ChangeMembers::RemoveVoters(BTreeSet::from([*id]))).await,
            },
            Proposal::UpdateMember { id, peer_urls } => match nodes.get(id) {
                None => Err(not_found(id)),
                Some(_) if url_taken(&nodes, peer_urls, Some(*id)) => Err(Error::PeerUrlExists),
                Some(node) => {
                    let updated = PeerNode { name: node.name.clone(), peer_urls: peer_urls.clone() };
                    self.change(ChangeMembers::SetNodes(BTreeMap::from([(*id, updated)]))).await
                }
            },
            Proposal::PromoteMember { id } => match (nodes.contains_key(id), learners.contains(id)) {
                (false, _) => Err(not_found(id)),
                (true, false) => Err(Error::NotALearner),
                (true, true) if !self.learner_ready(*id) => Err(Error::LearnerNotReady),
                (true, true) => {
                    let promoted = self.change(ChangeMembers::AddVoterIds(BTreeSet::from([*id]))).await;
                    if promoted.is_ok() {
                        crate::metrics::metrics().learner_promotions.inc();
                    }
                    promoted
                }
            },
        };
        match checked {
            Ok(index) => Ok((Ok(CommandResponse::Noop), index)),
            Err(e) => Ok((Err(e), 0)),
        }
    }

    async fn add(
        &self,
        nodes: &BTreeMap<u64, PeerNode>,
        id: u64,
        peer_urls: &[String],
        learner: bool,
    ) -> Result<u64, Error> {
        if nodes.contains_key(&id) {
            return Err(Error::MemberIdExists);
        }
        if url_taken(nodes, peer_urls, None) {
            return Err(Error::PeerUrlExists);
        }
        if learner && !self.members().1.is_empty() {
            return Err(Error::TooManyLearners);
        }
        let node = PeerNode { name: String::new(), peer_urls: peer_urls.to_vec() };
        // Not blocking: the new member is usually not running yet.
        let added = self.one_at_a_time(|| self.raft.add_learner(id, node.clone(), false)).await?;
        if learner {
            return Ok(added);
        }
        if self.voters() == [self.id] {
            self.add_second_voter(id).await?;
            // The learner's entry, committed; the voter's is not yet.
            return Ok(added);
        }
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id]))).await
    }

    /// Makes `id`, a learner just added to a one-voter cluster, a voter. etcd commits a
    /// member addition under the old configuration, so its answer never waits for the new
    /// member, which is usually not running yet. openraft's joint configuration of one
    /// voter and two needs the new member's vote, so here the change goes on by itself and
    /// the answer comes once the leader's membership holds the new voter. The change
    /// commits when the new member starts; until then the cluster has no quorum, as etcd's
    /// two-member cluster has not. (With more voters the joint configuration commits
    /// without the new member, and the answer waits for it, as before.)
    async fn add_second_voter(&self, id: u64) -> Result<(), Error> {
        let raft = self.raft.clone();
        let change = tokio::spawn(async move {
            let done = raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false).await;
            if let Err(e) = &done {
                tracing::warn!(member = %format!("{id:x}"), error = %e, "making the added member a voter did not complete");
            }
            done
        });
        let holds = move |m: &RaftMetrics<TypeConfig>| m.membership_config.membership().voter_ids().any(|v| v == id);
        let wait = self.raft.wait(Some(VOTER_SHOWN_WAIT));
        tokio::select! {
            done = change => done.map_err(membership_error)?.map(|_| ()).map_err(membership_error),
            shown = wait.metrics(holds, "new voter in the membership") => shown.map(|_| ()).map_err(|_| Error::Timeout),
        }
    }

    async fn change(&self, change: ChangeMembers<u64, PeerNode>) -> Result<u64, Error> {
        self.one_at_a_time(|| self.raft.change_membership(change.clone(), false)).await
    }

    /// Runs a membership change and returns its log index. openraft refuses a change while
    /// another is in progress; etcd queues configuration changes behind each other, so the
    /// change is retried until the other one is done, or fails after etcd's request timeout
    /// as etcd's would (the one in progress may wait for a member that is not running).
    async fn one_at_a_time<F, Fut>(&self, mut attempt: F) -> Result<u64, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<
            Output = Result<ClientWriteResponse<TypeConfig>, RaftError<TypeConfig, ClientWriteError<TypeConfig>>>,
        >,
    {
        let deadline = Instant::now() + IN_PROGRESS_WAIT;
        loop {
            match attempt().await {
                Err(e)
                    if matches!(
                        e.api_error(),
                        Some(ClientWriteError::ChangeMembershipError(ChangeMembershipError::InProgress(_)))
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(Error::Timeout);
                    }
                    tokio::time::sleep(IN_PROGRESS_PAUSE).await;
                }
                done => return done.map(|r| r.log_id.index).map_err(membership_error),
            }
        }
    }

    /// Whether learner `id` has replicated enough of the leader's log to vote.
    fn learner_ready(&self, id: u64) -> bool {
        let m = self.metrics();
        let last = m.last_log_index.unwrap_or(0);
        let matched = m.replication.as_ref().and_then(|r| r.get(&id).cloned().flatten()).map_or(0, |l| l.index);
        matched * 100 >= last * PROMOTE_READY_PERCENT
    }

    /// Hands leadership to `to` (etcd's MoveLeader); only the leader may.
    pub async fn move_leader(&self, to: u64) -> Result<(), Error> {
        if !self.raft.is_leader() {
            return Err(Error::NotLeader);
        }
        if to == self.id {
            return Ok(());
        }
        if !self.voters().contains(&to) {
            return Err(Error::BadLeaderTransferee);
        }
        self.raft.trigger().transfer_leader(to).await.map_err(|e| Error::Storage(e.to_string()))?;
        self.raft
            .wait(Some(Duration::from_secs(5)))
            .current_leader(to, "leader transfer")
            .await
            .map(|_| ())
            .map_err(|_| Error::Timeout)
    }
}

fn url_taken(nodes: &BTreeMap<u64, PeerNode>, urls: &[String], except: Option<u64>) -> bool {
    nodes.iter().filter(|(id, _)| Some(**id) != except).any(|(_, n)| n.peer_urls.iter().any(|u| urls.contains(u)))
}

fn membership_error(e: impl std::fmt::Display) -> Error {
    Error::Membership(e.to_string())
}
