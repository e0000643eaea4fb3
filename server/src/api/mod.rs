//! The protocol layer: gRPC services and HTTP endpoints over the member's logic.
//!
//! Handlers convert protobuf to logic types ([`convert`]), call the node, and map errors
//! through [`status`]; nothing below this module knows tonic, prost or HTTP.

mod auth;
mod cluster;
pub mod convert;
mod cors;
mod election;
mod gateway;
mod go_json;
mod grpc_frames;
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

pub use auth::AuthService;
pub use cluster::ClusterService;
pub use cors::{Cors, CorsLayer};
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

/// What grpc-go lets a message exceed `max-request-bytes` by (etcd's `grpcOverheadBytes`):
/// the gRPC server's limit is the sum.
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// The size of etcd's `InternalRaftRequest` holding a request of `len` bytes, which is
/// what etcd holds to `max-request-bytes`: the request's tag (fields 2–11: one byte) and
/// length, and the header (field 100: a two-byte tag, one byte of length) holding the
/// request ID's tag and varint. etcd's request IDs (`idutil`) carry the low 16 bits of
/// the member ID on top of a 48-bit timestamp and counter whose top bit is set until
/// 2039, so the ID's size follows from the member ID.
fn raft_request_len(member_id: u64, len: usize) -> usize {
    use prost::encoding::encoded_len_varint;
    let request_id = ((member_id & 0xffff) << 48) | (1 << 47);
    let header = 2 + 1 + 1 + encoded_len_varint(request_id);
    header + 1 + encoded_len_varint(len as u64) + len
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
    /// request it proposes (KV writes, and the txns of Lock, Campaign and Proclaim),
    /// measured as etcd measures them: wrapped in its log entry.
    pub fn check_size(&self, req: &impl prost::Message) -> Result<(), tonic::Status> {
        self.check_size_within(req, self.max_request_bytes)
    }

    /// [`Context::check_size`] with another limit.
    pub fn check_size_within(&self, req: &impl prost::Message, limit: usize) -> Result<(), tonic::Status> {
        if raft_request_len(self.node.id(), req.encoded_len()) > limit {
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

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::raft_request_len;

    /// Measured against etcd 3.4 (a member whose request IDs take nine bytes, as those
    /// of a member ID with low 16 bits from 0x0200 to 0x7fff do): a put of key `bk`
    /// passes the default limit with a 1,572,839-byte value, not with one byte more.
    #[test]
    fn requests_are_measured_as_etcd_log_entries() {
        let put = |n: usize| etcd_proto::etcdserverpb::PutRequest {
            key: b"bk".to_vec(),
            value: vec![b'v'; n],
            ..Default::default()
        };
        let limit = 1_572_864;
        assert!(raft_request_len(0x8e9e_05c5_2164_2f3c, put(1_572_839).encoded_len()) <= limit);
        assert!(raft_request_len(0x8e9e_05c5_2164_2f3c, put(1_572_840).encoded_len()) > limit);
        // A member ID with the 16th bit set makes the request ID one byte longer.
        assert_eq!(raft_request_len(0x8000, 10), raft_request_len(0x2f3c, 10) + 1);
    }
}
