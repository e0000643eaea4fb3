//! Output formats (`-w simple|json|fields|protobuf|table`) and which commands support them.
//!
//! Each printer returns the bytes to write; commands decide where they go.

mod fields;
mod json;
mod rows;
mod simple;
mod table;

use etcd_proto::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse, MemberListResponse,
    MoveLeaderResponse, PutResponse, RangeResponse, ResponseHeader, StatusResponse, TxnResponse, WatchResponse,
};
use etcd_rs_server::snapshot_file::SnapshotStatus;
use prost::Message;

use crate::error::{CtlError, EXIT_BAD_FEATURE};

pub use simple::KvStyle;

/// The `-w` output formats etcdctl 3.4 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Hand-written text (default).
    Simple,
    /// One line of Go-style JSON per response.
    Json,
    /// `"Name" : value` lines.
    Fields,
    /// The raw protobuf encoding of the response.
    Protobuf,
    /// ASCII tables (member and endpoint commands; etcdctl-rs adds `get` and `lease list`).
    Table,
}

impl Format {
    /// Parses a `-w` value; anything else is `unsupported output format` (exit 4).
    pub fn parse(name: &str) -> Result<Self, CtlError> {
        match name {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "fields" => Ok(Format::Fields),
            "protobuf" => Ok(Format::Protobuf),
            "table" => Ok(Format::Table),
            _ => Err(CtlError::new(EXIT_BAD_FEATURE, "unsupported output format")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Protobuf => "protobuf",
            Format::Table => "table",
        }
    }

    fn unsupported(self) -> CtlError {
        CtlError::unsupported_format(self.name())
    }
}

/// One endpoint's `endpoint health` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpHealth {
    /// The endpoint as given on the command line (or a member's client URL with `--cluster`).
    pub ep: String,
    /// Whether the probe succeeded.
    pub health: bool,
    /// How long the probe took, as a Go duration string.
    pub took: String,
    /// Why it failed; empty when healthy.
    pub error: String,
}

/// One endpoint's `endpoint status` result.
#[derive(Debug, Clone, PartialEq)]
pub struct EpStatus {
    /// The endpoint as given.
    pub ep: String,
    /// Its Maintenance.Status answer.
    pub resp: StatusResponse,
}

/// One endpoint's `endpoint hashkv` result.
#[derive(Debug, Clone, PartialEq)]
pub struct EpHashKv {
    /// The endpoint as given.
    pub ep: String,
    /// Its Maintenance.HashKV answer.
    pub resp: HashKvResponse,
}

/// What the Go runtime says when etcdctl 3.4 dereferences a nil pointer.
const NIL_DEREFERENCE: &str = "runtime error: invalid memory address or nil pointer dereference";

/// Responses that carry the member list (remove, update, promote).
pub trait MembersOf {
    /// The members after the change.
    fn members(&self) -> &[Member];
}

macro_rules! members_of {
    ($($t:ty),*) => {$(
        impl MembersOf for $t {
            fn members(&self) -> &[Member] {
                &self.members
            }
        }
    )*};
}

members_of!(
    etcd_proto::etcdserverpb::MemberRemoveResponse,
    etcd_proto::etcdserverpb::MemberUpdateResponse,
    etcd_proto::etcdserverpb::MemberPromoteResponse
);

/// Where printed bytes belong: etcdctl writes `endpoint health` results to stderr in the
/// simple format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Renders command results in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: Format,
    hex: bool,
}

fn json_line(json: String) -> Vec<u8> {
    let mut out = json.into_bytes();
    out.push(b'\n');
    out
}

