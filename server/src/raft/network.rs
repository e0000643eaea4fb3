//! Sending Raft messages to peers over the peer gRPC service.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_proto::etcdrspb::Payload;
use etcd_proto::etcdrspb::peer_client::PeerClient;
use openraft::base::{BoxFuture, BoxStream};
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::vote::RaftLeaderId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint};

use super::peer::{CLUSTER_ID_HEADER, PeerError};
use super::stats::PeerStats;
use super::traffic::PeerTraffic;
use super::types::{PeerNode, Snapshot, TypeConfig, Vote, decode, encode};

/// Snapshot data is streamed in chunks of this size.
const SNAPSHOT_CHUNK: usize = 1024 * 1024;
/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
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
    /// `host:port` of its peer URL.
    address: Option<String>,
    cluster_id: u64,
    target: u64,
    /// Set on the connections Raft replicates over.
    stats: Option<Arc<PeerStats>>,
    traffic: PeerTraffic,
}

impl Peer {
    /// A lazily connecting client for `node`.
    pub fn new(cluster_id: u64, target: u64, node: &PeerNode) -> Self {
        let endpoint = node.peer_urls.first().and_then(|url| Endpoint::from_shared(url.clone()).ok());
        let address = endpoint.as_ref().and_then(|e| {
            let uri = e.uri();
            let default_port = if uri.scheme_str() == Some("https") { 443 } else { 80 };
            uri.host().map(|h| format!("{h}:{}", uri.port_u16().unwrap_or(default_port)))
        });
        let client = endpoint.map(|e| {
            let ch = e.tcp_nodelay(true).connect_timeout(CONNECT_TIMEOUT).connect_lazy();
            PeerClient::new(ch).max_decoding_message_size(MAX_PEER_MESSAGE).max_encoding_message_size(MAX_PEER_MESSAGE)
        });
        Self { client, address, cluster_id, target, stats: None, traffic: PeerTraffic::with(target) }
    }

    /// Whether the peer accepts connections. Checked before encoding a snapshot for it,
    /// which reads the whole store: Raft retries a member that is down (every 200 ms at
    /// first, then every second), and each retry would encode it again.
    async fn accepts_connections(&self) -> bool {
        let Some(address) = &self.address else { return false };
        matches!(tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await, Ok(Ok(_)))
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
        let client = self.client()?;
        self.traffic.sent(req.get_ref().data.len());
        let resp = method(client, req).await.map_err(|s| self.traffic.failed(status_error(s)))?;
        self.traffic.received(resp.get_ref().data.len());
        decode::<Result<R, PeerError>>(&resp.into_inner().data).map_err(|e| PeerError::Failed(e.to_string()))?
    }
}

