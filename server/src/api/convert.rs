//! Protobuf ⇄ logic types. The only place that knows both.

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::compare::{CompareResult as PbResult, CompareTarget as PbTarget, TargetUnion};
use etcd_proto::etcdserverpb::range_request::{SortOrder as PbOrder, SortTarget as PbSortTarget};
use etcd_proto::etcdserverpb::{request_op, response_op};
use etcd_proto::mvccpb;

use crate::alarm::{Alarm, AlarmKind};
use crate::error::Error;
use crate::mvcc;

/// Sets only the revision, as etcd does for responses nested in a txn.
fn rev_header(revision: i64) -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader { revision, ..Default::default() })
}

/// Range request; an unknown sort order or target is etcd's "invalid sort option",
/// checked after the key as etcd 3.5's `checkRangeRequest` does.
pub fn range_request(r: pb::RangeRequest) -> Result<mvcc::RangeRequest, Error> {
    if r.key.is_empty() {
        return Err(Error::KeyNotProvided);
    }
    let order = PbOrder::try_from(r.sort_order).map_err(|_| Error::InvalidSortOption)?;
    let target = PbSortTarget::try_from(r.sort_target).map_err(|_| Error::InvalidSortOption)?;
    Ok(mvcc::RangeRequest {
        sort_order: match order {
            PbOrder::None => mvcc::SortOrder::None,
            PbOrder::Ascend => mvcc::SortOrder::Ascend,
            PbOrder::Descend => mvcc::SortOrder::Descend,
        },
        sort_target: match target {
            PbSortTarget::Key => mvcc::SortTarget::Key,
            PbSortTarget::Version => mvcc::SortTarget::Version,
            PbSortTarget::Create => mvcc::SortTarget::Create,
            PbSortTarget::Mod => mvcc::SortTarget::Mod,
            PbSortTarget::Value => mvcc::SortTarget::Value,
        },
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        revision: r.revision,
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    })
}

/// Put request.
pub fn put_request(r: pb::PutRequest) -> mvcc::PutRequest {
    mvcc::PutRequest {
        key: r.key,
        value: r.value,
        lease: r.lease,
        prev_kv: r.prev_kv,
        ignore_value: r.ignore_value,
        ignore_lease: r.ignore_lease,
    }
}

/// Delete request.
pub fn delete_request(r: pb::DeleteRangeRequest) -> mvcc::DeleteRangeRequest {
    mvcc::DeleteRangeRequest { key: r.key, range_end: r.range_end, prev_kv: r.prev_kv }
}

/// Txn request; fails as its ranges do.
pub fn txn_request(r: pb::TxnRequest) -> Result<mvcc::TxnRequest, Error> {
    Ok(mvcc::TxnRequest {
        compare: r.compare.into_iter().map(compare).collect(),
        success: r.success.into_iter().map(request_op).collect::<Result<_, _>>()?,
        failure: r.failure.into_iter().map(request_op).collect::<Result<_, _>>()?,
    })
}

