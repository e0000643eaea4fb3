//! The cells etcdctl shows for members and endpoints; the simple format joins them with
//! `", "`, the table format draws them (etcdctl's `make*Table` functions).

use etcd_proto::etcdserverpb::MemberListResponse;

use super::{EpHealth, EpStatus};
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