/// What a failed call tells about delivery.
fn status_error(s: tonic::Status) -> PeerError {
    // tonic reports a failed connect as Unavailable with this text; nothing was sent.
    let connect_failed = s.code() == tonic::Code::Unavailable && s.message().contains("connect error");
    if connect_failed {
        PeerError::NotConnected(s.message().to_string())
    } else {
        PeerError::Unreachable(s.message().to_string())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
    type SnapshotData = super::snapshot_data::SnapshotData;

    /// One request over the replication stream (openraft sends every AppendEntries
    /// through [`RaftNetworkV2::stream_append`]; this serves any other caller alike).
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let mut results = self.stream_append(tokio_stream::once(rpc), option).await?;
        match results.next().await {
            Some(result) => result.map(AppendEntriesResponse::from),
            None => Err(RPCError::Unreachable(Unreachable::from_string("the peer closed the stream unanswered"))),
        }
    }

    /// Pipelined replication over one gRPC stream: requests go out as Raft produces them and
    /// results come back in order, so a follower's fsync for one batch overlaps the sending
    /// of the next. A stream that owes answers and hears nothing for the timeout fails as
    /// unreachable (a silent peer would otherwise stall replication).
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<
        's,
        Result<BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>, RPCError<TypeConfig>>,
    >
    where
        S: Stream<Item = AppendEntriesRequest<TypeConfig>> + Send + Unpin + 'static,
    {
        let timeout = option.hard_ttl().max(Duration::from_secs(2));
        Box::pin(async move {
            let mut input = input;
            // Raft waits out its backoff after a failure while producing the next request:
            // take the first one before connecting, or a refused connection is retried at
            // once, in a tight loop, for as long as the peer is down.
            let Some(first) = input.next().await else {
                return Ok(Box::pin(tokio_stream::empty()) as BoxStream<'s, _>);
            };
            let input = tokio_stream::once(first).chain(input);
            let mut client = self.client().map_err(rpc_error)?;
            let in_flight = Arc::new(Mutex::new(VecDeque::<Instant>::new()));
            let sending = in_flight.clone();
            let traffic = self.traffic.clone();
            let counted = traffic.clone();
            let sent_stats = self.stats.clone();
            // An entry batch that does not encode ends the stream; Raft starts a new one.
            let requests = input.map_while(move |rpc| {
                let data = encode(&rpc).ok()?;
                counted.sent(data.len());
                if let Some(stats) = sent_stats.as_ref().filter(|_| !rpc.entries.is_empty()) {
                    stats.sent_append(*rpc.vote.leader_id().node_id(), data.len());
                }
                lock(&sending).push_back(Instant::now());
                Some(Payload { data })
            });
            let mut req = tonic::Request::new(requests);
            stamp(&mut req, self.cluster_id);
            let responses =
                client.stream_append(req).await.map_err(|s| rpc_error(traffic.failed(status_error(s))))?.into_inner();
            let target = self.target;
            let state = (responses, in_flight, self.stats.clone(), traffic);
            let results = futures::stream::unfold(Some(state), move |state| async move {
                let (mut responses, in_flight, stats, traffic) = state?;
                let item = loop {
                    match tokio::time::timeout(timeout, responses.next()).await {
                        Ok(item) => break item?,
                        // Idle, or the oldest request is younger than the timeout: wait on.
                        Err(_) if lock(&in_flight).front().is_none_or(|t| t.elapsed() < timeout) => {}
                        Err(_) => break Err(tonic::Status::unavailable("no answer from the peer in time")),
                    }
                };
                let sent = lock(&in_flight).pop_front();
                let result = item
                    .map_err(|s| traffic.failed(status_error(s)))
                    .and_then(|p| {
                        traffic.received(p.data.len());
                        decode::<Result<StreamAppendResult<TypeConfig>, PeerError>>(&p.data)
                            .map_err(|e| PeerError::Failed(e.to_string()))?
                    })
                    .map_err(rpc_error);
                if let Some(stats) = &stats {
                    stats.answered_append(target, result.as_ref().ok().and(sent).map(|t| t.elapsed()));
                }
                // The first error ends the stream.
                let next = result.is_ok().then_some((responses, in_flight, stats, traffic));
                Some((result, next))
            });
            Ok(Box::pin(results) as BoxStream<'s, _>)
        })
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
        let target = self.target;
        let network = |e: std::io::Error| StreamingError::Network(NetworkError::new(&e));
        let prepare = async {
            if !self.accepts_connections().await {
                let down = format!("member {target:x} does not accept connections");
                return Err(StreamingError::Unreachable(Unreachable::from_string(down)));
            }
            // Copies and encodes the state (compaction sweeps wait meanwhile), then lets go of it
            // before the follower, however slow, is sent anything.
            let (meta, file) = snapshot.snapshot.encode(snapshot.meta).await.map_err(network)?;
            // Deposed meanwhile, this member may have applied entries of a later leader; a
            // follower still at our term must not take them from us as if we had led them.
            let term = meta.last_log_id.as_ref().map_or(0, |l| l.committed_leader_id().term);
            if term > vote.leader_id().term {
                return Err(StreamingError::Network(NetworkError::from_string("this member no longer leads")));
            }
            Ok((meta, file))
        };
        let mut cancel = std::pin::pin!(cancel);
        let (meta, file) = tokio::select! {
            biased;
            closed = &mut cancel => return Err(StreamingError::Closed(closed)),
            prepared = prepare => prepared?,
        };
        tracing::info!(member = format!("{target:x}"), bytes = file.size(), "snapshot encoded to be sent");
        let head = encode(&(vote, meta, file.size())).map_err(network)?;
        // Each chunk is read from the file as the stream sends it. One that cannot be read
        // ends the stream early; the receiver, told the length in the head, refuses it, and
        // Raft sends the snapshot again.
        let chunks = file.chunks(SNAPSHOT_CHUNK).map_while(move |chunk| match chunk {
            Ok(data) => Some(Payload { data }),
            Err(e) => {
                tracing::warn!(target, error = %e, "reading the snapshot to send failed");
                None
            }
        });
        let mut req = tonic::Request::new(tokio_stream::iter(std::iter::once(Payload { data: head }).chain(chunks)));
        stamp(&mut req, self.cluster_id);
        let mut client =
            self.client().map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e.to_string())))?;
        let send = async move { client.install_snapshot(req).await };
        let resp = tokio::select! {
            biased;
            closed = cancel => return Err(StreamingError::Closed(closed)),
            r = send => r.map_err(|s| StreamingError::Unreachable(Unreachable::from_string(s.message().to_string())))?,
        };
        decode::<Result<SnapshotResponse<TypeConfig>, PeerError>>(&resp.into_inner().data)
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?
            .map_err(|e| StreamingError::Network(NetworkError::from_string(e.to_string())))
    }
}
