//! The cells etcdctl shows for members and endpoints; the simple format joins them with
//! `", "`, the table format draws them (etcdctl's `make*Table` functions). The key-value
//! and lease tables are etcdctl-rs's own.

use etcd_proto::etcdserverpb::{LeaseLeasesResponse, LeaseTimeToLiveResponse, MemberListResponse};
use etcd_proto::mvccpb::KeyValue;

use etcd_rs_server::snapshot_file::SnapshotStatus;

use super::{EpHashKv, EpHealth, EpStatus, simple};
use crate::go::humanize;

/// `member list` columns.
pub const MEMBER_HEADER: [&str; 6] = ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"];

/// One row per member: id in hex, `started` unless the member has no name yet.
pub fn members(resp: &MemberListResponse) -> Vec<Vec<String>> {
    resp.members
        .iter()
        .map(|m| {
            let status = if m.name.is_empty() { "unstarted" } else { "started" };
            vec![
                format!("{:x}", m.id),
                status.to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

/// `endpoint status` columns.
pub const STATUS_HEADER: [&str; 10] = [
    "ENDPOINT",
    "ID",
    "VERSION",
    "DB SIZE",
    "IS LEADER",
    "IS LEARNER",
    "RAFT TERM",
    "RAFT INDEX",
    "RAFT APPLIED INDEX",
    "ERRORS",
];

/// One row per endpoint; IS LEADER compares the leader with the answering member's id.
pub fn statuses(list: &[EpStatus]) -> Vec<Vec<String>> {
    list.iter()
        .map(|s| {
            let r = &s.resp;
            let member_id = r.header.map(|h| h.member_id).unwrap_or_default();
            vec![
                s.ep.clone(),
                format!("{member_id:x}"),
                r.version.clone(),
                // Go converts the int64 with uint64(); a negative size would wrap the same way.
                humanize::bytes(r.db_size as u64),
                (r.leader == member_id).to_string(),
                r.is_learner.to_string(),
                r.raft_term.to_string(),
                r.raft_index.to_string(),
                r.raft_applied_index.to_string(),
                r.errors.join(", "),
            ]
        })
        .collect()
}

/// `endpoint health` columns.
pub const HEALTH_HEADER: [&str; 4] = ["ENDPOINT", "HEALTH", "TOOK", "ERROR"];

/// One row per endpoint.
pub fn healths(list: &[EpHealth]) -> Vec<Vec<String>> {
    list.iter().map(|h| vec![h.ep.clone(), h.health.to_string(), h.took.clone(), h.error.clone()]).collect()
}

/// `endpoint hashkv` columns.
pub const HASHKV_HEADER: [&str; 2] = ["ENDPOINT", "HASH"];

/// One row per endpoint: the hash in decimal.
pub fn hashes(list: &[EpHashKv]) -> Vec<Vec<String>> {
    list.iter().map(|h| vec![h.ep.clone(), h.resp.hash.to_string()]).collect()
}

/// `snapshot status` columns.
pub const SNAPSHOT_STATUS_HEADER: [&str; 4] = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"];

/// The one row of `snapshot status`: the hash in hex, the size humanized.
pub fn snapshot_status(st: &SnapshotStatus) -> Vec<Vec<String>> {
    vec![vec![
        format!("{:x}", st.hash),
        st.revision.to_string(),
        st.total_keys.to_string(),
        humanize::bytes(st.total_size as u64),
    ]]
}

/// `get -w table` columns (etcdctl-rs only).
pub const KV_HEADER: [&str; 6] = ["KEY", "VALUE", "CREATE REVISION", "MOD REVISION", "VERSION", "LEASE"];

/// One row per pair: key and value as text (`\xNN` per byte with `--hex`, invalid UTF-8
/// replaced otherwise), the lease id in hex as etcdctl prints lease ids (`0`: none).
pub fn kvs(pairs: &[KeyValue], hex: bool) -> Vec<Vec<String>> {
    let text = |b: &[u8]| if hex { simple::hex(b) } else { String::from_utf8_lossy(b).into_owned() };
    pairs
        .iter()
        .map(|kv| {
            vec![
                text(&kv.key),
                text(&kv.value),
                kv.create_revision.to_string(),
                kv.mod_revision.to_string(),
                kv.version.to_string(),
                lease_id(kv.lease),
            ]
        })
        .collect()
}

/// `lease list -w table` columns (etcdctl-rs only).
pub const LEASE_HEADER: [&str; 3] = ["LEASE ID", "TTL", "GRANTED TTL"];

/// One row per lease, with its remaining and granted TTL in seconds from its TimeToLive
/// answer in `ttls` (`-1` once expired; empty cells if it was not asked).
pub fn leases(r: &LeaseLeasesResponse, ttls: &[LeaseTimeToLiveResponse]) -> Vec<Vec<String>> {
    r.leases
        .iter()
        .map(|l| {
            let ttl = ttls.iter().find(|t| t.id == l.id);
            vec![
                lease_id(l.id),
                ttl.map(|t| t.ttl.to_string()).unwrap_or_default(),
                ttl.map(|t| t.granted_ttl.to_string()).unwrap_or_default(),
            ]
        })
        .collect()
}

fn lease_id(id: i64) -> String {
    if id == 0 { "0".to_string() } else { format!("{id:016x}") }
}
