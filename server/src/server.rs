//! Runs a member: opens its data dir, restores or establishes its identity, starts Raft,
//! serves the peer protocol on the peer URLs and gRPC + HTTP on every client URL.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use etcd_proto::etcdrspb::peer_server::PeerServer;
use etcd_proto::etcdserverpb::auth_server::AuthServer;
use etcd_proto::etcdserverpb::cluster_server::ClusterServer;
use etcd_proto::etcdserverpb::kv_server::KvServer;
use etcd_proto::etcdserverpb::lease_server::LeaseServer;
use etcd_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use etcd_proto::etcdserverpb::watch_server::WatchServer;
use etcd_proto::v3electionpb::election_server::ElectionServer;
use etcd_proto::v3lockpb::lock_server::LockServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower_layer::Layer;

use crate::alarm::{Alarm, AlarmKind};
use crate::api::{
    self, AuthService, ClusterService, Context, ElectionService, KvService, LeaseIds, LeaseService, LockService,
    MaintenanceService, V2Api, WatchService,
};
use crate::command::Command;
use crate::compactor::{AutoCompaction, Compactor};
use crate::config::{ClusterState, Config, ListenUrl};
use crate::corruption::{self, KvHash};
use crate::membership::{self, Identity};
use crate::mvcc::CompactRequest;
use crate::node::Node;
use crate::quota::Quota;
use crate::raft::network::MAX_PEER_MESSAGE;
use crate::raft::peer::{ClusterInfo, PeerService};
use crate::raft::types::PeerNode;
use crate::raft::{self, Settings, join};
use crate::storage::SledBackend;
use crate::transport::authority::FixingListener;

/// A reason the member could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Misconfiguration or a refused join found at startup.
    #[error("{0}")]
    Setup(String),
    /// The state could not be opened.
    #[error(transparent)]
    State(#[from] crate::error::Error),
    /// A listener failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Raft stopped on a fatal error, such as a log write that failed.
    #[error("the member stopped: {0}")]
    Raft(String),
}

impl From<crate::storage::StorageError> for ServerError {
    fn from(e: crate::storage::StorageError) -> Self {
        ServerError::State(e.into())
    }
}

