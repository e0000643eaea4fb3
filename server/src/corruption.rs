//! The periodic corruption check (etcd's `experimental-corrupt-check-time`): the leader
//! compares its KV hash with every member's at the same revision. The rules are etcd's.

use std::collections::BTreeSet;

/// A KV hash with the revisions it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvHash {
    /// The member that computed it.
    pub member: u64,
    /// CRC-32 of the history up to `revision`.
    pub hash: u32,
    /// The member's current revision when it answered.
    pub revision: i64,
    /// Its compacted revision.
    pub compact_revision: i64,
}

/// The members to raise CORRUPT for. `before` and `after` are the leader's own hash at
/// its current revision, taken before and after asking the peers: the leader itself is
/// corrupt if its hash of the same history changed. A peer is corrupt if it is ahead of
/// the leader, has compacted further, or has the leader's compaction point and another
/// hash.
pub fn mismatches(before: KvHash, after: KvHash, peers: &[KvHash]) -> BTreeSet<u64> {
    let mut corrupt = BTreeSet::new();
    if after.hash != before.hash
        && after.revision == before.revision
        && after.compact_revision == before.compact_revision
    {
        corrupt.insert(before.member);
    }
    for p in peers {
        if p.revision > after.revision
            || p.compact_revision > after.compact_revision
            || (p.compact_revision == before.compact_revision && p.hash != before.hash)
        {
            corrupt.insert(p.member);
        }
    }
    corrupt
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEADER: KvHash = KvHash { member: 1, hash: 0xabc, revision: 10, compact_revision: 4 };

    #[test]
    fn agreeing_members_are_fine() {
        let peer = KvHash { member: 2, ..LEADER };
        assert!(mismatches(LEADER, LEADER, &[peer]).is_empty());
    }

    #[test]
    fn each_of_etcds_rules() {
        let other_hash = KvHash { member: 2, hash: 0xdef, ..LEADER };
        let ahead = KvHash { member: 3, revision: 11, ..LEADER };
        let compacted_further = KvHash { member: 4, compact_revision: 6, ..LEADER };
        let older_compaction = KvHash { member: 5, hash: 0x123, compact_revision: 2, ..LEADER };
        let found = mismatches(LEADER, LEADER, &[other_hash, ahead, compacted_further, older_compaction]);
        assert_eq!(found, BTreeSet::from([2, 3, 4]), "a different compaction point hashes other history");
        let changed = KvHash { hash: 0x999, ..LEADER };
        assert_eq!(mismatches(LEADER, changed, &[]), BTreeSet::from([1]), "the leader's own hash moved");
    }
}
