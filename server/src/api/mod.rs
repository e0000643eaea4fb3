//! The protocol layer: gRPC services and HTTP endpoints over the member's logic.
//!
//! Handlers convert protobuf to logic types ([`convert`]), call the node, and map errors
//! through [`status`]; nothing below this module knows tonic, prost or HTTP.

mod cluster;
pub mod convert;
mod election;
mod gateway;
mod http;
mod kv;
mod lease;
mod lease_ids;
mod lock;
mod maintenance;
mod metrics;
mod peer_hash;
mod recipe_txns;
pub mod status;
mod v2;
mod watch;

use etcd_proto::etcdserverpb::ResponseHeader;

pub use cluster::ClusterService;
pub use election::ElectionService;
pub use gateway::router as gateway_router;
pub use http::router as http_router;
pub use kv::KvService;
pub use lease::LeaseService;
pub use lease_ids::LeaseIds;
pub use lock::LockService;
pub use maintenance::MaintenanceService;
pub use metrics::GrpcCountLayer;
pub use peer_hash::peer_hash;
pub use v2::{V2Api, now_ms, router as v2_router};
pub use watch::WatchService;

use crate::alarm::{Alarm, AlarmKind};
use crate::command::{Command, CommandResponse};
use crate::error::Error;
use crate::node::Node;

/// What every handler needs.
#[derive(Clone)]
pub struct Context {
    /// The member: state, write path, Raft status.
    pub node: Node,
    /// `max-request-bytes`.
    pub max_request_bytes: usize,
    /// `max-txn-ops`.
    pub max_txn_ops: usize,
    /// How often idle watchers that asked for it get a progress notification.
    pub watch_progress_interval: std::time::Duration,
    /// Shortest lease TTL granted, in seconds: 1.5 election timeouts, as etcd's.
    pub min_lease_ttl: i64,
    /// `quota-backend-bytes`.
    pub quota: std::sync::Arc<crate::quota::Quota>,
    /// Ids for leases the server picks.
    pub lease_ids: std::sync::Arc<LeaseIds>,
}

/// A command answered with a response of the wrong kind: a bug, reported, not a panic.
fn mismatch() -> tonic::Status {
    tonic::Status::internal("etcd-rs: command answered with a response of another kind")
}

impl Context {
    /// Proposes a client's change. One the quota refuses is not proposed: the NOSPACE
    /// alarm is raised for this member instead and the client told, as etcd's quota
    /// servers do (the alarm's own outcome does not change the answer).
    pub async fn propose(&self, cmd: Command) -> Result<CommandResponse, tonic::Status> {
        let node = &self.node;
        if !self.quota.admits(&cmd, || node.db_size()).map_err(status::status)? {
            let alarm = Alarm { member: node.id(), kind: AlarmKind::NoSpace };
            if let Err(e) = node.propose(Command::Alarm { activate: true, alarm }).await {
                tracing::warn!(error = %e, "raising the NOSPACE alarm");
            }
            return Err(status::status(Error::NoSpace));
        }
        node.propose(cmd).await.map_err(status::status)
    }

    /// Rejects oversized writes before they reach the log, as etcd does for every
    /// request it proposes (KV writes, and the txns of Lock, Campaign and Proclaim).
    pub fn check_size(&self, req: &impl prost::Message) -> Result<(), tonic::Status> {
        if req.encoded_len() > self.max_request_bytes {
            return Err(status::status(Error::RequestTooLarge));
        }
        Ok(())
    }

    /// A response header at `revision`.
    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.node.cluster_id(),
            member_id: self.node.id(),
            revision,
            raft_term: self.node.term(),
        }
    }
}