/// Runs a member until `shutdown` completes, then hands off leadership and stops.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    // Register every metric now, not on the first request that touches one.
    crate::metrics::metrics();
    let backend = Arc::new(open_backend(&config.data_dir).map_err(ServerError::Setup)?);
    let (identity, bootstrap) = match membership::load(&*backend)? {
        // A restart: the stored identity wins and bootstrap settings are ignored (a data
        // dir made by `snapshot restore` carries the members to bootstrap with).
        Some(id) => (id, membership::pending_bootstrap(&*backend)?),
        None => {
            let (id, bootstrap) = match config.initial_cluster_state {
                ClusterState::New => {
                    (membership::bootstrap_identity(&config), Some(membership::initial_members(&config)))
                }
                ClusterState::Existing => (join::discover(&config).await.map_err(ServerError::Setup)?, None),
            };
            membership::store(&*backend, id)?;
            (id, bootstrap)
        }
    };
    let Identity { cluster_id, member_id } = identity;
    if config.force_new_cluster && bootstrap.is_none() {
        let me = PeerNode { name: config.name.clone(), peer_urls: config.initial_advertise_peer_urls.clone() };
        let index = raft::log_store::force_single_member(&*backend, member_id, me)
            .map_err(|e| ServerError::Setup(format!("--force-new-cluster: {e}")))?;
        tracing::warn!(
            index,
            "forcing a new cluster with this member as the only one; remove --force-new-cluster once it runs"
        );
    }
    tracing::info!(
        name = %config.name,
        member_id = %format!("{member_id:x}"),
        cluster_id = %format!("{cluster_id:x}"),
        data_dir = %config.data_dir.display(),
        "starting member"
    );
    let settings = Settings {
        heartbeat_ms: config.heartbeat_interval_ms,
        election_ms: config.election_timeout_ms,
        snapshot_count: config.snapshot_count,
    };
    let node = raft::start(backend, member_id, cluster_id, settings, bootstrap).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = Vec::new();
    let peer_router = Routes::new(
        PeerServer::new(PeerService::new(node.clone(), stop_rx.clone()))
            .max_decoding_message_size(MAX_PEER_MESSAGE)
            .max_encoding_message_size(MAX_PEER_MESSAGE),
    )
    .prepare()
    .into_axum_router();
    for url in &config.listen_peer_urls {
        servers.push(serve(url, "peer", peer_router.clone(), stop_rx.clone()).await?);
    }
    let quota = Arc::new(Quota::new(config.quota_backend_bytes));
    // As etcd: the limit in force, or 0 with no quota.
    crate::metrics::metrics()
        .quota_backend_bytes
        .set(quota.limit().map_or(0, |l| i64::try_from(l).unwrap_or(i64::MAX)));
    let ctx = Context {
        node: node.clone(),
        max_request_bytes: config.max_request_bytes,
        max_txn_ops: config.max_txn_ops,
        watch_progress_interval: config.watch_progress_notify_interval,
        min_lease_ttl: i64::try_from((config.election_timeout_ms * 3 / 2).div_ceil(1000)).unwrap_or(i64::MAX),
        quota,
        lease_ids: Arc::new(LeaseIds::new(node.id())),
    };
    let v2 = config.enable_v2.then(|| V2Api::new(node.clone(), stop_rx.clone(), config.name.clone()));
    // gRPC's health service, as etcd 3.4 registers it: the server as a whole ("") serving.
    let (mut health_reporter, health) = tonic_health::server::health_reporter();
    let client_router = client_router(
        ctx,
        v2,
        health,
        api::Cors::new(&config.cors),
        config.max_request_bytes + api::GRPC_OVERHEAD_BYTES,
    );
    for url in &config.listen_client_urls {
        servers.push(serve(url, "client", client_router.clone(), stop_rx.clone()).await?);
    }
    let publisher = tokio::spawn(publish(node.clone(), config.name.clone(), config.advertise_client_urls.clone()));
    let expiry = tokio::spawn(expire_v2_ttls(node.clone()));
    let lease_expiry = tokio::spawn(revoke_expired_leases(node.clone()));
    let leader_changes = tokio::spawn(count_leader_changes(node.clone()));
    let corruption = config.corrupt_check_interval.map(|every| tokio::spawn(check_corruption(node.clone(), every)));
    let compaction = config.auto_compaction.map(|policy| tokio::spawn(auto_compact(node.clone(), policy)));

    // etcd exits when it cannot write its WAL; a member whose Raft stopped would only
    // time out every request, so it stops too, with the error.
    let failed = tokio::select! {
        _ = shutdown => {
            tracing::info!("shutting down");
            None
        }
        _ = removed(&node) => {
            tracing::warn!("the member has been permanently removed from the cluster; stopping");
            None
        }
        e = node.raft_failed() => {
            tracing::error!(error = %e, "Raft stopped on a fatal error; stopping");
            Some(e)
        }
    };
    publisher.abort();
    expiry.abort();
    lease_expiry.abort();
    leader_changes.abort();
    if let Some(c) = corruption {
        c.abort();
    }
    if let Some(c) = compaction {
        c.abort();
    }
    if let Some(e) = failed {
        // As etcd when its WAL write fails: stop at once. Nothing more can be made durable
        // (a flush after a failed write may never return), and a restart recovers from
        // what the log holds. The database is never closed either: closing sled flushes.
        std::mem::forget(node.clone());
        stop_tx.send(true).ok();
        return Err(ServerError::Raft(e));
    }
    hand_off_leadership(&node).await;
    node.stop().await;
    // Ends the health service's Watch streams, which graceful shutdown would wait for.
    health_reporter.clear_service_status("").await;
    stop_tx.send(true).ok();
    for s in servers {
        match s.await {
            Ok(r) => r?,
            Err(e) => tracing::warn!(error = %e, "listener task failed"),
        }
    }
    Ok(())
}

/// Opens (creating it if needed) the database of the member whose data dir is `data_dir`.
/// An etcd data dir is refused: etcd-rs cannot read it in place, and starting on it would
/// silently serve an empty store under the same member and cluster ids.
pub fn open_backend(data_dir: &std::path::Path) -> Result<SledBackend, String> {
    let dir = data_dir.join("member");
    if dir.join("wal").exists() || dir.join("snap").exists() {
        return Err(format!(
            "{} holds an etcd data dir (member/wal, member/snap), which etcd-rs cannot read in place; \
             restore its database into a new data dir instead: \
             etcdctl-rs snapshot restore {} --skip-hash-check --data-dir <new dir> …",
            data_dir.display(),
            dir.join("snap").join("db").display()
        ));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    let path = dir.join("db");
    SledBackend::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))
}

type ServeTask = tokio::task::JoinHandle<std::io::Result<()>>;

