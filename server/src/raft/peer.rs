//! The peer service: Raft messages from other members, proposals forwarded by followers,
//! read indexes for follower reads, and cluster discovery for joining members.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use etcd_proto::etcdrspb::Payload;
use etcd_proto::etcdrspb::peer_server::Peer as PeerRpc;
use openraft::ReadPolicy;
use openraft::async_runtime::WatchReceiver;
use openraft::raft::{AppendEntriesRequest, TransferLeaderRequest, VoteRequest};
use openraft::vote::RaftLeaderId;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::snapshot_data::{Incoming, SnapshotData};
use super::traffic::PeerTraffic;
use super::types::{PeerNode, Raft, SnapshotMeta, Vote, decode, encode};
use crate::node::{Node, Proposal, REQUEST_TIMEOUT};

/// Metadata key carrying the sender's cluster id (hex).
pub const CLUSTER_ID_HEADER: &str = "x-etcd-rs-cluster-id";

/// Why a peer request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PeerError {
    /// The receiver is not the leader; it names the leader if it knows one.
    #[error("not the leader (leader: {0:?})")]
    NotLeader(Option<u64>),
    /// No connection could be made: the request was certainly not delivered.
    #[error("peer not reachable: {0}")]
    NotConnected(String),
    /// The request got no answer; it may or may not have been delivered.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The receiver failed to handle it.
    #[error("{0}")]
    Failed(String),
}

/// The cluster as a member describes it to one that joins.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The cluster id.
    pub cluster_id: u64,
    /// Every member with its peer URLs.
    pub members: BTreeMap<u64, PeerNode>,
    /// The member that answered, and whether it leads (only a leader's view is current).
    pub from: u64,
    /// Whether `from` is the leader.
    pub from_leader: bool,
}

/// Serves the peer protocol for one member.
pub struct PeerService {
    node: Node,
    raft: Raft,
    cluster_id: u64,
    /// Becomes true when the member stops: replication streams end then, or the server's
    /// graceful shutdown would wait for them forever.
    stop: watch::Receiver<bool>,
}

impl PeerService {
    /// A service delivering to `node` until `stop` becomes true.
    pub fn new(node: Node, stop: watch::Receiver<bool>) -> Self {
        Self { raft: node.raft().clone(), cluster_id: node.cluster_id(), node, stop }
    }

    /// Completes when the member stops.
    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stop = self.stop.clone();
        async move {
            stop.wait_for(|s| *s).await.ok();
        }
    }

    /// Refuses messages from members of another cluster (a different token or member set).
    fn check_cluster<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let theirs = req.metadata().get(CLUSTER_ID_HEADER).and_then(|v| v.to_str().ok());
        match theirs {
            Some(id) if u64::from_str_radix(id, 16) == Ok(self.cluster_id) => Ok(()),
            other => Err(Status::failed_precondition(format!(
                "request from cluster {} refused by a member of cluster {:x}",
                other.unwrap_or("(none)"),
                self.cluster_id
            ))),
        }
    }
}

fn reply<T: Serialize>(r: Result<T, PeerError>) -> Result<Response<Payload>, Status> {
    encode(&r).map(|data| Response::new(Payload { data })).map_err(|e| Status::internal(e.to_string()))
}

fn input<T: serde::de::DeserializeOwned>(p: Payload) -> Result<T, Status> {
    decode(&p.data).map_err(|e| Status::invalid_argument(e.to_string()))
}

impl PeerService {
    /// Checks the sender's cluster and decodes the request.
    fn accept<T: serde::de::DeserializeOwned>(&self, request: Request<Payload>) -> Result<T, Status> {
        self.check_cluster(&request)?;
        input(request.into_inner())
    }
}

fn failed(e: impl std::fmt::Display) -> PeerError {
    PeerError::Failed(e.to_string())
}

#[tonic::async_trait]
impl PeerRpc for PeerService {
    type StreamAppendStream = std::pin::Pin<Box<dyn Stream<Item = Result<Payload, Status>> + Send + 'static>>;