impl Printer {
    /// A printer for `format`; `hex` is `--hex` (used by the simple format only).
    pub fn new(format: Format, hex: bool) -> Self {
        Printer { format, hex }
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    fn style(&self) -> KvStyle {
        KvStyle { hex: self.hex, value_only: false }
    }

    /// Output of a response that has no table form, in the chosen format.
    fn output<M: Message>(
        &self,
        resp: &M,
        simple: impl FnOnce(&mut Vec<u8>),
        json: impl FnOnce() -> String,
        fields: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Vec<u8>, CtlError> {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => simple(&mut out),
            Format::Json => out = json_line(json()),
            Format::Fields => fields(&mut out),
            Format::Protobuf => out = resp.encode_to_vec(),
            Format::Table => return Err(self.format.unsupported()),
        }
        Ok(out)
    }

    /// `get` output; `value_only` (`--print-value-only`) applies to the simple format. The
    /// table format (one row per pair, see [`rows::KV_HEADER`]) is etcdctl-rs's own.
    pub fn get(&self, resp: &RangeResponse, value_only: bool) -> Result<Vec<u8>, CtlError> {
        if self.format == Format::Table {
            return Ok(table::render(&rows::KV_HEADER, &rows::kvs(&resp.kvs, self.hex)).into_bytes());
        }
        let style = KvStyle { value_only, ..self.style() };
        self.output(resp, |o| simple::get(o, resp, style), || json::get(resp), |o| fields::get(o, resp))
    }

    /// `put` output.
    pub fn put(&self, resp: &PutResponse) -> Result<Vec<u8>, CtlError> {
        self.output(resp, |o| simple::put(o, resp, self.style()), || json::put(resp), |o| fields::put(o, resp))
    }

    /// `del` output.
    pub fn del(&self, resp: &DeleteRangeResponse) -> Result<Vec<u8>, CtlError> {
        self.output(resp, |o| simple::del(o, resp, self.style()), || json::del(resp), |o| fields::del(o, resp))
    }

    /// `txn` output.
    pub fn txn(&self, resp: &TxnResponse) -> Result<Vec<u8>, CtlError> {
        self.output(resp, |o| simple::txn(o, resp, self.style()), || json::txn(resp), |o| fields::txn(o, resp))
    }

    /// Output of a lease response: etcdctl marshals clientv3's wrapper, whose protobuf
    /// form is only the embedded header.
    fn lease_output(
        &self,
        header: &Option<ResponseHeader>,
        simple: impl FnOnce(&mut Vec<u8>),
        json: impl FnOnce() -> String,
        fields: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Vec<u8>, CtlError> {
        let header = header.unwrap_or_default();
        self.output(&header, simple, json, fields)
    }

    /// `lease grant` output.
    pub fn lease_grant(&self, r: &LeaseGrantResponse) -> Result<Vec<u8>, CtlError> {
        self.lease_output(
            &r.header,
            |o| simple::lease_grant(o, r),
            || json::lease_grant(r),
            |o| fields::lease_grant(o, r),
        )
    }

    /// `lease revoke` output.
    pub fn lease_revoke(&self, id: i64, r: &LeaseRevokeResponse) -> Result<Vec<u8>, CtlError> {
        self.output(r, |o| simple::lease_revoke(o, id), || json::lease_revoke(r), |o| fields::lease_revoke(o, r))
    }

    /// `lease timetolive` output.
    pub fn lease_time_to_live(&self, r: &LeaseTimeToLiveResponse, keys: bool) -> Result<Vec<u8>, CtlError> {
        self.lease_output(
            &r.header,
            |o| simple::lease_time_to_live(o, r, keys),
            || json::lease_time_to_live(r),
            |o| fields::lease_time_to_live(o, r),
        )
    }

    /// `lease list` output. The table format (etcdctl-rs's own) shows each lease's
    /// TimeToLive answer from `ttls` (see [`rows::LEASE_HEADER`]).
    pub fn lease_leases(&self, r: &LeaseLeasesResponse, ttls: &[LeaseTimeToLiveResponse]) -> Result<Vec<u8>, CtlError> {
        if self.format == Format::Table {
            return Ok(table::render(&rows::LEASE_HEADER, &rows::leases(r, ttls)).into_bytes());
        }
        self.lease_output(
            &r.header,
            |o| simple::lease_leases(o, r),
            || json::lease_leases(r),
            |o| fields::lease_leases(o, r),
        )
    }

    /// `lease keep-alive` output, one response.
    pub fn lease_keep_alive(&self, r: &LeaseKeepAliveResponse) -> Result<Vec<u8>, CtlError> {
        self.lease_output(
            &r.header,
            |o| simple::lease_keep_alive(o, r),
            || json::lease_keep_alive(r),
            |o| fields::lease_keep_alive(o, r),
        )
    }

    /// `watch` output for one response, as clientv3 hands it over (its protobuf form
    /// re-encodes only header, events and the compaction and cancel flags).
    pub fn watch(&self, r: &WatchResponse) -> Result<Vec<u8>, CtlError> {
        let seen = WatchResponse {
            header: Some(r.header.unwrap_or_default()),
            events: r.events.clone(),
            compact_revision: r.compact_revision,
            canceled: r.canceled,
            created: r.created,
            ..Default::default()
        };
        self.output(&seen, |o| simple::watch(o, r, self.style()), || json::watch(r), |o| fields::watch(o, r))
    }

    /// `member add` output (the `ETCD_*` settings are the command's).
    pub fn member_add(&self, r: &MemberAddResponse) -> Result<Vec<u8>, CtlError> {
        let m = r.member.clone().unwrap_or_default();
        let cluster = r.header.map_or(0, |h| h.cluster_id);
        self.output(
            r,
            // etcdctl 3.4 says "added" for learners too.
            |o| o.extend_from_slice(format!("Member {:16x} added to cluster {cluster:16x}\n", m.id).as_bytes()),
            || json::member_add(r),
            |o| fields::header_only(o, &r.header),
        )
    }

    /// `member remove|update|promote` output: `verb` is `removed from`, `updated in` or
    /// `promoted in`; the JSON form is the response with its member list.
    pub fn member_change<M: Message + MembersOf>(
        &self,
        id: u64,
        verb: &str,
        header: &Option<ResponseHeader>,
        resp: &M,
    ) -> Result<Vec<u8>, CtlError> {
        let cluster = header.map_or(0, |h| h.cluster_id);
        self.output(
            resp,
            |o| o.extend_from_slice(format!("Member {id:16x} {verb} cluster {cluster:16x}\n").as_bytes()),
            || json::members_response(header, resp.members()),
            |o| fields::header_only(o, header),
        )
    }

    /// `move-leader` output: text, `{}` as JSON, nothing as protobuf (the 3.4 response
    /// has no header); fields and table are not supported.
    pub fn move_leader(&self, leader: u64, target: u64, _resp: &MoveLeaderResponse) -> Result<Vec<u8>, CtlError> {
        match self.format {
            Format::Simple => Ok(format!("Leadership transferred from {leader:x} to {target:x}\n").into_bytes()),
            Format::Json => Ok(json_line("{}".to_string())),
            Format::Protobuf => Ok(Vec::new()),
            Format::Fields | Format::Table => Err(self.format.unsupported()),
        }
    }

    /// `member list` output.
    pub fn member_list(&self, resp: &MemberListResponse) -> Result<Vec<u8>, CtlError> {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => simple::member_list(&mut out, resp),
            Format::Json => out = json_line(json::member_list(resp)),
            Format::Fields => fields::member_list(&mut out, resp),
            Format::Protobuf => out = resp.encode_to_vec(),
            Format::Table => out = table::render(&rows::MEMBER_HEADER, &rows::members(resp)).into_bytes(),
        }
        Ok(out)
    }

    /// `endpoint status` output (protobuf is not supported).
    pub fn endpoint_status(&self, list: &[EpStatus]) -> Result<Vec<u8>, CtlError> {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => simple::endpoint_status(&mut out, list),
            Format::Json => out = json_line(json::endpoint_status(list)),
            Format::Fields => fields::endpoint_status(&mut out, list),
            Format::Protobuf => return Err(self.format.unsupported()),
            Format::Table => out = table::render(&rows::STATUS_HEADER, &rows::statuses(list)).into_bytes(),
        }
        Ok(out)
    }

