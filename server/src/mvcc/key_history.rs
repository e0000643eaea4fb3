//! The in-memory history of one key: which revisions wrote it and which deleted it.
//!
//! Values live in the backend keyed by revision; the index only says which revision is
//! visible at a given point, like etcd's `keyIndex`, and remembers the create revision
//! and version of the newest change, so a put need not read the record it replaces.

use smallvec::SmallVec;

use super::Revision;

/// One write to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Where the record is stored.
    pub rev: Revision,
    /// True when this change deleted the key.
    pub tombstone: bool,
}

/// All retained changes of one key, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyHistory {
    /// Most keys have one change between compactions: it is kept inline, where a `Vec`
    /// would allocate room for four (96 bytes more per key).
    changes: SmallVec<[Change; 1]>,
    /// The newest change's create revision and version (0 for a deletion).
    created: i64,
    version: i64,
}

impl KeyHistory {
    /// Appends a change, with the create revision and version its record carries;
    /// revisions only grow.
    pub fn push(&mut self, rev: Revision, tombstone: bool, created: i64, version: i64) {
        self.changes.push(Change { rev, tombstone });
        (self.created, self.version) = if tombstone { (0, 0) } else { (created, version) };
    }

    /// The create revision and version of the key's newest value, if it is live.
    pub fn live(&self) -> Option<(i64, i64)> {
        self.changes.last().filter(|c| !c.tombstone).map(|_| (self.created, self.version))
    }

    /// The revision holding the key's value as of main revision `at`, if it was live then.
    pub fn visible_at(&self, at: i64) -> Option<Revision> {
        let i = self.changes.partition_point(|c| c.rev.main <= at);
        let c = self.changes.get(i.checked_sub(1)?)?;
        (!c.tombstone).then_some(c.rev)
    }

    /// The latest change, if any.
    pub fn last(&self) -> Option<Change> {
        self.changes.last().copied()
    }

    /// Drops history below `at` (a compaction), keeping whatever is visible at `at`.
    /// Returns the revisions whose records can be removed from the backend.
    pub fn compact(&mut self, at: i64) -> Vec<Revision> {
        let upto = self.changes.partition_point(|c| c.rev.main <= at);
        let Some(last) = upto.checked_sub(1).map(|i| self.changes[i]) else {
            return Vec::new();
        };
        // A live value at `at` must stay readable; a tombstone at `at` is history too.
        let drop = if last.tombstone { upto } else { upto - 1 };
        let dropped = self.changes.drain(..drop).map(|c| c.rev).collect();
        if self.changes.len() <= 1 {
            // Back inline, and the heap buffer freed.
            self.changes.shrink_to_fit();
        }
        dropped
    }

    /// How many changes are retained: one stored record each.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// True when nothing is retained (the key can leave the index).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(changes: &[(i64, bool)]) -> KeyHistory {
        let mut h = KeyHistory::default();
        for &(m, t) in changes {
            h.push(Revision::new(m, 0), t, m, 1);
        }
        h
    }

    #[test]
    fn visibility_follows_puts_and_tombstones() {
        let h = hist(&[(2, false), (4, false), (5, true), (7, false)]);
        assert_eq!(h.visible_at(1), None);
        assert_eq!(h.visible_at(3), Some(Revision::new(2, 0)));
        assert_eq!(h.visible_at(4), Some(Revision::new(4, 0)));
        assert_eq!(h.visible_at(6), None);
        assert_eq!(h.visible_at(100), Some(Revision::new(7, 0)));
    }

    #[test]
    fn compaction_keeps_the_value_visible_at_the_compact_revision() {
        let mut h = hist(&[(2, false), (4, false), (7, false)]);
        assert_eq!(h.compact(5), vec![Revision::new(2, 0)]);
        assert_eq!(h.visible_at(5), Some(Revision::new(4, 0)));
        assert_eq!(h.compact(4), vec![]);
    }

    #[test]
    fn the_newest_live_change_keeps_its_create_revision_and_version() {
        let mut h = KeyHistory::default();
        assert_eq!(h.live(), None);
        h.push(Revision::new(2, 0), false, 2, 1);
        h.push(Revision::new(4, 0), false, 2, 2);
        assert_eq!(h.live(), Some((2, 2)));
        h.compact(4);
        assert_eq!(h.live(), Some((2, 2)), "compaction keeps it");
        h.push(Revision::new(5, 0), true, 0, 0);
        assert_eq!(h.live(), None);
        h.push(Revision::new(6, 1), false, 6, 1);
        assert_eq!(h.live(), Some((6, 1)));
    }

    #[test]
    fn compaction_drops_a_deleted_key_entirely() {
        let mut h = hist(&[(2, false), (3, true)]);
        assert_eq!(h.compact(3), vec![Revision::new(2, 0), Revision::new(3, 0)]);
        assert!(h.is_empty());
    }

    #[test]
    fn a_key_with_one_change_allocates_nothing_for_it() {
        let mut h = hist(&[(2, false)]);
        assert!(!h.changes.spilled(), "one change is kept inline");
        h.push(Revision::new(3, 0), false, 2, 2);
        assert!(h.changes.spilled(), "more move to the heap");
        assert_eq!(h.compact(3), vec![Revision::new(2, 0)]);
        assert!(!h.changes.spilled(), "compacted down to one change, it is inline again");
        assert_eq!(h.last(), Some(Change { rev: Revision::new(3, 0), tombstone: false }));
        // A compacted history keeps answering as before.
        assert_eq!(h.visible_at(3), Some(Revision::new(3, 0)));
    }
}