    async fn stream_append(
        &self,
        request: Request<Streaming<Payload>>,
    ) -> Result<Response<Self::StreamAppendStream>, Status> {
        self.check_cluster(&request)?;
        let node = self.node.clone();
        // A request that does not decode ends the input; Raft then answers what came before.
        // The input ends when the member stops, too: Raft's reader holds it, and the stream
        // stays open (keeping the server from stopping) for as long as it is held.
        let input = futures::StreamExt::take_until(request.into_inner(), self.stopped());
        // The leader the requests come from, whom the answers go to: one per stream.
        let leader: Arc<OnceLock<PeerTraffic>> = Arc::default();
        let answering = leader.clone();
        let rpcs = input.map_while(move |item| {
            let p = item.ok()?;
            let rpc = decode::<AppendEntriesRequest<super::types::TypeConfig>>(&p.data).ok()?;
            let from = *rpc.vote.leader_id().node_id();
            if !rpc.entries.is_empty() {
                node.peer_stats().received_append(from, p.data.len());
            }
            leader.get_or_init(|| PeerTraffic::with(from)).received(p.data.len());
            Some(rpc)
        });
        let results = self.raft.stream_append(rpcs).map(move |r| {
            let r = r.map_err(failed);
            let data = encode(&r).map_err(|e| Status::internal(e.to_string()))?;
            if let Some(traffic) = answering.get() {
                traffic.sent(data.len());
            }
            Ok(Payload { data })
        });
        Ok(Response::new(Box::pin(futures::StreamExt::take_until(results, self.stopped()))))
    }

    async fn vote(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        let size = request.get_ref().data.len();
        let rpc: VoteRequest<super::types::TypeConfig> = self.accept(request)?;
        let candidate = PeerTraffic::with(*rpc.vote.leader_id().node_id());
        candidate.received(size);
        let answer = reply(self.raft.vote(rpc).await.map_err(failed))?;
        candidate.sent(answer.get_ref().data.len());
        Ok(answer)
    }

    async fn install_snapshot(&self, request: Request<Streaming<Payload>>) -> Result<Response<Payload>, Status> {
        self.check_cluster(&request)?;
        let mut stream = request.into_inner();
        let head = stream.next().await.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))??;
        let (vote, meta, len): (Vote, SnapshotMeta, u64) = input(head)?;
        // Into a file, never in memory whole (see `SnapshotData`), written off the async
        // workers.
        let blob = self.node.incoming_snapshot().map_err(|e| Status::internal(e.to_string()))?;
        let mut incoming = Incoming::new(blob, len);
        let refused = |e: std::io::Error| Status::data_loss(e.to_string());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?.data;
            let wrote = tokio::task::spawn_blocking(move || incoming.write(&chunk).map(|()| incoming)).await;
            incoming = wrote.map_err(|e| Status::internal(e.to_string()))?.map_err(refused)?;
        }
        let snapshot = SnapshotData::Encoded(incoming.finish().map_err(refused)?);
        let snap = openraft::storage::Snapshot { meta, snapshot };
        reply(self.raft.install_full_snapshot(vote, snap).await.map_err(failed))
    }

    async fn transfer_leader(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        let req: TransferLeaderRequest<super::types::TypeConfig> = self.accept(request)?;
        reply(self.raft.handle_transfer_leader(req).await.map_err(failed))
    }

    async fn forward(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        let proposals: Vec<Proposal> = self.accept(request)?;
        // All at once: Raft appends what arrives together as one batch.
        let results = futures::future::join_all(proposals.iter().map(|p| self.node.execute(p))).await;
        reply(Ok::<_, PeerError>(results))
    }

    async fn read_index(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        self.check_cluster(&request)?;
        let confirm = self.raft.ensure_linearizable(ReadPolicy::ReadIndex);
        let out = match tokio::time::timeout(REQUEST_TIMEOUT, confirm).await {
            Ok(Ok(read)) => Ok(read.index()),
            Ok(Err(e)) => Err(match e.forward_to_leader() {
                Some(f) => PeerError::NotLeader(f.leader_id),
                None => failed(e),
            }),
            Err(_) => Err(PeerError::Unreachable("no quorum confirmed leadership in time".into())),
        };
        reply(out)
    }

    async fn get_cluster(&self, _request: Request<Payload>) -> Result<Response<Payload>, Status> {
        // No cluster check: a joining member does not know the id yet; that is what it asks.
        let metrics = self.raft.metrics().borrow_watched().clone();
        let members = metrics.membership_config.nodes().map(|(id, n)| (*id, n.clone())).collect();
        let from = self.node.id();
        let from_leader = metrics.current_leader == Some(from) && self.raft.is_leader();
        reply(Ok::<_, PeerError>(ClusterInfo { cluster_id: self.cluster_id, members, from, from_leader }))
    }
}
