//! The protocol layer: gRPC services and HTTP endpoints over the member's logic.
//!
//! Handlers convert protobuf to logic types ([`convert`]), call the node, and map errors
//! through [`status`]; nothing below this module knows tonic, prost or HTTP.

mod cluster;
pub mod convert;
mod election;
mod http;
mod kv;
mod lease;
mod lock;
mod maintenance;
pub mod status;
mod v2;
mod watch;

use etcd_proto::etcdserverpb::ResponseHeader;

pub use cluster::ClusterService;
pub use election::ElectionService;
pub use http::router as http_router;
pub use kv::KvService;
pub use lease::LeaseService;
pub use lock::LockService;
pub use maintenance::MaintenanceService;
pub use v2::{V2Api, now_ms, router as v2_router};
pub use watch::WatchService;

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
}

/// A command answered with a response of the wrong kind: a bug, reported, not a panic.
fn mismatch() -> tonic::Status {
    tonic::Status::internal("etcd-rs: command answered with a response of another kind")
}

impl Context {
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