async fn serve(
    url: &ListenUrl,
    what: &str,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> Result<ServeTask, ServerError> {
    let listener = TcpListener::bind(url.addr)
        .await
        .map_err(|e| ServerError::Setup(format!("cannot listen on {}: {e}", url.url)))?;
    tracing::info!(url = %url.url, "serving {what} requests");
    let stopped = async move {
        stop.wait_for(|s| *s).await.ok();
    };
    Ok(match what {
        // Clients: etcdctl may send a URL as the HTTP/2 authority (see `transport::authority`).
        "client" => {
            tokio::spawn(axum::serve(FixingListener(listener), app).with_graceful_shutdown(stopped).into_future())
        }
        _ => {
            let listener = listener.tap_io(|tcp| {
                // Small request/response pairs: Nagle would add latency to every one.
                tcp.set_nodelay(true).ok();
            });
            tokio::spawn(axum::serve(listener, app).with_graceful_shutdown(stopped).into_future())
        }
    })
}

/// Announces this member's name and client URLs through the log (as etcd publishes its
/// attributes), retrying until a leader accepts it.
async fn publish(node: Node, name: String, client_urls: Vec<String>) {
    let cmd = Command::PublishMember { id: node.id(), name, client_urls };
    loop {
        match node.propose(cmd.clone()).await {
            Ok(_) => return,
            Err(e) => tracing::debug!(error = %e, "publishing member attributes; will retry"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A ticker for the periodic loops: a late tick is delayed, not followed by a burst.
fn ticker(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Waits for the next tick at which this member leads.
async fn next_leader_tick(tick: &mut tokio::time::Interval, node: &Node) {
    loop {
        tick.tick().await;
        if node.leads() {
            return;
        }
    }
}

/// How often the leader looks for v2 TTLs that ran out (etcd's SYNC interval).
const V2_EXPIRY_INTERVAL: Duration = Duration::from_millis(500);

/// On the leader, proposes the removal of every v2 node whose TTL ran out: the leader's
/// clock decides, and every member applies the same removal at the same index.
async fn expire_v2_ttls(node: Node) {
    let mut tick = ticker(V2_EXPIRY_INTERVAL);
    loop {
        next_leader_tick(&mut tick, &node).await;
        let now = api::now_ms();
        let expired = node.read().v2().expired(now);
        for path in expired {
            if let Err(e) = node.propose(Command::V2Expire { path, now }).await {
                tracing::debug!(error = %e, "expiring v2 keys; will retry");
                break;
            }
        }
    }
}

/// How often the leader looks for expired leases.
const LEASE_EXPIRY_INTERVAL: Duration = Duration::from_millis(100);

/// On the leader, revokes every lease whose clock ran out (through the log, so every
/// member deletes the same keys at the same revision).
async fn revoke_expired_leases(node: Node) {
    let mut tick = ticker(LEASE_EXPIRY_INTERVAL);
    loop {
        tick.tick().await;
        for id in node.expired_leases() {
            match node.propose(Command::LeaseRevoke { id }).await {
                Ok(_) => crate::metrics::metrics().lease_expired.inc(),
                Err(e) => {
                    tracing::debug!(error = %e, lease = %format!("{id:x}"), "revoking an expired lease; will retry");
                    break;
                }
            }
        }
    }
}

/// On the leader, every `every`: compares the members' KV hashes at the leader's revision
/// and raises CORRUPT (through the log) for each member that disagrees, as etcd's
/// periodic check does.
async fn check_corruption(node: Node, every: Duration) {
    let mut tick = ticker(every);
    loop {
        next_leader_tick(&mut tick, &node).await;
        let own = || -> Option<KvHash> {
            let state = node.read();
            let (hash, compact_revision) = state.mvcc().hash_kv(0).ok()?;
            Some(KvHash { member: node.id(), hash, revision: state.mvcc().current_revision(), compact_revision })
        };
        let Some(before) = own() else { continue };
        let mut peers = Vec::new();
        for m in node.member_list().into_iter().filter(|m| m.id != node.id()) {
            if let Some(url) = m.client_urls.first()
                && let Some(h) = api::peer_hash(m.id, url, before.revision).await
            {
                peers.push(h);
            }
        }
        let Some(after) = own() else { continue };
        for member in corruption::mismatches(before, after, &peers) {
            tracing::error!(member = %format!("{member:x}"), "KV hashes differ: raising the CORRUPT alarm");
            let alarm = Alarm { member, kind: AlarmKind::Corrupt };
            if let Err(e) = node.propose(Command::Alarm { activate: true, alarm }).await {
                tracing::warn!(error = %e, "raising the CORRUPT alarm failed; will retry");
            }
        }
    }
}

/// Counts every new leader this member sees, as etcd's `leader_changes_seen_total`.
async fn count_leader_changes(node: Node) {
    let mut known = None;
    loop {
        known = node.leader_change(known).await;
        if known.is_some() {
            crate::metrics::metrics().leader_changes.inc();
        }
    }
}

/// On the leader, compacts the history as `auto-compaction-*` asks. Samples are taken on
/// every member so a new leader knows the recent revisions at once.
async fn auto_compact(node: Node, policy: AutoCompaction) {
    let mut compactor = Compactor::new(policy);
    let mut tick = ticker(compactor.tick());
    loop {
        tick.tick().await;
        let (current, compacted) = {
            let state = node.read();
            (state.mvcc().current_revision(), state.mvcc().compacted_revision())
        };
        let Some(revision) = compactor.observe(std::time::Instant::now(), current, compacted) else { continue };
        if !node.leads() {
            continue;
        }
        match node.propose(Command::Compact(CompactRequest { revision, physical: false })).await {
            Ok(_) => tracing::info!(revision, "auto-compacted"),
            Err(e) => tracing::warn!(error = %e, revision, "auto-compaction failed; will retry"),
        }
    }
}

/// Completes once this member is no longer in the cluster: etcd stops a removed member,
/// and so do we. The leader stops replicating to a member it removes, so the member may
/// never see its removal in its own log; it also asks the others, and believes a leader.
async fn removed(node: &Node) {
    // A joining member catches up through older membership entries that do not name it
    // yet; only once it has seen itself can its absence mean removal.
    let mut seen = false;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (nodes, _) = node.members();
        let present = nodes.contains_key(&node.id());
        seen |= present;
        if !seen {
            continue;
        }
        if !present {
            return;
        }
        for id in nodes.keys().filter(|id| **id != node.id()) {
            let Some(peer) = node.peer(*id) else { continue };
            let asked = peer.call::<_, ClusterInfo, _, _>(&(), Duration::from_secs(1), |mut c, r| async move {
                c.get_cluster(r).await
            });
            if let Ok(info) = asked.await
                && info.from_leader
                && info.cluster_id == node.cluster_id()
            {
                if !info.members.contains_key(&node.id()) {
                    return;
                }
                break;
            }
        }
    }
}

/// A leader that stops hands leadership to another voter first, so the cluster does not
/// wait out an election timeout.
async fn hand_off_leadership(node: &Node) {
    let status = node.status();
    if status.leader != node.id() {
        return;
    }
    let Some(to) = node.voters().into_iter().find(|v| *v != node.id()) else { return };
    if node.raft().trigger().transfer_leader(to).await.is_err() {
        return;
    }
    let moved = node
        .raft()
        .wait(Some(Duration::from_secs(2)))
        .metrics(|m| m.current_leader.is_some_and(|l| l != node.id()), "leadership handed off")
        .await;
    if moved.is_err() {
        tracing::warn!("leadership transfer did not finish before shutdown");
    }
}

/// gRPC services and HTTP endpoints on one router: gRPC paths go to the services, the
/// rest to the HTTP routes and the JSON gateway (`/v3/`), whose fallback also answers gRPC
/// calls to unknown services.
fn client_router(
    ctx: Context,
    v2: Option<V2Api>,
    health: HealthServer<impl Health>,
    cors: api::Cors,
    max_message: usize,
) -> axum::Router {
    let kv = KvServer::new(KvService::new(ctx.clone())).max_decoding_message_size(max_message);
    let maintenance =
        MaintenanceServer::new(MaintenanceService::new(ctx.clone())).max_decoding_message_size(max_message);
    let mut http = api::http_router(ctx.node.clone()).merge(api::gateway_router(ctx.clone()));
    if let Some(v2) = v2 {
        http = http.merge(api::v2_router(v2));
    }
    // Around the whole router rather than each route, so that a preflight never reaches
    // axum's method routing (which would add its own `Allow` header).
    let http = axum::Router::new().fallback_service(api::CorsLayer::new(cors).layer(http));
    let watch = WatchServer::new(WatchService::new(ctx.clone())).max_decoding_message_size(max_message);
    let lease = LeaseServer::new(LeaseService::new(ctx.clone())).max_decoding_message_size(max_message);
    let lock = LockServer::new(LockService::new(ctx.clone())).max_decoding_message_size(max_message);
    let election = ElectionServer::new(ElectionService::new(ctx.clone())).max_decoding_message_size(max_message);
    let auth = AuthServer::new(AuthService::new(ctx.clone())).max_decoding_message_size(max_message);
    let cluster = ClusterServer::new(ClusterService::new(ctx)).max_decoding_message_size(max_message);
    Routes::from(http)
        .add_service(kv)
        .add_service(maintenance)
        .add_service(watch)
        .add_service(lease)
        .add_service(lock)
        .add_service(election)
        .add_service(cluster)
        .add_service(auth)
        .add_service(health)
        .prepare()
        .into_axum_router()
        .layer(api::GrpcCountLayer)
}
