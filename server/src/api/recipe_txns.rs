//! The txns etcd's servers send for Lock, Campaign and Proclaim (clientv3's `Mutex.Lock`,
//! `Election.Campaign` and `Election.Proclaim`), built only to be measured: etcd's request
//! size limit applies to these txns, which hold the key up to three times and the name's
//! prefix four, not to the request that asked for them.

use etcd_proto::etcdserverpb::compare::{CompareTarget, TargetUnion};
use etcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use etcd_proto::etcdserverpb::{self as pb, request_op::Request as Op};

use crate::mvcc::prefix_end;

fn created_at(key: &[u8], revision: i64) -> pb::Compare {
    pb::Compare {
        key: key.to_vec(),
        target: CompareTarget::Create as i32,
        target_union: Some(TargetUnion::CreateRevision(revision)),
        ..Default::default()
    }
}

fn op(request: Op) -> pb::RequestOp {
    pb::RequestOp { request: Some(request) }
}

fn put(key: &[u8], value: &[u8], lease: i64) -> pb::RequestOp {
    op(Op::RequestPut(pb::PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() }))
}

fn get(key: &[u8]) -> pb::RequestOp {
    op(Op::RequestRange(pb::RangeRequest { key: key.to_vec(), ..Default::default() }))
}

/// The oldest key under `prefix` (clientv3's `WithFirstCreate`).
fn first_created(prefix: &[u8]) -> pb::RequestOp {
    op(Op::RequestRange(pb::RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: SortOrder::Ascend as i32,
        sort_target: SortTarget::Create as i32,
        ..Default::default()
    }))
}

/// `Mutex.Lock`: create the key unless it exists, reading the owner either way.
pub fn lock(prefix: &[u8], key: &[u8], lease: i64) -> pb::TxnRequest {
    pb::TxnRequest {
        compare: vec![created_at(key, 0)],
        success: vec![put(key, b"", lease), first_created(prefix)],
        failure: vec![get(key), first_created(prefix)],
    }
}

/// `Election.Campaign`: create the key with `value` unless it exists.
pub fn campaign(key: &[u8], value: &[u8], lease: i64) -> pb::TxnRequest {
    pb::TxnRequest { compare: vec![created_at(key, 0)], success: vec![put(key, value, lease)], failure: vec![get(key)] }
}

/// `Election.Proclaim`: replace the value if the key is still the one created at `revision`.
pub fn proclaim(key: &[u8], revision: i64, value: &[u8], lease: i64) -> pb::TxnRequest {
    pb::TxnRequest { compare: vec![created_at(key, revision)], success: vec![put(key, value, lease)], failure: vec![] }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn a_lock_txn_holds_the_key_thrice_and_the_prefix_four_times() {
        let name = vec![b'n'; 1000];
        let mut prefix = name.clone();
        prefix.push(b'/');
        let key = [prefix.as_slice(), b"4d2"].concat();
        let len = lock(&prefix, &key, 1234).encoded_len();
        assert!((3 * key.len() + 4 * prefix.len()..3 * key.len() + 4 * prefix.len() + 100).contains(&len), "{len}");
    }

    #[test]
    fn campaign_and_proclaim_txns_hold_the_value_once() {
        let len = campaign(b"e/4d2", &[b'v'; 1000], 1234).encoded_len();
        assert!((1015..1100).contains(&len), "{len}");
        let len = proclaim(b"e/4d2", 7, &[b'v'; 1000], 1234).encoded_len();
        assert!((1010..1100).contains(&len), "{len}");
    }
}
