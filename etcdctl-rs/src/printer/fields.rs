//! `-w fields`: one `"Name" : value` line per field, strings Go-quoted.

use etcd_proto::etcdserverpb::response_op::Response;
use etcd_proto::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberListResponse, PutResponse, RangeResponse, ResponseHeader,
    TxnResponse, WatchResponse,
};
use etcd_proto::mvccpb::KeyValue;

use etcd_rs_server::snapshot_file::SnapshotStatus;

use super::{EpHashKv, EpHealth, EpStatus, simple};
use crate::go::quote::quote;

fn line(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    out.extend_from_slice(format!("\"{name}\" : {value}\n").as_bytes());
}

fn header(out: &mut Vec<u8>, h: &Option<ResponseHeader>) {
    let h = h.unwrap_or_default();
    line(out, "ClusterID", h.cluster_id);
    line(out, "MemberID", h.member_id);
    line(out, "Revision", h.revision);
    line(out, "RaftTerm", h.raft_term);
}

fn kv(out: &mut Vec<u8>, prefix: &str, kv: &KeyValue) {
    line(out, &format!("{prefix}Key"), quote(&kv.key));
    line(out, &format!("{prefix}CreateRevision"), kv.create_revision);
    line(out, &format!("{prefix}ModRevision"), kv.mod_revision);
    line(out, &format!("{prefix}Version"), kv.version);
    line(out, &format!("{prefix}Value"), quote(&kv.value));
    line(out, &format!("{prefix}Lease"), kv.lease);
}

/// `get`.
pub fn get(out: &mut Vec<u8>, resp: &RangeResponse) {
    header(out, &resp.header);
    for pair in &resp.kvs {
        kv(out, "", pair);
    }
    line(out, "More", resp.more);
    line(out, "Count", resp.count);
}

/// `put`.
pub fn put(out: &mut Vec<u8>, resp: &PutResponse) {
    header(out, &resp.header);
    if let Some(prev) = &resp.prev_kv {
        kv(out, "Prev", prev);
    }
}

/// `del`.
pub fn del(out: &mut Vec<u8>, resp: &DeleteRangeResponse) {
    header(out, &resp.header);
    line(out, "Deleted", resp.deleted);
    for pair in &resp.prev_kvs {
        kv(out, "Prev", pair);
    }
}

/// `txn`: the header and verdict, then each operation's fields (inner headers carry only
/// the revision).
pub fn txn(out: &mut Vec<u8>, resp: &TxnResponse) {
    header(out, &resp.header);
    line(out, "Succeeded", resp.succeeded);
    for op in &resp.responses {
        match &op.response {
            Some(Response::ResponseRange(r)) => get(out, r),
            Some(Response::ResponsePut(r)) => put(out, r),
            Some(Response::ResponseDeleteRange(r)) => del(out, r),
            other => line(out, "Unknown", quote(format!("{other:?}").as_bytes())),
        }
    }
}

/// `member list`.
pub fn member_list(out: &mut Vec<u8>, resp: &MemberListResponse) {
    header(out, &resp.header);
    for m in &resp.members {
        line(out, "ID", m.id);
        line(out, "Name", quote(m.name.as_bytes()));
        for u in &m.peer_ur_ls {
            line(out, "PeerURL", quote(u.as_bytes()));
        }
        for u in &m.client_ur_ls {
            line(out, "ClientURL", quote(u.as_bytes()));
        }
        line(out, "IsLearner", m.is_learner);
        out.push(b'\n');
    }
}

/// `endpoint status`.
pub fn endpoint_status(out: &mut Vec<u8>, list: &[EpStatus]) {
    for s in list {
        let r = &s.resp;
        header(out, &r.header);
        line(out, "Version", quote(r.version.as_bytes()));
        line(out, "DBSize", r.db_size);
        line(out, "Leader", r.leader);
        line(out, "IsLearner", r.is_learner);
        line(out, "RaftIndex", r.raft_index);
        line(out, "RaftTerm", r.raft_term);
        line(out, "RaftAppliedIndex", r.raft_applied_index);
        // Go prints a []string as `[a b]`.
        line(out, "Errors", format!("[{}]", r.errors.join(" ")));
        line(out, "Endpoint", quote(s.ep.as_bytes()));
        out.push(b'\n');
    }
}

/// `endpoint hashkv`.
pub fn endpoint_hashkv(out: &mut Vec<u8>, list: &[EpHashKv]) {
    for h in list {
        header(out, &h.resp.header);
        line(out, "Endpoint", quote(h.ep.as_bytes()));
        line(out, "Hash", h.resp.hash);
        out.push(b'\n');
    }
}

/// `alarm list|disarm` when the response has a header (etcd 3.4's has none, see
/// [`super::Printer::alarm`]).
pub fn alarm(out: &mut Vec<u8>, resp: &AlarmResponse) {
    header(out, &resp.header);
    for a in &resp.alarms {
        line(out, "MemberID", a.member_id);
        line(out, "AlarmType", simple::alarm_name(a.alarm));
        out.push(b'\n');
    }
}

/// `snapshot status`.
pub fn snapshot_status(out: &mut Vec<u8>, st: &SnapshotStatus) {
    line(out, "Hash", st.hash);
    line(out, "Revision", st.revision);
    line(out, "Keys", st.total_keys);
    line(out, "Size", st.total_size);
}

/// `endpoint health` (the `Error` line keeps its trailing space when there is no error).
pub fn endpoint_health(out: &mut Vec<u8>, list: &[EpHealth]) {
    for h in list {
        line(out, "Endpoint", quote(h.ep.as_bytes()));
        line(out, "Health", h.health);
        line(out, "Took", &h.took);
        line(out, "Error", &h.error);
        out.push(b'\n');
    }
}

/// `lease grant`.
pub fn lease_grant(out: &mut Vec<u8>, r: &LeaseGrantResponse) {
    header(out, &r.header);
    line(out, "ID", r.id);
    line(out, "TTL", r.ttl);
}

/// `lease revoke`.
pub fn lease_revoke(out: &mut Vec<u8>, r: &LeaseRevokeResponse) {
    header(out, &r.header);
}

/// `lease timetolive`.
pub fn lease_time_to_live(out: &mut Vec<u8>, r: &LeaseTimeToLiveResponse) {
    header(out, &r.header);
    line(out, "ID", r.id);
    line(out, "TTL", r.ttl);
    line(out, "GrantedTTL", r.granted_ttl);
    for k in &r.keys {
        line(out, "Key", quote(k));
    }
}

/// `lease list`.
pub fn lease_leases(out: &mut Vec<u8>, r: &LeaseLeasesResponse) {
    header(out, &r.header);
    for l in &r.leases {
        line(out, "ID", l.id);
    }
}

/// `lease keep-alive`.
pub fn lease_keep_alive(out: &mut Vec<u8>, r: &LeaseKeepAliveResponse) {
    header(out, &r.header);
    line(out, "ID", r.id);
    line(out, "TTL", r.ttl);
}

/// `watch`.
pub fn watch(out: &mut Vec<u8>, r: &WatchResponse) {
    header(out, &Some(r.header.unwrap_or_default()));
    for e in &r.events {
        line(out, "Type", if e.r#type == 1 { "DELETE" } else { "PUT" });
        if let Some(p) = &e.prev_kv {
            kv(out, "Prev", p);
        }
        kv(out, "", &e.kv.clone().unwrap_or_default());
    }
}

/// Commands whose fields output is the header alone.
pub fn header_only(out: &mut Vec<u8>, h: &Option<ResponseHeader>) {
    header(out, h);
}
