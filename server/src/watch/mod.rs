//! v3 watchers, plain Rust: what one Watch stream is watching and the events each of its
//! watchers has not seen yet.
//!
//! Watchers pull: a stream's watchers read the history from the store when the store moves
//! past what they have seen (the synced group as one, each unsynced watcher on its own).
//! Writers never wait for watchers and nothing is buffered per watcher between reads, so
//! a watcher that is not read from costs a few bytes, whatever the write rate; once its
//! client reads again its group catches up from the store, or learns that the history it
//! needs was compacted.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use crate::error::Result;
use crate::mvcc::{KeyRange, KeyValue, MvccStore, Record};
use crate::storage::Backend;

/// Most revisions read from the store in one go: bounds a catching-up stream's memory.
pub const MAX_REVISIONS_PER_POLL: i64 = 1000;

/// What a client asks to watch (`WatchCreateRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateWatch {
    /// The key, or the start of the range.
    pub key: Vec<u8>,
    /// End of the range (etcd's rules: empty = one key, `\0` = everything from `key`).
    pub range_end: Vec<u8>,
    /// First revision to report; 0 = the next change.
    pub start_revision: i64,
    /// Leave out puts.
    pub no_put: bool,
    /// Leave out deletes.
    pub no_delete: bool,
    /// Send the previous value with each event.
    pub prev_kv: bool,
    /// Send progress notifications when idle.
    pub progress_notify: bool,
    /// Split large responses.
    pub fragment: bool,
    /// A watch id chosen by the client, or 0 for one chosen here.
    pub watch_id: i64,
}

/// One event as a watcher receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// True for a delete.
    pub deleted: bool,
    /// The key after the change (for a delete: key and revision only).
    pub kv: KeyValue,
    /// The key before the change, when asked for and still known.
    pub prev_kv: Option<KeyValue>,
}

/// What a poll has for one watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Events in revision order.
    Events {
        /// The watcher.
        watch_id: i64,
        /// Its events.
        events: Vec<Event>,
    },
    /// The history the watcher needs is compacted: it is cancelled.
    Compacted {
        /// The watcher.
        watch_id: i64,
        /// The compacted revision.
        compact_revision: i64,
    },
}

/// Why a watch could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The client reused a watch id of this stream.
    #[error("mvcc: duplicate watch ID provided on the WatchStream")]
    DuplicateId,
}

#[derive(Debug)]
struct Watcher {
    range: KeyRange,
    /// The next revision it needs, while it is unsynced (a synced watcher needs the
    /// group's).
    next_rev: i64,
    no_put: bool,
    no_delete: bool,
    prev_kv: bool,
    progress_notify: bool,
    fragment: bool,
}

impl Watcher {
    /// Whether `record` is an event for this watcher (its range and filters; not its
    /// revision).
    fn wants(&self, record: &Record) -> bool {
        self.range.contains(&record.kv.key) && if record.tombstone { !self.no_delete } else { !self.no_put }
    }

    /// `record` as this watcher's event, with the previous value if it asked for it.
    fn event<B: Backend>(&self, store: &MvccStore<B>, record: &Record) -> Result<Event> {
        let prev_kv = if self.prev_kv { store.value_before(&record.kv.key, record.kv.mod_revision)? } else { None };
        Ok(Event { deleted: record.tombstone, kv: record.kv.clone(), prev_kv })
    }
}

/// The watchers of one Watch stream, in two groups as etcd keeps them. The synced group
/// has seen every revision up to `synced_rev` and moves on as one, its single-key
/// watchers indexed by key: a change costs a lookup and a visit to each range watcher,
/// however many watchers wait on other keys. An unsynced watcher (one that starts in the
/// past, or was created while the group lagged) reads the history from its own revision
/// until it reaches the group's, and joins it.
#[derive(Debug, Default)]
pub struct WatcherSet {
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
    /// Every synced watcher has seen every revision up to this one.
    synced_rev: i64,
    /// Synced watchers of one key: (key, watch id).
    synced_keys: BTreeSet<(Vec<u8>, i64)>,
    /// Synced watchers of a range.
    synced_ranges: BTreeSet<i64>,
    /// Watchers reading the history on their own.
    unsynced: BTreeSet<i64>,
}

