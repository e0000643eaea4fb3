//! v3 watchers, plain Rust: what one Watch stream is watching and the events each of its
//! watchers has not seen yet.
//!
//! Watchers pull: each remembers the next revision it needs and reads the history from the
//! store when the store moves past it. Writers never wait for watchers and nothing is
//! buffered per watcher between reads, so a watcher that is not read from costs a few
//! bytes, whatever the write rate; once its client reads again it catches up from the
//! store (etcd's unsynced watchers), or learns that the history it needs was compacted.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::mvcc::{KeyRange, KeyValue, MvccStore};
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
    next_rev: i64,
    no_put: bool,
    no_delete: bool,
    prev_kv: bool,
    progress_notify: bool,
    fragment: bool,
}

/// The watchers of one Watch stream.
#[derive(Debug, Default)]
pub struct WatcherSet {
    watchers: BTreeMap<i64, Watcher>,
    next_id: i64,
}

impl WatcherSet {
    /// Adds a watcher; `current` is the store's revision now.
    pub fn create(&mut self, req: CreateWatch, current: i64) -> Result<i64, WatchError> {
        let id = if req.watch_id != 0 {
            if self.watchers.contains_key(&req.watch_id) {
                return Err(WatchError::DuplicateId);
            }
            req.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id
        };
        self.next_id = self.next_id.max(id + 1);
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
        Ok(id)
    }

    /// Removes a watcher; false if there was none with that id.
    pub fn cancel(&mut self, id: i64) -> bool {
        self.watchers.remove(&id).is_some()
    }

    /// How many watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
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
        self.watchers.iter().filter(|(_, w)| w.progress_notify && w.next_rev > current).map(|(id, _)| *id).collect()
    }

    /// Whether every watcher has seen everything up to `current`.
    pub fn synced(&self, current: i64) -> bool {
        self.watchers.values().all(|w| w.next_rev > current)
    }

    /// Reads what the watchers have not seen, up to the store's current revision but at
    /// most [`MAX_REVISIONS_PER_POLL`] revisions: call again until it returns nothing.
    pub fn poll<B: Backend>(&mut self, store: &MvccStore<B>) -> Result<Vec<Delivery>> {
        let current = store.current_revision();
        let compacted = store.compacted_revision();
        let mut out = Vec::new();
        let stale: Vec<i64> = self.watchers.iter().filter(|(_, w)| w.next_rev < compacted).map(|(id, _)| *id).collect();
        for watch_id in stale {
            self.watchers.remove(&watch_id);
            out.push(Delivery::Compacted { watch_id, compact_revision: compacted });
        }
        let Some(from) = self.watchers.values().map(|w| w.next_rev).filter(|r| *r <= current).min() else {
            return Ok(out);
        };
        let to = current.min(from.saturating_add(MAX_REVISIONS_PER_POLL - 1));
        let mut pending: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
        let mut failed = None;
        store.changes(from, to, &mut |record| {
            let rev = record.kv.mod_revision;
            for (id, w) in &self.watchers {
                let wanted = w.next_rev <= rev
                    && w.range.contains(&record.kv.key)
                    && if record.tombstone { !w.no_delete } else { !w.no_put };
                if !wanted {
                    continue;
                }
                let prev_kv = if w.prev_kv {
                    match store.value_before(&record.kv.key, rev) {
                        Ok(v) => v,
                        Err(e) => {
                            failed = Some(e);
                            None
                        }
                    }
                } else {
                    None
                };
                pending.entry(*id).or_default().push(Event {
                    deleted: record.tombstone,
                    kv: record.kv.clone(),
                    prev_kv,
                });
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        for w in self.watchers.values_mut() {
            if w.next_rev <= to {
                w.next_rev = to + 1;
            }
        }
        out.extend(pending.into_iter().map(|(watch_id, events)| Delivery::Events { watch_id, events }));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
