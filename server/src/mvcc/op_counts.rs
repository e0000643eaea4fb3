//! How many ranges, puts, deletes and txns this member's store has seen, counted as
//! etcd's store counts them for `etcd_mvcc_*_total`: per call inside a change, and a
//! change counts as a txn only when it made more than one call.

use std::sync::atomic::{AtomicU64, Ordering};

/// The calls of one change (or one read), added to [`OpCounts`] when it ends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Range calls, compares included (each compare reads its key).
    pub ranges: u64,
    /// Put calls.
    pub puts: u64,
    /// DeleteRange calls, however many keys each deleted.
    pub deletes: u64,
    /// Bytes of the keys and values put.
    pub put_bytes: u64,
}

impl Tally {
    fn calls(&self) -> u64 {
        self.ranges + self.puts + self.deletes
    }
}

/// The running totals, shared by the store and whoever reports them.
#[derive(Debug, Default)]
pub struct OpCounts {
    ranges: AtomicU64,
    puts: AtomicU64,
    deletes: AtomicU64,
    txns: AtomicU64,
    put_bytes: AtomicU64,
}

/// A reading of [`OpCounts`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpTotals {
    /// `etcd_mvcc_range_total`.
    pub ranges: u64,
    /// `etcd_mvcc_put_total`.
    pub puts: u64,
    /// `etcd_mvcc_delete_total`.
    pub deletes: u64,
    /// `etcd_mvcc_txn_total`.
    pub txns: u64,
    /// `etcd_debugging_mvcc_total_put_size_in_bytes`.
    pub put_bytes: u64,
}

impl OpCounts {
    /// Adds the calls of one ended change or read.
    pub fn add(&self, t: Tally) {
        if t.calls() == 0 {
            return;
        }
        self.ranges.fetch_add(t.ranges, Ordering::Relaxed);
        self.puts.fetch_add(t.puts, Ordering::Relaxed);
        self.deletes.fetch_add(t.deletes, Ordering::Relaxed);
        self.put_bytes.fetch_add(t.put_bytes, Ordering::Relaxed);
        if t.calls() > 1 {
            self.txns.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The totals now.
    pub fn totals(&self) -> OpTotals {
        OpTotals {
            ranges: self.ranges.load(Ordering::Relaxed),
            puts: self.puts.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            txns: self.txns.load(Ordering::Relaxed),
            put_bytes: self.put_bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_a_txn_only_when_it_made_more_than_one_call() {
        let c = OpCounts::default();
        c.add(Tally { puts: 1, put_bytes: 4, ..Tally::default() });
        c.add(Tally::default());
        assert_eq!(c.totals(), OpTotals { puts: 1, put_bytes: 4, ..OpTotals::default() });
        c.add(Tally { ranges: 1, puts: 2, deletes: 1, put_bytes: 6 });
        assert_eq!(c.totals(), OpTotals { ranges: 1, puts: 3, deletes: 1, txns: 1, put_bytes: 10 });
    }
}