impl WatcherSet {
    /// Adds a watcher; `current` is the store's revision now.
    pub fn create(&mut self, req: CreateWatch, current: i64) -> Result<i64, WatchError> {
        // As etcd's watch stream: a client's own id leaves the server's counter alone, and
        // the server's ids skip those in use (after a client picks 5: 0, 1, ..., 4, 6).
        let id = if req.watch_id != 0 {
            if self.watchers.contains_key(&req.watch_id) {
                return Err(WatchError::DuplicateId);
            }
            req.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id = self.next_id.wrapping_add(1);
            }
            let id = self.next_id;
            self.next_id = id.wrapping_add(1);
            id
        };
        let next_rev = if req.start_revision > 0 { req.start_revision } else { current + 1 };
        self.watchers.insert(
            id,
            Watcher {
                range: KeyRange::new(&req.key, &req.range_end),
                next_rev,
                no_put: req.no_put,
                no_delete: req.no_delete,
                prev_kv: req.prev_kv,
                progress_notify: req.progress_notify,
                fragment: req.fragment,
            },
        );
        if self.group_is_empty() {
            self.synced_rev = current;
        }
        if next_rev == self.synced_rev + 1 {
            self.join(id);
        } else {
            self.unsynced.insert(id);
        }
        Ok(id)
    }

    /// Removes a watcher; false if there was none with that id.
    pub fn cancel(&mut self, id: i64) -> bool {
        let Some(w) = self.watchers.remove(&id) else { return false };
        if !self.unsynced.remove(&id) {
            self.leave(id, w.range);
        }
        true
    }

    /// How many watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// How many watchers are behind the store at revision `current`, catching up from its
    /// history (one that starts past `current` waits like a synced one, as in etcd).
    pub fn behind(&self, current: i64) -> usize {
        self.unsynced.iter().filter_map(|id| self.watchers.get(id)).filter(|w| w.next_rev <= current).count()
    }

    /// True without watchers.
    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Whether watcher `id` asked for fragmented responses.
    pub fn fragments(&self, id: i64) -> bool {
        self.watchers.get(&id).is_some_and(|w| w.fragment)
    }

    /// Watchers that asked for progress notifications and have seen everything up to
    /// `current`: a notification to them cannot run ahead of an event.
    pub fn progress_due(&self, current: i64) -> Vec<i64> {
        self.watchers
            .iter()
            .filter(|(id, w)| w.progress_notify && self.next_rev(**id, w) > current)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether every watcher has seen everything up to `current`. A poll that returns
    /// nothing may only have read a stretch of history without events for these watchers.
    pub fn synced(&self, current: i64) -> bool {
        (self.group_is_empty() || self.synced_rev >= current)
            && self.unsynced.iter().filter_map(|id| self.watchers.get(id)).all(|w| w.next_rev > current)
    }

    /// Reads what the watchers have not seen, up to the store's current revision but at
    /// most [`MAX_REVISIONS_PER_POLL`] revisions: call again until [`WatcherSet::synced`].
    pub fn poll<B: Backend>(&mut self, store: &MvccStore<B>) -> Result<Vec<Delivery>> {
        let current = store.current_revision();
        let compacted = store.compacted_revision();
        let mut out = self.cancel_compacted(compacted);
        let mut pending: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
        if self.group_is_empty() {
            self.synced_rev = current;
        } else if self.synced_rev < current {
            let to = current.min(self.synced_rev.saturating_add(MAX_REVISIONS_PER_POLL));
            self.poll_group(store, to, &mut pending)?;
            self.synced_rev = to;
        }
        self.poll_unsynced(store, current, &mut pending)?;
        out.extend(pending.into_iter().map(|(watch_id, events)| Delivery::Events { watch_id, events }));
        Ok(out)
    }

    /// Cancels the watchers that need history compacted away (below `compacted`).
    fn cancel_compacted(&mut self, compacted: i64) -> Vec<Delivery> {
        let mut stale: Vec<i64> = self
            .unsynced
            .iter()
            .copied()
            .filter(|id| self.watchers.get(id).is_some_and(|w| w.next_rev < compacted))
            .collect();
        if !self.group_is_empty() && self.synced_rev + 1 < compacted {
            // A stream whose client stopped reading: the whole group fell behind.
            stale.extend(self.watchers.keys().copied().filter(|id| !self.unsynced.contains(id)));
        }
        stale
            .into_iter()
            .filter(|id| self.cancel(*id))
            .map(|watch_id| Delivery::Compacted { watch_id, compact_revision: compacted })
            .collect()
    }

    /// The synced group's events from the revision after `synced_rev` to `to`.
    fn poll_group<B: Backend>(
        &self,
        store: &MvccStore<B>,
        to: i64,
        pending: &mut BTreeMap<i64, Vec<Event>>,
    ) -> Result<()> {
        let mut failed = None;
        store.changes(self.synced_rev + 1, to, &mut |record| {
            let key = &record.kv.key;
            // One copy of the key per record for the lower bound; the run ends at the key.
            let by_key = self
                .synced_keys
                .range((Bound::Included((key.clone(), i64::MIN)), Bound::Unbounded))
                .take_while(|(k, _)| k == key)
                .map(|(_, id)| id);
            for id in by_key.chain(&self.synced_ranges) {
                let Some(w) = self.watchers.get(id).filter(|w| w.wants(&record)) else { continue };
                match w.event(store, &record) {
                    Ok(e) => pending.entry(*id).or_default().push(e),
                    Err(e) => failed = Some(e),
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// The unsynced watchers' events, from the lowest revision one of them needs, in a
    /// bounded step that stops at the group's revision; those that reach it join it.
    fn poll_unsynced<B: Backend>(
        &mut self,
        store: &MvccStore<B>,
        current: i64,
        pending: &mut BTreeMap<i64, Vec<Event>>,
    ) -> Result<()> {
        let Some(from) = self.unsynced.iter().filter_map(|id| self.watchers.get(id)).map(|w| w.next_rev).min() else {
            return Ok(());
        };
        // Past `synced_rev` they would skip the group's revision and never join it.
        let to = current.min(self.synced_rev).min(from.saturating_add(MAX_REVISIONS_PER_POLL - 1));
        let mut failed = None;
        store.changes(from, to, &mut |record| {
            for id in &self.unsynced {
                let Some(w) = self.watchers.get(id) else { continue };
                if w.next_rev > record.kv.mod_revision || !w.wants(&record) {
                    continue;
                }
                match w.event(store, &record) {
                    Ok(e) => pending.entry(*id).or_default().push(e),
                    Err(e) => failed = Some(e),
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let mut joining = Vec::new();
        for id in &self.unsynced {
            let Some(w) = self.watchers.get_mut(id) else { continue };
            if w.next_rev <= to {
                w.next_rev = to + 1;
            }
            if w.next_rev == self.synced_rev + 1 {
                joining.push(*id);
            }
        }
        for id in joining {
            self.unsynced.remove(&id);
            self.join(id);
        }
        Ok(())
    }

    /// The next revision watcher `id` needs.
    fn next_rev(&self, id: i64, w: &Watcher) -> i64 {
        if self.unsynced.contains(&id) { w.next_rev } else { self.synced_rev + 1 }
    }

    fn group_is_empty(&self) -> bool {
        self.synced_keys.is_empty() && self.synced_ranges.is_empty()
    }

    /// Puts watcher `id` in the synced group.
    fn join(&mut self, id: i64) {
        match self.watchers.get(&id).map(|w| &w.range) {
            Some(KeyRange::Single(key)) => {
                self.synced_keys.insert((key.clone(), id));
            }
            Some(KeyRange::Span(..)) => {
                self.synced_ranges.insert(id);
            }
            None => {}
        }
    }

    /// Takes watcher `id`, watching `range`, out of the synced group.
    fn leave(&mut self, id: i64, range: KeyRange) {
        match range {
            KeyRange::Single(key) => {
                self.synced_keys.remove(&(key, id));
            }
            KeyRange::Span(..) => {
                self.synced_ranges.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