    /// `snapshot status` output (protobuf is not supported).
    pub fn snapshot_status(&self, st: &SnapshotStatus) -> Result<Vec<u8>, CtlError> {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => simple::joined_rows(&mut out, rows::snapshot_status(st)),
            Format::Json => {
                let mut o = crate::go::json::Object::new();
                o.num("hash", st.hash).num("revision", st.revision);
                o.num("totalKey", st.total_keys as u64).num("totalSize", st.total_size as u64);
                out = json_line(o.finish());
            }
            Format::Fields => fields::snapshot_status(&mut out, st),
            Format::Protobuf => return Err(self.format.unsupported()),
            Format::Table => {
                out = table::render(&rows::SNAPSHOT_STATUS_HEADER, &rows::snapshot_status(st)).into_bytes()
            }
        }
        Ok(out)
    }

    /// `endpoint hashkv` output (protobuf is not supported).
    pub fn endpoint_hashkv(&self, list: &[EpHashKv]) -> Result<Vec<u8>, CtlError> {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => simple::endpoint_hashkv(&mut out, list),
            Format::Json => out = json_line(json::endpoint_hashkv(list)),
            Format::Fields => fields::endpoint_hashkv(&mut out, list),
            Format::Protobuf => return Err(self.format.unsupported()),
            Format::Table => out = table::render(&rows::HASHKV_HEADER, &rows::hashes(list)).into_bytes(),
        }
        Ok(out)
    }

    /// `alarm list|disarm` output (no table form). etcd 3.4 sends no header with alarms,
    /// and etcdctl's fields printer dereferences it: that panic is reproduced.
    pub fn alarm(&self, resp: &AlarmResponse) -> Result<Vec<u8>, CtlError> {
        if self.format == Format::Fields && resp.header.is_none() {
            return Err(CtlError::Panic(NIL_DEREFERENCE.to_string()));
        }
        self.output(resp, |o| simple::alarm(o, resp), || json::alarm(resp), |o| fields::alarm(o, resp))
    }

    /// `endpoint health` output and the stream it goes to (protobuf is not supported).
    pub fn endpoint_health(&self, list: &[EpHealth]) -> Result<(Stream, Vec<u8>), CtlError> {
        let mut out = Vec::new();
        match self.format {
            Format::Simple => {
                simple::endpoint_health(&mut out, list);
                return Ok((Stream::Stderr, out));
            }
            Format::Json => out = json_line(json::endpoint_health(list)),
            Format::Fields => fields::endpoint_health(&mut out, list),
            Format::Protobuf => return Err(self.format.unsupported()),
            Format::Table => out = table::render(&rows::HEALTH_HEADER, &rows::healths(list)).into_bytes(),
        }
        Ok((Stream::Stdout, out))
    }
}

#[cfg(test)]
mod tests;
