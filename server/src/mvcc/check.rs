//! Checks a request must pass before it is proposed: they depend only on the request,
//! so a bad request never reaches the log.

use std::collections::HashSet;

use super::{DeleteRangeRequest, KeyRange, PutRequest, RangeRequest, RequestOp, TxnRequest};
use crate::error::{Error, Result};

/// Checks a range.
pub fn range(r: &RangeRequest) -> Result<()> {
    non_empty(&r.key)
}

/// Checks a put.
pub fn put(r: &PutRequest) -> Result<()> {
    non_empty(&r.key)?;
    if r.ignore_value && !r.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// Checks a delete.
pub fn delete_range(r: &DeleteRangeRequest) -> Result<()> {
    non_empty(&r.key)
}

/// Checks a txn: key presence, the op budget (`max_ops` per branch; a nested txn gets
/// `max_ops` less the most ops of any of its parent's lists), and that no branch writes a
/// key twice.
pub fn txn(t: &TxnRequest, max_ops: usize) -> Result<()> {
    txn_ops(t, max_ops)?;
    intervals(&t.success)?;
    intervals(&t.failure)?;
    Ok(())
}

fn txn_ops(t: &TxnRequest, max_ops: usize) -> Result<()> {
    let ops = [t.compare.len(), t.success.len(), t.failure.len()].into_iter().max().unwrap_or(0);
    if ops > max_ops {
        return Err(Error::TooManyOps);
    }
    // As etcd's checkTxnRequest: a nested txn gets what its parent left of the budget.
    let inner_budget = max_ops - ops;
    for c in &t.compare {
        non_empty(&c.key)?;
    }
    for op in t.success.iter().chain(&t.failure) {
        match op {
            RequestOp::Range(r) => range(r)?,
            RequestOp::Put(p) => put(p)?,
            RequestOp::DeleteRange(d) => delete_range(d)?,
            RequestOp::Txn(inner) => txn_ops(inner, inner_budget)?,
            RequestOp::Empty => return Err(Error::KeyNotFound),
        }
    }
    Ok(())
}

/// The keys one branch puts and the ranges it deletes, including nested txns; fails on a
/// put that meets another put or a delete of the same branch (etcd's `checkIntervals`).
fn intervals(ops: &[RequestOp]) -> Result<(HashSet<Vec<u8>>, Vec<KeyRange>)> {
    let mut dels: Vec<KeyRange> = ops
        .iter()
        .filter_map(|op| match op {
            RequestOp::DeleteRange(d) => Some(KeyRange::new(&d.key, &d.range_end)),
            _ => None,
        })
        .collect();
    let deleted = |dels: &[KeyRange], k: &[u8]| dels.iter().any(|d| d.contains(k));
    let mut puts = HashSet::new();
    for op in ops {
        let RequestOp::Txn(inner) = op else { continue };
        let (puts_then, dels_then) = intervals(&inner.success)?;
        let (puts_else, dels_else) = intervals(&inner.failure)?;
        for k in &puts_then {
            if puts.contains(k) || deleted(&dels, k) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(k.clone());
        }
        for k in puts_else {
            // The nested branches exclude each other, so a key in both is fine.
            if (puts.contains(&k) && !puts_then.contains(&k)) || deleted(&dels, &k) {
                return Err(Error::DuplicateKey);
            }
            puts.insert(k);
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }
    for op in ops {
        let RequestOp::Put(p) = op else { continue };
        if puts.contains(&p.key) || deleted(&dels, &p.key) {
            return Err(Error::DuplicateKey);
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, dels))
}

fn non_empty(key: &[u8]) -> Result<()> {
    if key.is_empty() { Err(Error::KeyNotProvided) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_op(k: &str) -> RequestOp {
        RequestOp::Put(PutRequest { key: k.into(), ..Default::default() })
    }

    fn del_op(k: &str, end: &str) -> RequestOp {
        RequestOp::DeleteRange(DeleteRangeRequest { key: k.into(), range_end: end.into(), prev_kv: false })
    }

    fn txn_of(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
        TxnRequest { compare: vec![], success, failure }
    }

    #[test]
    fn op_budget_is_per_branch() {
        let ok = txn_of((0..128).map(|i| put_op(&format!("k{i}"))).collect(), vec![]);
        assert_eq!(txn(&ok, 128), Ok(()));
        let over = txn_of((0..129).map(|i| put_op(&format!("k{i}"))).collect(), vec![]);
        assert_eq!(txn(&over, 128), Err(Error::TooManyOps));
    }

    #[test]
    fn a_nested_txn_gets_what_its_parent_left_of_the_budget() {
        let puts = |n: usize, tag: &str| (0..n).map(|i| put_op(&format!("{tag}{i}"))).collect::<Vec<_>>();
        // The parent's longest list has 3 ops (its failure branch), so 5 ops remain.
        let nest = |inner: usize| {
            let mut success = vec![RequestOp::Txn(txn_of(puts(inner, "in"), vec![]))];
            success.extend(puts(1, "out"));
            txn_of(success, puts(3, "else"))
        };
        assert_eq!(txn(&nest(5), 8), Ok(()));
        assert_eq!(txn(&nest(6), 8), Err(Error::TooManyOps));
    }

    #[test]
    fn duplicate_writes_in_one_branch_are_rejected() {
        assert_eq!(txn(&txn_of(vec![put_op("a"), put_op("a")], vec![]), 128), Err(Error::DuplicateKey));
        assert_eq!(txn(&txn_of(vec![del_op("a", "c"), put_op("b")], vec![]), 128), Err(Error::DuplicateKey));
        // Overlapping deletes, and the same key in both branches, are fine.
        assert_eq!(txn(&txn_of(vec![del_op("a", "c"), del_op("b", "d")], vec![put_op("b")]), 128), Ok(()));
    }

    #[test]
    fn nested_txns_count_against_the_outer_branch() {
        let nested = RequestOp::Txn(txn_of(vec![put_op("x")], vec![put_op("x")]));
        assert_eq!(txn(&txn_of(vec![nested.clone()], vec![]), 128), Ok(()));
        assert_eq!(txn(&txn_of(vec![nested, put_op("x")], vec![]), 128), Err(Error::DuplicateKey));
    }

    #[test]
    fn empty_keys_and_ops_are_rejected() {
        assert_eq!(put(&PutRequest::default()), Err(Error::KeyNotProvided));
        assert_eq!(txn(&txn_of(vec![RequestOp::Empty], vec![]), 128), Err(Error::KeyNotFound));
        let bad = PutRequest { key: b"k".to_vec(), value: b"v".to_vec(), ignore_value: true, ..Default::default() };
        assert_eq!(put(&bad), Err(Error::ValueProvided));
    }
}
