//! Records a compaction discarded that are still stored.
//!
//! A compaction drops history from the index at once, but leaves removing the records to
//! a background sweep, a group at a time (etcd's scheduled compaction, 1,000 keys per
//! batch): removing a long history in the compaction's own write held up every write
//! behind it. Until they are removed, the records are invisible: reads go through the
//! index, and what reads records by revision (hashes, watch replays) skips them.

use std::collections::BTreeSet;

use super::revision::Revision;

/// The discarded records still stored, and how far compactions are physically done.
#[derive(Debug, Default)]
pub(super) struct Discarded {
    revs: BTreeSet<Revision>,
    /// The compacted revision as of when no discarded record was last left stored.
    swept: i64,
}

impl Discarded {
    /// Nothing discarded; `swept` is the compacted revision the store starts at.
    pub(super) fn new(swept: i64) -> Self {
        Self { revs: BTreeSet::new(), swept }
    }

    /// Notes the records a compaction dropped from the index; `before` is the compacted
    /// revision until then.
    pub(super) fn add(&mut self, revs: Vec<Revision>, before: i64) {
        if self.revs.is_empty() {
            self.swept = before;
        }
        self.revs.extend(revs);
    }

    /// Whether a record at `rev` is discarded but still stored.
    pub(super) fn contains(&self, rev: &Revision) -> bool {
        !self.revs.is_empty() && self.revs.contains(rev)
    }

    /// Whether any discarded record is still stored.
    pub(super) fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }

    /// The first `max` discarded records, in revision order.
    pub(super) fn first(&self, max: usize) -> Vec<Revision> {
        self.revs.iter().take(max).copied().collect()
    }

    /// Forgets records that are removed from the backend now.
    pub(super) fn removed(&mut self, revs: &[Revision]) {
        for rev in revs {
            self.revs.remove(rev);
        }
    }

    /// The latest compacted revision whose discarded records are all removed, given the
    /// store's compacted revision `compacted`.
    pub(super) fn physically_compacted(&self, compacted: i64) -> i64 {
        if self.revs.is_empty() { compacted } else { self.swept }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compaction_is_physically_done_once_every_record_it_discarded_is_removed() {
        let mut d = Discarded::new(-1);
        assert_eq!(d.physically_compacted(-1), -1);
        d.add(vec![Revision::new(2, 0), Revision::new(3, 0)], -1);
        assert_eq!(d.physically_compacted(5), -1, "the compaction at 5 is pending");
        d.add(vec![Revision::new(6, 0)], 5);
        assert_eq!(d.physically_compacted(7), -1, "a later one does not move it");
        assert_eq!(d.first(2), [Revision::new(2, 0), Revision::new(3, 0)]);
        d.removed(&d.first(2));
        assert!(!d.contains(&Revision::new(2, 0)) && d.contains(&Revision::new(6, 0)));
        assert_eq!(d.physically_compacted(7), -1);
        d.removed(&[Revision::new(6, 0)]);
        assert!(d.is_empty());
        assert_eq!(d.physically_compacted(7), 7, "all removed: done up to the latest");
        d.add(vec![Revision::new(8, 0)], 7);
        assert_eq!(d.physically_compacted(9), 7, "done up to the compaction before the pending one");
        d.add(Vec::new(), 9);
        assert_eq!(d.physically_compacted(10), 7);
    }
}
