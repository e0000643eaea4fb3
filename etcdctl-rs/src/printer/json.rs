//! `-w json`: Go's `encoding/json` applied to the gogo-generated response structs
//! (proto field names, `omitempty`, decimal ids, base64 bytes), one line per response.

use etcd_proto::etcdserverpb::response_op::Response;
use etcd_proto::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse, MemberListResponse, PutResponse,
    RangeResponse, ResponseHeader, StatusResponse, TxnResponse, WatchResponse,
};
use etcd_proto::mvccpb::KeyValue;

use super::{EpHashKv, EpHealth, EpStatus};
use crate::go::json::{Object, array, base64, string};

fn header(o: &mut Object, h: &Option<ResponseHeader>) {
    // A nil *ResponseHeader is omitted; a present one is printed even when all zero.
    if let Some(h) = h {
        let mut ho = Object::new();
        ho.num_nz("cluster_id", h.cluster_id)
            .num_nz("member_id", h.member_id)
            .num_nz("revision", h.revision)
            .num_nz("raft_term", h.raft_term);
        o.raw("header", &ho.finish());
    }
}

fn kv(kv: &KeyValue) -> String {
    let mut o = Object::new();
    o.bytes_nz("key", &kv.key)
        .num_nz("create_revision", kv.create_revision)
        .num_nz("mod_revision", kv.mod_revision)
        .num_nz("version", kv.version)
        .bytes_nz("value", &kv.value)
        .num_nz("lease", kv.lease);
    o.finish()
}

fn kvs(list: &[KeyValue]) -> Vec<String> {
    list.iter().map(kv).collect()
}

/// `get`.
pub fn get(resp: &RangeResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &resp.header);
    o.array_nz("kvs", &kvs(&resp.kvs)).bool_nz("more", resp.more).num_nz("count", resp.count);
    o.finish()
}

/// `put`.
pub fn put(resp: &PutResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &resp.header);
    if let Some(prev) = &resp.prev_kv {
        o.raw("prev_kv", &kv(prev));
    }
    o.finish()
}

/// `del`.
pub fn del(resp: &DeleteRangeResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &resp.header);
    o.num_nz("deleted", resp.deleted).array_nz("prev_kvs", &kvs(&resp.prev_kvs));
    o.finish()
}

/// `txn`: each ResponseOp is `{"Response":{"ResponseRange":{...}}}`, Go's names for the
/// oneof wrapper types (they carry no json tags).
pub fn txn(resp: &TxnResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &resp.header);
    o.bool_nz("succeeded", resp.succeeded);
    let ops: Vec<String> = resp
        .responses
        .iter()
        .map(|op| {
            let inner = match &op.response {
                Some(Response::ResponseRange(r)) => wrap("ResponseRange", &get(r)),
                Some(Response::ResponsePut(r)) => wrap("ResponsePut", &put(r)),
                Some(Response::ResponseDeleteRange(r)) => wrap("ResponseDeleteRange", &del(r)),
                Some(Response::ResponseTxn(r)) => wrap("ResponseTxn", &txn(r)),
                None => "null".to_string(),
            };
            let mut w = Object::new();
            w.raw("Response", &inner);
            w.finish()
        })
        .collect();
    o.array_nz("responses", &ops);
    o.finish()
}

fn wrap(name: &str, json: &str) -> String {
    let mut o = Object::new();
    o.raw(name, json);
    o.finish()
}

fn member(m: &Member) -> String {
    let strings = |v: &[String]| v.iter().map(|s| string(s.as_bytes())).collect::<Vec<_>>();
    let mut o = Object::new();
    o.num_nz("ID", m.id)
        .str_nz("name", &m.name)
        .array_nz("peerURLs", &strings(&m.peer_ur_ls))
        .array_nz("clientURLs", &strings(&m.client_ur_ls))
        .bool_nz("isLearner", m.is_learner);
    o.finish()
}

/// `member list`.
pub fn member_list(resp: &MemberListResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &resp.header);
    let members: Vec<String> = resp.members.iter().map(member).collect();
    o.array_nz("members", &members);
    o.finish()
}

fn status(r: &StatusResponse) -> String {
    let errors: Vec<String> = r.errors.iter().map(|e| string(e.as_bytes())).collect();
    let mut o = Object::new();
    header(&mut o, &r.header);
    o.str_nz("version", &r.version)
        .num_nz("dbSize", r.db_size)
        .num_nz("leader", r.leader)
        .num_nz("raftIndex", r.raft_index)
        .num_nz("raftTerm", r.raft_term)
        .num_nz("raftAppliedIndex", r.raft_applied_index)
        .array_nz("errors", &errors)
        .num_nz("dbSizeInUse", r.db_size_in_use)
        .bool_nz("isLearner", r.is_learner);
    o.finish()
}

/// `endpoint status`: `[{"Endpoint":...,"Status":{...}}]` (`[]` when every endpoint failed).
pub fn endpoint_status(list: &[EpStatus]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| {
            let mut o = Object::new();
            o.str("Endpoint", &s.ep).raw("Status", &status(&s.resp));
            o.finish()
        })
        .collect();
    array(&items)
}