fn compare(c: pb::Compare) -> mvcc::Compare {
    // The member matching `target` is read; an absent member compares as zero.
    let int = |want: fn(&TargetUnion) -> Option<i64>| c.target_union.as_ref().and_then(want).unwrap_or(0);
    let target = match PbTarget::try_from(c.target).unwrap_or(PbTarget::Version) {
        PbTarget::Version => mvcc::CompareTarget::Version(int(|u| match u {
            TargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
        PbTarget::Create => mvcc::CompareTarget::Create(int(|u| match u {
            TargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        })),
        PbTarget::Mod => mvcc::CompareTarget::Mod(int(|u| match u {
            TargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        })),
        PbTarget::Lease => mvcc::CompareTarget::Lease(int(|u| match u {
            TargetUnion::Lease(v) => Some(*v),
            _ => None,
        })),
        PbTarget::Value => mvcc::CompareTarget::Value(match &c.target_union {
            Some(TargetUnion::Value(v)) => v.clone(),
            _ => Vec::new(),
        }),
    };
    let result = match PbResult::try_from(c.result).unwrap_or(PbResult::Equal) {
        PbResult::Equal => mvcc::CompareResult::Equal,
        PbResult::Greater => mvcc::CompareResult::Greater,
        PbResult::Less => mvcc::CompareResult::Less,
        PbResult::NotEqual => mvcc::CompareResult::NotEqual,
    };
    mvcc::Compare { result, target, key: c.key, range_end: c.range_end }
}

fn request_op(op: pb::RequestOp) -> Result<mvcc::RequestOp, Error> {
    Ok(match op.request {
        Some(request_op::Request::RequestRange(r)) => mvcc::RequestOp::Range(range_request(r)?),
        Some(request_op::Request::RequestPut(r)) => mvcc::RequestOp::Put(put_request(r)),
        Some(request_op::Request::RequestDeleteRange(r)) => mvcc::RequestOp::DeleteRange(delete_request(r)),
        Some(request_op::Request::RequestTxn(r)) => mvcc::RequestOp::Txn(txn_request(r)?),
        None => mvcc::RequestOp::Empty,
    })
}

/// A key-value.
pub fn key_value(kv: mvcc::KeyValue) -> mvccpb::KeyValue {
    mvccpb::KeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// Range response; `header` is filled in by the caller for top-level responses.
pub fn range_response(r: mvcc::RangeResponse, header: Option<pb::ResponseHeader>) -> pb::RangeResponse {
    pb::RangeResponse {
        header: header.or_else(|| rev_header(r.revision)),
        kvs: r.kvs.into_iter().map(key_value).collect(),
        more: r.more,
        count: r.count,
    }
}

/// Put response.
pub fn put_response(r: mvcc::PutResponse, header: Option<pb::ResponseHeader>) -> pb::PutResponse {
    pb::PutResponse { header: header.or_else(|| rev_header(r.revision)), prev_kv: r.prev_kv.map(key_value) }
}

/// Delete response.
pub fn delete_response(r: mvcc::DeleteRangeResponse, header: Option<pb::ResponseHeader>) -> pb::DeleteRangeResponse {
    pb::DeleteRangeResponse {
        header: header.or_else(|| rev_header(r.revision)),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(key_value).collect(),
    }
}

/// Txn response; nested range, put and delete responses carry only their revision.
pub fn txn_response(r: mvcc::TxnResponse, header: Option<pb::ResponseHeader>) -> pb::TxnResponse {
    let responses = r
        .responses
        .into_iter()
        .map(|op| pb::ResponseOp {
            response: Some(match op {
                mvcc::ResponseOp::Range(r) => response_op::Response::ResponseRange(range_response(r, None)),
                mvcc::ResponseOp::Put(r) => response_op::Response::ResponsePut(put_response(r, None)),
                mvcc::ResponseOp::DeleteRange(r) => {
                    response_op::Response::ResponseDeleteRange(delete_response(r, None))
                }
                // etcd leaves a nested txn's header empty (its own ops keep their revision).
                mvcc::ResponseOp::Txn(r) => {
                    response_op::Response::ResponseTxn(txn_response(r, Some(pb::ResponseHeader::default())))
                }
            }),
        })
        .collect();
    pb::TxnResponse { header: header.or_else(|| rev_header(r.revision)), succeeded: r.succeeded, responses }
}

/// An alarm kind from its protobuf value; `None` for NONE and unknown values.
pub fn alarm_kind(value: i32) -> Option<AlarmKind> {
    match pb::AlarmType::try_from(value) {
        Ok(pb::AlarmType::Nospace) => Some(AlarmKind::NoSpace),
        Ok(pb::AlarmType::Corrupt) => Some(AlarmKind::Corrupt),
        Ok(pb::AlarmType::None) | Err(_) => None,
    }
}

/// An alarm as etcd's `AlarmMember`.
pub fn alarm_member(a: &Alarm) -> pb::AlarmMember {
    let alarm = match a.kind {
        AlarmKind::NoSpace => pb::AlarmType::Nospace,
        AlarmKind::Corrupt => pb::AlarmType::Corrupt,
    };
    pb::AlarmMember { member_id: a.member, alarm: alarm as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sort_options_are_refused_after_the_key() {
        let range = |key: &str, sort_order, sort_target| {
            range_request(pb::RangeRequest { key: key.into(), sort_order, sort_target, ..Default::default() })
        };
        assert!(range("k", 2, 4).is_ok());
        assert_eq!(range("k", 99, 0).err(), Some(Error::InvalidSortOption));
        assert_eq!(range("k", 0, 99).err(), Some(Error::InvalidSortOption));
        assert_eq!(range("", 0, 99).err(), Some(Error::KeyNotProvided));
        let op = |sort_target| pb::RequestOp {
            request: Some(request_op::Request::RequestRange(pb::RangeRequest {
                key: b"k".to_vec(),
                sort_target,
                ..Default::default()
            })),
        };
        let nested = pb::TxnRequest { failure: vec![op(99)], ..Default::default() };
        let txn = pb::TxnRequest {
            success: vec![op(0), pb::RequestOp { request: Some(request_op::Request::RequestTxn(nested)) }],
            ..Default::default()
        };
        assert_eq!(txn_request(txn).err(), Some(Error::InvalidSortOption));
    }
}
