//! Records a compaction discarded that are still stored.
//!
//! A compaction drops history from the index at once, but leaves removing the records to
//! a background sweep, a group at a time in revision order (etcd's scheduled compaction,
//! 1,000 keys per batch): removing a long history in the compaction's own write held up
//! every write behind it. Until they are removed, the records are invisible: reads go
//! through the index, and what reads records by revision (hashes, watch replays, snapshot
//! exports) skips them.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::revision::Revision;

/// The discarded records still stored. Shared with exports taken meanwhile, which skip
/// them as they read; a change while one is held copies the set.
#[derive(Debug, Default, Clone)]
pub struct Discarded {
    revs: Arc<BTreeSet<Revision>>,
}

impl Discarded {
    /// Notes the records a compaction dropped from the index.
    pub(super) fn add(&mut self, revs: Vec<Revision>) {
        if !revs.is_empty() {
            Arc::make_mut(&mut self.revs).extend(revs);
        }
    }

    /// Whether the record stored under the revision key `key` is discarded.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        !self.revs.is_empty() && Revision::from_bytes(key).is_some_and(|rev| self.revs.contains(&rev))
    }

    /// Whether any discarded record is still stored.
    pub(super) fn is_empty(&self) -> bool {
        self.revs.is_empty()
    }

    /// The first `max` discarded records, in revision order (the order the sweep takes).
    pub(super) fn first(&self, max: usize) -> Vec<Revision> {
        self.revs.iter().take(max).copied().collect()
    }

    /// Forgets records that are removed from the backend now.
    pub(super) fn removed(&mut self, revs: &[Revision]) {
        let set = Arc::make_mut(&mut self.revs);
        for rev in revs {
            set.remove(rev);
        }
    }

    /// The latest revision at or below `compacted` with no discarded record at or below
    /// it: a compaction there is physically done, since it discards only records at or
    /// below its revision.
    pub(super) fn physically_compacted(&self, compacted: i64) -> i64 {
        match self.revs.first() {
            Some(first) => compacted.min(first.main - 1),
            None => compacted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compaction_is_physically_done_once_the_sweep_passed_its_revision() {
        let mut d = Discarded::default();
        assert_eq!(d.physically_compacted(-1), -1);
        d.add(vec![Revision::new(3, 0), Revision::new(2, 0)]);
        assert_eq!(d.physically_compacted(5), 1, "the compaction at 5 is pending");
        // A later compaction discards records above the first one's revision too.
        d.add(vec![Revision::new(6, 0), Revision::new(4, 1)]);
        assert_eq!(d.first(2), [Revision::new(2, 0), Revision::new(3, 0)]);
        let held = d.clone();
        d.removed(&d.first(2));
        let key = |main| Revision::new(main, 0).to_bytes();
        assert!(held.contains_key(&key(2)), "a copy held by an export keeps its view");
        assert!(!d.contains_key(&key(2)) && d.contains_key(&key(6)));
        assert_eq!(d.physically_compacted(7), 3, "everything at or below 3 is removed");
        d.removed(&d.first(1));
        assert_eq!(d.physically_compacted(7), 5, "the compaction at 5 is done, the one at 7 is not");
        d.removed(&[Revision::new(6, 0)]);
        assert!(d.is_empty());
        assert_eq!(d.physically_compacted(7), 7);
    }
}
