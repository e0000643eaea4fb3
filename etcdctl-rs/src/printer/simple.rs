//! etcdctl's default `simple` format: raw keys and values on their own lines.

use etcd_proto::etcdserverpb::response_op::Response;
use etcd_proto::etcdserverpb::{
    AlarmMember, AlarmResponse, AlarmType, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseTimeToLiveResponse, MemberListResponse, PutResponse, RangeResponse, TxnResponse,
    WatchResponse,
};
use etcd_proto::mvccpb::KeyValue;

use super::{EpHashKv, EpHealth, EpStatus, rows};

/// How keys and values are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvStyle {
    /// `--hex`: every byte as `\xNN`.
    pub hex: bool,
    /// `--print-value-only`: values without their keys.
    pub value_only: bool,
}

/// `--hex`'s rendering of bytes: `\xNN` for each.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8], hex: bool) {
    if hex {
        out.extend_from_slice(self::hex(bytes).as_bytes());
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'\n');
}

fn kv(out: &mut Vec<u8>, kv: &KeyValue, style: KvStyle) {
    if !style.value_only {
        push_bytes(out, &kv.key, style.hex);
    }
    push_bytes(out, &kv.value, style.hex);
}

/// `get`: key line then value line per pair.
pub fn get(out: &mut Vec<u8>, resp: &RangeResponse, style: KvStyle) {
    for pair in &resp.kvs {
        kv(out, pair, style);
    }
}

/// `put`: `OK`, then the previous pair when `--prev-kv` found one.
pub fn put(out: &mut Vec<u8>, resp: &PutResponse, style: KvStyle) {
    out.extend_from_slice(b"OK\n");
    if let Some(prev) = &resp.prev_kv {
        kv(out, prev, style);
    }
}

/// `del`: the number deleted, then the deleted pairs when `--prev-kv` was given.
pub fn del(out: &mut Vec<u8>, resp: &DeleteRangeResponse, style: KvStyle) {
    out.extend_from_slice(format!("{}\n", resp.deleted).as_bytes());
    for pair in &resp.prev_kvs {
        kv(out, pair, style);
    }
}

/// `txn`: `SUCCESS` or `FAILURE`, then an empty line and the output of each operation.
pub fn txn(out: &mut Vec<u8>, resp: &TxnResponse, style: KvStyle) {
    let verdict: &[u8] = if resp.succeeded { b"SUCCESS\n" } else { b"FAILURE\n" };
    out.extend_from_slice(verdict);
    for op in &resp.responses {
        out.push(b'\n');
        match &op.response {
            Some(Response::ResponseRange(r)) => get(out, r, style),
            Some(Response::ResponsePut(r)) => put(out, r, style),
            Some(Response::ResponseDeleteRange(r)) => del(out, r, style),
            // etcdctl's txn syntax cannot nest transactions; this mirrors its fallback.
            other => out.extend_from_slice(format!("unexpected response {other:?}\n").as_bytes()),
        }
    }
}

pub fn joined_rows(out: &mut Vec<u8>, rows: Vec<Vec<String>>) {
    for row in rows {
        out.extend_from_slice(row.join(", ").as_bytes());
        out.push(b'\n');
    }
}

/// `member list`: `ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER` per member.
pub fn member_list(out: &mut Vec<u8>, resp: &MemberListResponse) {
    joined_rows(out, rows::members(resp));
}

/// `endpoint status`: one comma-separated row per endpoint (ending in `", "` when there are
/// no errors, as etcdctl's does).
pub fn endpoint_status(out: &mut Vec<u8>, list: &[EpStatus]) {
    joined_rows(out, rows::statuses(list));
}

/// `endpoint hashkv`: `ENDPOINT, HASH` per endpoint.
pub fn endpoint_hashkv(out: &mut Vec<u8>, list: &[EpHashKv]) {
    joined_rows(out, rows::hashes(list));
}

/// `alarm list|disarm`: each alarm as Go's `%+v` prints it, protobuf's compact text form
/// (`memberID:<decimal> alarm:NOSPACE `, zero fields left out).
pub fn alarm(out: &mut Vec<u8>, resp: &AlarmResponse) {
    for a in &resp.alarms {
        out.extend_from_slice(alarm_text(a).as_bytes());
        out.push(b'\n');
    }
}

fn alarm_text(a: &AlarmMember) -> String {
    let mut text = String::new();
    if a.member_id != 0 {
        text.push_str(&format!("memberID:{} ", a.member_id));
    }
    if a.alarm != 0 {
        text.push_str(&format!("alarm:{} ", alarm_name(a.alarm)));
    }
    text
}

/// An alarm type's protobuf name (`NOSPACE`), or its number if unknown, as Go prints it.
pub fn alarm_name(alarm: i32) -> String {
    AlarmType::try_from(alarm).map_or_else(|_| alarm.to_string(), |t| t.as_str_name().to_string())
}

/// `endpoint health`: one sentence per endpoint. etcdctl writes these to stderr.
pub fn endpoint_health(out: &mut Vec<u8>, list: &[EpHealth]) {
    for h in list {
        let line = if h.error.is_empty() {
            format!("{} is healthy: successfully committed proposal: took = {}\n", h.ep, h.took)
        } else {
            format!("{} is unhealthy: failed to commit proposal: {}\n", h.ep, h.error)
        };
        out.extend_from_slice(line.as_bytes());
    }
}

/// `lease grant`.
pub fn lease_grant(out: &mut Vec<u8>, r: &LeaseGrantResponse) {
    out.extend_from_slice(format!("lease {:016x} granted with TTL({}s)\n", r.id, r.ttl).as_bytes());
}

/// `lease revoke`.
pub fn lease_revoke(out: &mut Vec<u8>, id: i64) {
    out.extend_from_slice(format!("lease {id:016x} revoked\n").as_bytes());
}

/// `lease timetolive`: Go prints the keys as a `[]string` (`[a b]`).
pub fn lease_time_to_live(out: &mut Vec<u8>, r: &LeaseTimeToLiveResponse, keys: bool) {
    if r.granted_ttl == 0 && r.ttl == -1 {
        out.extend_from_slice(format!("lease {:016x} already expired\n", r.id).as_bytes());
        return;
    }
    out.extend_from_slice(
        format!("lease {:016x} granted with TTL({}s), remaining({}s)", r.id, r.granted_ttl, r.ttl).as_bytes(),
    );
    if keys {
        out.extend_from_slice(b", attached keys([");
        for (i, k) in r.keys.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(k);
        }
        out.extend_from_slice(b"])");
    }
    out.push(b'\n');
}

/// `lease list`.
pub fn lease_leases(out: &mut Vec<u8>, r: &LeaseLeasesResponse) {
    out.extend_from_slice(format!("found {} leases\n", r.leases.len()).as_bytes());
    for l in &r.leases {
        out.extend_from_slice(format!("{:016x}\n", l.id).as_bytes());
    }
}

/// `lease keep-alive`, one response.
pub fn lease_keep_alive(out: &mut Vec<u8>, r: &LeaseKeepAliveResponse) {
    out.extend_from_slice(format!("lease {:016x} keepalived with TTL({})\n", r.id, r.ttl).as_bytes());
}

/// `watch`: the event type, the previous pair if asked for, then the pair.
pub fn watch(out: &mut Vec<u8>, r: &WatchResponse, style: KvStyle) {
    for e in &r.events {
        out.extend_from_slice(if e.r#type == 1 { b"DELETE\n" } else { b"PUT\n" });
        if let Some(prev) = &e.prev_kv {
            kv(out, prev, style);
        }
        kv(out, &e.kv.clone().unwrap_or_default(), style);
    }
}
