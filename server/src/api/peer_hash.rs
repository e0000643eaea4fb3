//! Asks another member for its KV hash over its client URL (Maintenance.HashKV), for the
//! corruption check.

use std::time::Duration;

use etcd_proto::etcdserverpb::HashKvRequest;
use etcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use tonic::transport::Endpoint;

use crate::corruption::KvHash;

/// How long one member may take to answer.
const PEER_HASH_TIMEOUT: Duration = Duration::from_secs(5);

/// The hash of member `member` at `revision`, asked at `url`; `None` if it cannot answer
/// (unreachable, or not yet at that revision): etcd skips such members too.
pub async fn peer_hash(member: u64, url: &str, revision: i64) -> Option<KvHash> {
    let endpoint =
        Endpoint::from_shared(url.to_string()).ok()?.connect_timeout(PEER_HASH_TIMEOUT).timeout(PEER_HASH_TIMEOUT);
    let channel = endpoint.connect().await.ok()?;
    let resp = MaintenanceClient::new(channel).hash_kv(HashKvRequest { revision }).await.ok()?.into_inner();
    let header = resp.header?;
    Some(KvHash { member, hash: resp.hash, revision: header.revision, compact_revision: resp.compact_revision })
}
