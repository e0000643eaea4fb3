//! Ranges read page by page (etcd 3.7's RangeStream): one revision pinned for the whole
//! read, each page starting after the last key of the previous one, so a huge range never
//! sits whole in memory. Merging the pages gives what a unary Range answers.

use super::range_query::passes_filters;
use super::store::MvccStore;
use super::{KeyRange, KeyValue, RangeRequest, SortOrder, SortTarget};
use crate::error::{Error, Result};
use crate::storage::Backend;

/// Where a paged read stands.
#[derive(Debug)]
pub struct RangeCursor {
    req: RangeRequest,
    /// The pinned revision.
    at: i64,
    /// The store revision when the read started (the answer's header revision).
    revision: i64,
    /// The next key to read; `None` once the range is exhausted.
    next: Option<Vec<u8>>,
    /// Live keys seen (the answer's `count`).
    count: i64,
    /// Keys that passed the filters (sent, or beyond the limit).
    matched: usize,
}

/// The end of a paged read: Range's `count`, `more` and header revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeSummary {
    /// The store revision when the read started.
    pub revision: i64,
    /// Keys in the range at the pinned revision.
    pub count: i64,
    /// Whether the limit left keys out.
    pub more: bool,
}

/// One page; the last one carries the summary.
#[derive(Debug, Default)]
pub struct RangePage {
    /// Its key-values, in key order.
    pub kvs: Vec<KeyValue>,
    /// Set on the last page.
    pub summary: Option<RangeSummary>,
}

impl RangeCursor {
    /// Starts a paged read of `req`, pinning its revision (the current one when ≤ 0).
    /// Sorting other than by key ascending needs every key first: refused.
    pub fn new<B: Backend>(store: &MvccStore<B>, req: RangeRequest) -> Result<Self> {
        if req.sort_order != SortOrder::None
            && !(req.sort_order == SortOrder::Ascend && req.sort_target == SortTarget::Key)
        {
            return Err(Error::StreamSortUnsupported);
        }
        store.counts.add(super::Tally { ranges: 1, ..super::Tally::default() });
        let current = store.current_revision();
        let at = store.check_read_revision(req.revision, current)?;
        let next = Some(req.key.clone());
        Ok(Self { req, at, revision: current, next, count: 0, matched: 0 })
    }

    /// Reads up to `max` key-values (at least one) from where the last page ended.
    pub fn next_page<B: Backend>(&mut self, store: &MvccStore<B>, max: usize) -> Result<RangePage> {
        let mut page = RangePage::default();
        let Some(from) = self.next.take() else {
            return Ok(page);
        };
        // The pinned revision may have been compacted since the last page.
        store.check_read_revision(self.at, store.current_revision())?;
        let limit = usize::try_from(self.req.limit).unwrap_or(0);
        let range = KeyRange::new(&from, &self.req.range_end);
        for (key, rev) in store.live_from(&range, self.at) {
            self.count += 1;
            let wanted = !self.req.count_only && (limit == 0 || self.matched < limit);
            let filtered = self.req.min_mod_revision != 0
                || self.req.max_mod_revision != 0
                || self.req.min_create_revision != 0
                || self.req.max_create_revision != 0;
            if !wanted && !filtered {
                // Past the limit (or counting only): the index alone answers.
                self.matched += 1;
                continue;
            }
            let mut kv = store.record(rev, &[])?;
            if !passes_filters(&self.req, &kv) {
                continue;
            }
            self.matched += 1;
            if !wanted {
                continue;
            }
            if self.req.keys_only {
                kv.value.clear();
            }
            page.kvs.push(kv);
            if page.kvs.len() >= max.max(1) {
                let mut next = key.clone();
                next.push(0);
                self.next = Some(next);
                return Ok(page);
            }
        }
        page.summary =
            Some(RangeSummary { revision: self.revision, count: self.count, more: limit > 0 && self.matched > limit });
        Ok(page)
    }
}

/// Adaptive page size: starts small, then doubles or halves so pages approach a byte
/// target whatever the value sizes.
#[derive(Debug, Clone, Copy)]
pub struct PageSizer {
    keys: usize,
    target_bytes: usize,
}

/// The first page's size: small, so the first bytes leave at once.
const FIRST_PAGE_KEYS: usize = 64;
const MAX_PAGE_KEYS: usize = 64 * 1024;

impl PageSizer {
    /// A sizer aiming at pages of about `target_bytes`.
    pub fn new(target_bytes: usize) -> Self {
        Self { keys: FIRST_PAGE_KEYS, target_bytes: target_bytes.max(1) }
    }

    /// How many key-values to ask for next.
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// Adjusts after a full page of `bytes`.
    pub fn observe(&mut self, bytes: usize) {
        if bytes < self.target_bytes / 2 {
            self.keys = (self.keys * 2).min(MAX_PAGE_KEYS);
        } else if bytes > self.target_bytes {
            self.keys = (self.keys / 2).max(1);
        }
    }
}
