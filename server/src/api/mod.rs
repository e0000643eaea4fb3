//! The protocol layer: gRPC services and HTTP endpoints over the member's logic.
//!
//! Handlers convert protobuf to logic types ([`convert`]), call the node, and map errors
//! through [`status`]; nothing below this module knows tonic, prost or HTTP.

mod cluster;
pub mod convert;
mod http;
mod kv;
mod maintenance;
pub mod status;

use std::sync::Arc;

use etcd_proto::etcdserverpb::ResponseHeader;

pub use cluster::ClusterService;
pub use http::router as http_router;
pub use kv::KvService;
pub use maintenance::MaintenanceService;

use crate::membership::Cluster;
use crate::node::Node;
use crate::storage::SledBackend;

/// The Raft term a single member reports: it is its own leader from the start.
pub const TERM: u64 = 1;

/// What every handler needs.
#[derive(Clone)]
pub struct Context {
    /// The member's state and write path.
    pub node: Node<SledBackend>,
    /// Identity and membership.
    pub cluster: Arc<Cluster>,
    /// `max-request-bytes`.
    pub max_request_bytes: usize,
    /// `max-txn-ops`.
    pub max_txn_ops: usize,
}

impl Context {
    /// A response header at `revision`.
    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.cluster.id,
            member_id: self.cluster.local,
            revision,
            raft_term: TERM,
        }
    }
}
