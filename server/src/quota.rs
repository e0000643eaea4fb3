//! `quota-backend-bytes`: how much the database may grow before writes that add data are
//! refused (and the NOSPACE alarm raised), with etcd's cost estimates.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::command::Command;
use crate::mvcc::{PutRequest, RequestOp, TxnRequest};

/// etcd's default quota: 2 GiB.
pub const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// etcd's estimate of a key's metadata.
const KV_OVERHEAD: u64 = 256;
/// etcd's estimate of a lease record.
const LEASE_OVERHEAD: u64 = 64;
/// The database size is read at most this often: asking the engine costs a `stat` of its
/// file, and a put a few milliseconds late to see the quota passed is harmless.
const SIZE_REFRESH: Duration = Duration::from_millis(100);

/// A member's quota.
#[derive(Debug)]
pub struct Quota {
    limit: Option<u64>,
    size: Mutex<Option<(Instant, u64)>>,
}

impl Quota {
    /// From `quota-backend-bytes`, read as etcd does: 0 is the default, negative no quota.
    pub fn new(quota_backend_bytes: i64) -> Self {
        let limit = match quota_backend_bytes {
            0 => Some(DEFAULT_QUOTA_BYTES),
            n => u64::try_from(n).ok(),
        };
        Self { limit, size: Mutex::new(None) }
    }

    /// The quota in bytes, if there is one.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether `cmd` may be proposed: true unless it is one the quota guards (puts, txns,
    /// lease grants) and the database, grown by its estimated cost, would reach the quota.
    /// As in etcd, what costs nothing (a txn that only reads or deletes, or whose puts are
    /// all nested: etcd counts top-level puts) always passes, so a full database can still
    /// be read and cleaned. `size` reads the database size; it
    /// is called only when the cached size is stale.
    pub fn admits<E>(&self, cmd: &Command, size: impl FnOnce() -> Result<u64, E>) -> Result<bool, E> {
        let (Some(limit), Some(cost)) = (self.limit, cost(cmd)) else { return Ok(true) };
        if cost == 0 {
            return Ok(true);
        }
        let mut cached = self.size.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let current = match *cached {
            Some((at, bytes)) if now.duration_since(at) < SIZE_REFRESH => bytes,
            _ => {
                let bytes = size()?;
                *cached = Some((now, bytes));
                bytes
            }
        };
        Ok(current.saturating_add(cost) < limit)
    }

    /// Forgets the cached size (after a defragmentation changed it).
    pub fn invalidate(&self) {
        *self.size.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// etcd's cost estimate of the commands its quota guards; `None` for the rest.
pub fn cost(cmd: &Command) -> Option<u64> {
    match cmd {
        Command::Put(p) => Some(put_cost(p)),
        Command::Txn(t) => Some(txn_cost(t)),
        Command::LeaseGrant { .. } => Some(LEASE_OVERHEAD),
        _ => None,
    }
}

fn put_cost(p: &PutRequest) -> u64 {
    KV_OVERHEAD + p.key.len() as u64 + p.value.len() as u64
}

/// The costlier branch of the txn counts; only its top-level puts, as etcd counts them.
fn txn_cost(t: &TxnRequest) -> u64 {
    let branch = |ops: &[RequestOp]| -> u64 {
        ops.iter().map(|op| if let RequestOp::Put(p) = op { put_cost(p) } else { 0 }).sum()
    };
    branch(&t.success).max(branch(&t.failure))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(value: usize) -> Command {
        Command::Put(PutRequest { key: b"key".to_vec(), value: vec![b'x'; value], ..Default::default() })
    }

    #[test]
    fn limits_follow_etcd_flag_values() {
        assert_eq!(Quota::new(0).limit(), Some(DEFAULT_QUOTA_BYTES));
        assert_eq!(Quota::new(-1).limit(), None);
        assert_eq!(Quota::new(4096).limit(), Some(4096));
    }

    #[test]
    fn admits_until_size_plus_cost_reaches_the_quota() {
        let q = Quota::new(10_000);
        assert_eq!(q.admits::<()>(&put(100), || Ok(9_000)), Ok(true));
        q.invalidate();
        // 9_500 + 256 + 3 + 300 = 10_059: over.
        assert_eq!(q.admits::<()>(&put(300), || Ok(9_500)), Ok(false));
        // Deletes are never refused by the quota, whatever the size.
        let del = Command::DeleteRange(crate::mvcc::DeleteRangeRequest::default());
        assert_eq!(q.admits::<()>(&del, || Ok(u64::MAX)), Ok(true));
        // The size is cached: a second call does not ask the engine.
        assert_eq!(q.admits::<()>(&put(300), || Err(())), Ok(false));
        // A txn that only reads and deletes costs nothing and passes a full database.
        let read = RequestOp::Range(crate::mvcc::RangeRequest::default());
        let clean = TxnRequest {
            success: vec![read],
            failure: vec![RequestOp::DeleteRange(Default::default())],
            ..Default::default()
        };
        assert_eq!(q.admits::<()>(&Command::Txn(clean), || Ok(u64::MAX)), Ok(true));
    }

    #[test]
    fn txn_costs_its_costlier_branch() {
        let p = |n| RequestOp::Put(PutRequest { key: vec![b'k'], value: vec![0; n], ..Default::default() });
        let t = TxnRequest { success: vec![p(10), p(10)], failure: vec![p(1000)], ..Default::default() };
        assert_eq!(cost(&Command::Txn(t)), Some(KV_OVERHEAD + 1001));
        assert_eq!(cost(&Command::Compact(Default::default())), None);
    }
}
