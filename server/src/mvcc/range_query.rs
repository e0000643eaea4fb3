//! Range evaluation: revision checks, filters, sorting and limits as etcd applies them.

use std::cmp::Ordering;

use super::store::MvccStore;
use super::{KeyRange, KeyValue, RangeRequest, RangeResponse, Record, Revision, SortOrder, SortTarget};
use crate::error::Result;
use crate::storage::Backend;

/// Runs `req` against `store` as of `current` (which includes `pending`, the writes of the
/// change in progress, when called from inside a txn).
pub(super) fn run<B: Backend>(
    store: &MvccStore<B>,
    req: &RangeRequest,
    current: i64,
    pending: &[(Revision, Record)],
) -> Result<RangeResponse> {
    let at = store.check_read_revision(req.revision, current)?;
    // Only the revisions: each record carries its key, so none is cloned from the index.
    let live: Vec<Revision> = store.live_from(&KeyRange::new(&req.key, &req.range_end), at).map(|(_, r)| r).collect();
    let count = live.len() as i64;
    let mut resp = RangeResponse { revision: current, count, ..Default::default() };
    if req.count_only {
        return Ok(resp);
    }
    let filtered = req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    let sorted = req.sort_order != SortOrder::None || req.sort_target != SortTarget::Key;
    let limit = usize::try_from(req.limit).unwrap_or(0);
    // As etcd: without filters or an explicit sort order only `limit + 1` keys are read,
    // in key order; a sort by another target (ascending, the order left unset) sorts just
    // those, then keeps `limit` of them.
    let fetch = if limit == 0 || filtered || req.sort_order != SortOrder::None {
        live.len()
    } else if req.sort_target != SortTarget::Key {
        (limit + 1).min(live.len())
    } else {
        limit.min(live.len())
    };
    let mut kvs = Vec::with_capacity(fetch);
    for rev in &live[..fetch] {
        let kv = store.record(*rev, pending)?;
        if passes_filters(req, &kv) {
            kvs.push(kv);
        }
    }
    if sorted {
        sort(&mut kvs, req.sort_order, req.sort_target);
    }
    let matched = if fetch < live.len() { live.len() } else { kvs.len() };
    if limit > 0 && matched > limit {
        kvs.truncate(limit);
        resp.more = true;
    }
    if req.keys_only {
        kvs.iter_mut().for_each(|kv| kv.value.clear());
    }
    resp.kvs = kvs;
    Ok(resp)
}

pub(super) fn passes_filters(req: &RangeRequest, kv: &KeyValue) -> bool {
    let above = |v: i64, min: i64| min == 0 || v >= min;
    let below = |v: i64, max: i64| max == 0 || v <= max;
    above(kv.mod_revision, req.min_mod_revision)
        && below(kv.mod_revision, req.max_mod_revision)
        && above(kv.create_revision, req.min_create_revision)
        && below(kv.create_revision, req.max_create_revision)
}

/// Stable sort, so ties keep key order as etcd's insertion sort does for small results.
fn sort(kvs: &mut [KeyValue], order: SortOrder, target: SortTarget) {
    let by = |a: &KeyValue, b: &KeyValue| -> Ordering {
        match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        }
    };
    match order {
        SortOrder::Descend => kvs.sort_by(|a, b| by(b, a)),
        SortOrder::None | SortOrder::Ascend => kvs.sort_by(by),
    }
}
