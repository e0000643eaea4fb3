//! Sending Raft messages to peers over the peer gRPC service.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_proto::etcdrspb::Payload;
use etcd_proto::etcdrspb::peer_client::PeerClient;
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, TransferLeaderResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, Endpoint};

use super::peer::{CLUSTER_ID_HEADER, PeerError};
use super::stats::PeerStats;
use super::types::{PeerNode, Snapshot, TypeConfig, Vote, decode, encode};

/// Snapshot data is streamed in chunks of this size.
const SNAPSHOT_CHUNK: usize = 1024 * 1024;
/// Largest message a peer accepts: a batch of entries can be large.
pub const MAX_PEER_MESSAGE: usize = 64 * 1024 * 1024;

/// Makes peer clients; every client stamps the cluster id on its requests so that a
/// member of another cluster refuses them.
#[derive(Clone)]
pub struct Network {
    /// This cluster's id.
    pub cluster_id: u64,
    /// Where AppendEntries round trips are counted.
    pub stats: Arc<PeerStats>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &PeerNode) -> Peer {
        let mut peer = Peer::new(self.cluster_id, target, node);
        peer.stats = Some(self.stats.clone());
        peer
    }
}

/// A connection to one peer.
#[derive(Clone)]
pub struct Peer {
    client: Option<PeerClient<Channel>>,
    cluster_id: u64,
    target: u64,
    /// Set on the connections Raft replicates over.
    stats: Option<Arc<PeerStats>>,
}

impl Peer {
    /// A lazily connecting client for `node`.
    pub fn new(cluster_id: u64, target: u64, node: &PeerNode) -> Self {
        let client = node.peer_urls.first().and_then(|url| {
            Endpoint::from_shared(url.clone()).ok().map(|e| {
                let ch = e.tcp_nodelay(true).connect_timeout(Duration::from_secs(1)).connect_lazy();
                PeerClient::new(ch)
                    .max_decoding_message_size(MAX_PEER_MESSAGE)
                    .max_encoding_message_size(MAX_PEER_MESSAGE)
            })
        });
        Self { client, cluster_id, target, stats: None }
    }

    fn request<T: Serialize>(&self, msg: &T, timeout: Duration) -> Result<tonic::Request<Payload>, PeerError> {
        let data = encode(msg).map_err(|e| PeerError::Failed(e.to_string()))?;
        let mut req = tonic::Request::new(Payload { data });
        req.set_timeout(timeout);
        stamp(&mut req, self.cluster_id);
        Ok(req)
    }

    fn client(&self) -> Result<PeerClient<Channel>, PeerError> {
        self.client.clone().ok_or_else(|| PeerError::Failed(format!("member {:x} has no usable peer URL", self.target)))
    }

    /// Calls `method` with `msg`; decodes the peer's `Result<R, PeerError>`.
    pub async fn call<T, R, F, Fut>(&self, msg: &T, timeout: Duration, method: F) -> Result<R, PeerError>
    where
        T: Serialize,
        R: DeserializeOwned,
        F: FnOnce(PeerClient<Channel>, tonic::Request<Payload>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Payload>, tonic::Status>>,
    {
        let req = self.request(msg, timeout)?;
        let resp = method(self.client()?, req).await.map_err(|s| {
            // tonic reports a failed connect as Unavailable with this text; nothing was sent.
            let connect_failed = s.code() == tonic::Code::Unavailable && s.message().contains("connect error");
            if connect_failed {
                PeerError::NotConnected(s.message().to_string())
            } else {
                PeerError::Unreachable(s.message().to_string())
            }
        })?;
        decode::<Result<R, PeerError>>(&resp.into_inner().data).map_err(|e| PeerError::Failed(e.to_string()))?
    }
}

/// Adds the cluster id header.
pub fn stamp<T>(req: &mut tonic::Request<T>, cluster_id: u64) {
    if let Ok(v) = format!("{cluster_id:x}").parse() {
        req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
    }
}

fn rpc_error(e: PeerError) -> RPCError<TypeConfig> {
    match e {
        PeerError::Unreachable(m) | PeerError::NotConnected(m) => RPCError::Unreachable(Unreachable::from_string(m)),
        other => RPCError::Network(NetworkError::from_string(other.to_string())),
    }
}

impl RaftNetworkV2<TypeConfig> for Peer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // Large batches need longer than a heartbeat; the hard limit still bounds them.
        let timeout = option.hard_ttl().max(Duration::from_secs(2));
        let sent = Instant::now();
        let result = self.call(&rpc, timeout, |mut c, r| async move { c.append_entries(r).await }).await;
        if let Some(stats) = &self.stats {
            stats.sent_append(self.target, result.as_ref().ok().map(|_| sent.elapsed()));
        }
        result.map_err(rpc_error)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(&rpc, option.hard_ttl(), |mut c, r| async move { c.vote(r).await }).await.map_err(rpc_error)
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(&req, option.hard_ttl(), |mut c, r| async move { c.transfer_leader(r).await })
            .await
            .map_err(rpc_error)
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let head = encode(&(vote, snapshot.meta)).map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let mut chunks = vec![Payload { data: head }];
        chunks.extend(snapshot.snapshot.chunks(SNAPSHOT_CHUNK).map(|c| Payload { data: c.to_vec() }));
        let mut req = tonic::Request::new(tokio_stream::iter(chunks));
        stamp(&mut req, self.cluster_id);
        let mut client =
            self.client().map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e.to_string())))?;
        let send = async move { client.install_snapshot(req).await };
        let resp = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            r = send => r.map_err(|s| StreamingError::Unreachable(Unreachable::from_string(s.message().to_string())))?,
        };
        decode::<Result<SnapshotResponse<TypeConfig>, PeerError>>(&resp.into_inner().data)
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?
            .map_err(|e| StreamingError::Network(NetworkError::from_string(e.to_string())))
    }
}