/// `endpoint hashkv`: `[{"Endpoint":...,"HashKV":{...}}]` (`[]` when every endpoint failed).
pub fn endpoint_hashkv(list: &[EpHashKv]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|h| {
            let mut resp = Object::new();
            header(&mut resp, &h.resp.header);
            resp.num_nz("hash", h.resp.hash).num_nz("compact_revision", h.resp.compact_revision);
            let mut o = Object::new();
            o.str("Endpoint", &h.ep).raw("HashKV", &resp.finish());
            o.finish()
        })
        .collect();
    array(&items)
}

/// `alarm list|disarm`: `{"alarms":[{"memberID":...,"alarm":1}]}`, the alarm type as its
/// number (`{}` when there are none, as etcd 3.4 sends no header).
pub fn alarm(resp: &AlarmResponse) -> String {
    let alarms: Vec<String> = resp
        .alarms
        .iter()
        .map(|a| {
            let mut o = Object::new();
            o.num_nz("memberID", a.member_id).num_nz("alarm", a.alarm);
            o.finish()
        })
        .collect();
    let mut o = Object::new();
    header(&mut o, &resp.header);
    o.array_nz("alarms", &alarms);
    o.finish()
}

/// `endpoint health`: `[{"endpoint":...,"health":...,"took":...}]`, plus `error` if any.
pub fn endpoint_health(list: &[EpHealth]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|h| {
            let mut o = Object::new();
            o.str("endpoint", &h.ep).bool("health", h.health).str("took", &h.took).str_nz("error", &h.error);
            o.finish()
        })
        .collect();
    array(&items)
}

/// clientv3's lease responses embed `*pb.ResponseHeader`: its fields sit at the top level.
fn flat_header(o: &mut Object, h: &Option<ResponseHeader>) {
    if let Some(h) = h {
        o.num_nz("cluster_id", h.cluster_id)
            .num_nz("member_id", h.member_id)
            .num_nz("revision", h.revision)
            .num_nz("raft_term", h.raft_term);
    }
}

/// `lease grant` (clientv3 `LeaseGrantResponse`).
pub fn lease_grant(r: &LeaseGrantResponse) -> String {
    let mut o = Object::new();
    flat_header(&mut o, &r.header);
    o.num("ID", r.id).num("TTL", r.ttl).str("Error", &r.error);
    o.finish()
}

/// `lease revoke` (the protobuf response itself).
pub fn lease_revoke(r: &LeaseRevokeResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &r.header);
    o.finish()
}

/// `lease timetolive` (clientv3 `LeaseTimeToLiveResponse`; no keys is `null`).
pub fn lease_time_to_live(r: &LeaseTimeToLiveResponse) -> String {
    let mut o = Object::new();
    flat_header(&mut o, &r.header);
    o.num("id", r.id).num("ttl", r.ttl).num("granted-ttl", r.granted_ttl);
    if r.keys.is_empty() {
        o.raw("keys", "null");
    } else {
        let keys: Vec<String> = r.keys.iter().map(|k| base64(k)).collect();
        o.raw("keys", &array(&keys));
    }
    o.finish()
}

/// `lease list` (clientv3 `LeaseLeasesResponse`).
pub fn lease_leases(r: &LeaseLeasesResponse) -> String {
    let mut o = Object::new();
    flat_header(&mut o, &r.header);
    let leases: Vec<String> = r
        .leases
        .iter()
        .map(|l| {
            let mut item = Object::new();
            item.num("id", l.id);
            item.finish()
        })
        .collect();
    o.raw("leases", &array(&leases));
    o.finish()
}

/// `lease keep-alive` (clientv3 `LeaseKeepAliveResponse`).
pub fn lease_keep_alive(r: &LeaseKeepAliveResponse) -> String {
    let mut o = Object::new();
    flat_header(&mut o, &r.header);
    o.num("ID", r.id).num("TTL", r.ttl);
    o.finish()
}

/// `watch` (clientv3 `WatchResponse`: Go field names, header by value).
pub fn watch(r: &WatchResponse) -> String {
    let h = r.header.unwrap_or_default();
    let mut ho = Object::new();
    ho.num_nz("cluster_id", h.cluster_id)
        .num_nz("member_id", h.member_id)
        .num_nz("revision", h.revision)
        .num_nz("raft_term", h.raft_term);
    let events: Vec<String> = r
        .events
        .iter()
        .map(|e| {
            let mut eo = Object::new();
            eo.num_nz("type", e.r#type);
            if let Some(k) = &e.kv {
                eo.raw("kv", &kv(k));
            }
            if let Some(p) = &e.prev_kv {
                eo.raw("prev_kv", &kv(p));
            }
            eo.finish()
        })
        .collect();
    let mut o = Object::new();
    o.raw("Header", &ho.finish())
        .raw("Events", &array(&events))
        .num("CompactRevision", r.compact_revision)
        .bool("Canceled", r.canceled)
        .bool("Created", r.created);
    o.finish()
}

/// `member add` (`{"header","member","members"}`).
pub fn member_add(r: &MemberAddResponse) -> String {
    let mut o = Object::new();
    header(&mut o, &r.header);
    if let Some(m) = &r.member {
        o.raw("member", &member(m));
    }
    o.array_nz("members", &r.members.iter().map(member).collect::<Vec<_>>());
    o.finish()
}

/// `member remove|update|promote` (`{"header","members"}`).
pub fn members_response(h: &Option<ResponseHeader>, members: &[Member]) -> String {
    let mut o = Object::new();
    header(&mut o, h);
    o.array_nz("members", &members.iter().map(member).collect::<Vec<_>>());
    o.finish()
}
