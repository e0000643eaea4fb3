//! etcd's revisions as a second witness of real-time order: the store revision a response
//! header carries never goes back for an operation that began after another ended.

/// When an operation ran and the revision its response header carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// When it was sent.
    pub call: u64,
    /// When its answer came back.
    pub ret: u64,
    /// The header's revision.
    pub revision: i64,
}

/// Checks that no operation reports a lower revision than one that ended before it began;
/// on failure names the two.
pub fn revisions_respect_real_time(stamps: &[Stamp]) -> Result<(), String> {
    let mut by_ret: Vec<&Stamp> = stamps.iter().collect();
    by_ret.sort_by_key(|s| s.ret);
    let mut by_call: Vec<&Stamp> = stamps.iter().collect();
    by_call.sort_by_key(|s| s.call);
    let mut ended = by_ret.iter().peekable();
    let mut highest: Option<&Stamp> = None;
    for s in by_call {
        while let Some(e) = ended.next_if(|e| e.ret < s.call) {
            if highest.is_none_or(|h| e.revision > h.revision) {
                highest = Some(e);
            }
        }
        if let Some(h) = highest
            && s.revision < h.revision
        {
            return Err(format!("{s:?} began after {h:?} ended but reports an older revision"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(call: u64, ret: u64, revision: i64) -> Stamp {
        Stamp { call, ret, revision }
    }

    #[test]
    fn overlapping_operations_may_report_any_order() {
        revisions_respect_real_time(&[s(0, 10, 7), s(1, 2, 5), s(3, 4, 6)]).expect("each overlaps the first");
    }

    #[test]
    fn a_later_operation_with_an_older_revision_is_caught() {
        let e = revisions_respect_real_time(&[s(0, 1, 5), s(2, 3, 7), s(4, 5, 6)]).expect_err("went back");
        assert!(e.contains("revision: 6"), "{e}");
        revisions_respect_real_time(&[s(0, 1, 5), s(2, 3, 7), s(4, 5, 7)]).expect("equal is fine");
    }
}
