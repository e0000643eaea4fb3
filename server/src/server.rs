//! Runs a member: opens its data dir, restores or bootstraps its identity, and serves gRPC
//! and HTTP together on every client URL.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use axum::serve::ListenerExt;
use etcd_proto::etcdserverpb::cluster_server::ClusterServer;
use etcd_proto::etcdserverpb::kv_server::KvServer;
use etcd_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;

use crate::api::{self, ClusterService, Context, KvService, MaintenanceService};
use crate::config::{ClusterState, Config};
use crate::membership;
use crate::node::Node;
use crate::storage::SledBackend;

/// gRPC lets a message through if it is this much above `max-request-bytes`, so the
/// request-size check can answer with etcd's own error (etcd's `grpcOverheadBytes`).
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// A reason the member could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Misconfiguration found at startup.
    #[error("{0}")]
    Setup(String),
    /// The state could not be opened.
    #[error(transparent)]
    State(#[from] crate::error::Error),
    /// A listener could not be bound or failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs a member until `shutdown` completes, then stops accepting and drains.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    if config.initial_cluster.len() > 1 && config.initial_cluster_state == ClusterState::New {
        return Err(ServerError::Setup(format!(
            "initial-cluster lists {} members; etcd-rs runs single-member clusters only until replication lands",
            config.initial_cluster.len()
        )));
    }
    let dir = config.data_dir.join("member");
    std::fs::create_dir_all(&dir).map_err(|e| {
        ServerError::Setup(format!("cannot create data dir {}: {e}", dir.display()))
    })?;
    let backend = Arc::new(open_backend(&dir.join("sled"))?);
    let cluster = membership::load_or_bootstrap(&*backend, &config)?;
    tracing::info!(
        name = %config.name,
        member_id = %format!("{:x}", cluster.local),
        cluster_id = %format!("{:x}", cluster.id),
        data_dir = %config.data_dir.display(),
        "starting member"
    );
    let node = Node::start(backend)?;
    let ctx = Context {
        node,
        cluster: Arc::new(cluster),
        max_request_bytes: config.max_request_bytes,
        max_txn_ops: config.max_txn_ops,
    };
    let router = client_router(ctx, config.max_request_bytes + GRPC_OVERHEAD_BYTES);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = Vec::new();
    for url in &config.listen_client_urls {
        let listener = TcpListener::bind(url.addr)
            .await
            .map_err(|e| ServerError::Setup(format!("cannot listen on {}: {e}", url.url)))?;
        tracing::info!(url = %url.url, "serving client requests (gRPC and HTTP)");
        let listener = listener.tap_io(|tcp| {
            // Small request/response pairs: Nagle would add latency to every one.
            tcp.set_nodelay(true).ok();
        });
        let mut stop = stop_rx.clone();
        let app = router.clone();
        servers.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    stop.wait_for(|s| *s).await.ok();
                })
                .await
        }));
    }
    shutdown.await;
    tracing::info!("shutting down");
    stop_tx.send(true).ok();
    for s in servers {
        match s.await {
            Ok(r) => r?,
            Err(e) => tracing::warn!(error = %e, "listener task failed"),
        }
    }
    Ok(())
}

fn open_backend(path: &Path) -> Result<SledBackend, ServerError> {
    SledBackend::open(path)
        .map_err(|e| ServerError::Setup(format!("cannot open {}: {e}", path.display())))
}

/// gRPC services and HTTP endpoints on one router: gRPC paths go to the services, the
/// rest to the HTTP routes, whose fallback also answers gRPC calls to unknown services.
fn client_router(ctx: Context, max_message: usize) -> axum::Router {
    let kv = KvServer::new(KvService::new(ctx.clone())).max_decoding_message_size(max_message);
    let maintenance = MaintenanceServer::new(MaintenanceService::new(ctx.clone()))
        .max_decoding_message_size(max_message);
    let cluster =
        ClusterServer::new(ClusterService::new(ctx)).max_decoding_message_size(max_message);
    Routes::from(api::http_router())
        .add_service(kv)
        .add_service(maintenance)
        .add_service(cluster)
        .prepare()
        .into_axum_router()
}

impl From<crate::storage::StorageError> for ServerError {
    fn from(e: crate::storage::StorageError) -> Self {
        ServerError::State(e.into())
    }
}
