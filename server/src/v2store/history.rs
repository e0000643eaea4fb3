//! The last events, so a watcher can start at an index in the recent past.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::error::{Code, V2Error};
use super::event::Event;

/// How many events etcd keeps for v2 watchers.
pub const HISTORY_CAPACITY: usize = 1000;

/// A history as a Raft snapshot carries it, so that a member which installs the snapshot
/// answers watches from the same indexes as the member that took it (etcd ships its
/// history inside the v2 store's snapshot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryCopy {
    /// Every event at or below this index may be gone.
    pub cleared_through: u64,
    /// The events kept, oldest first.
    pub events: Vec<Event>,
}

/// A ring of the most recent events, oldest first.
#[derive(Debug)]
pub struct EventHistory {
    events: VecDeque<Event>,
    /// Every event at or below this index may be gone. Once the ring is full, that is
    /// everything below its oldest event (etcd's `StartIndex`); before, what came before
    /// the history began (a snapshot this member installed, say).
    cleared_through: u64,
}

impl EventHistory {
    /// A history that began after `cleared_through`, holding `events` (any order), as
    /// it was saved. Only the newest [`HISTORY_CAPACITY`] events are kept.
    pub fn restore(cleared_through: u64, mut events: Vec<Event>) -> Self {
        events.retain(|e| e.index > cleared_through);
        events.sort_by_key(|e| e.index);
        let mut history = Self { events: VecDeque::with_capacity(HISTORY_CAPACITY), cleared_through };
        for e in events {
            history.add(e);
        }
        history
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> impl ExactSizeIterator<Item = &Event> {
        self.events.iter()
    }

    /// The history as a snapshot carries it; [`EventHistory::restore`] makes it again.
    pub fn copy(&self) -> HistoryCopy {
        HistoryCopy { cleared_through: self.cleared_through, events: self.events().cloned().collect() }
    }

    /// Records an event, dropping the oldest beyond the capacity. What is cleared
    /// follows from the events kept, so a history restored from them clears the same
    /// indexes.
    pub fn add(&mut self, event: Event) {
        if self.events.len() == HISTORY_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(event);
        if self.events.len() == HISTORY_CAPACITY
            && let Some(oldest) = self.events.front()
        {
            self.cleared_through = self.cleared_through.max(oldest.index.saturating_sub(1));
        }
    }

    /// The first event at or after `index` that a watcher of `key` would see, if the
    /// history holds one; error 401 if events it would need are gone.
    pub fn scan(&self, key: &str, recursive: bool, index: u64, current: u64) -> Result<Option<&Event>, V2Error> {
        if index <= self.cleared_through {
            let start = self.events.front().map_or(self.cleared_through + 1, |e| e.index);
            return Err(V2Error::new(
                Code::EventIndexCleared,
                format!("the requested history has been cleared [{start}/{index}]"),
                current,
            ));
        }
        let first = self.events.partition_point(|e| e.index < index);
        let dir_prefix = if key.ends_with('/') { key.to_string() } else { format!("{key}/") };
        Ok(self.events.range(first..).find(|e| {
            if e.refresh {
                return false;
            }
            let k = &e.node.key;
            let ancestor_removed =
                e.action.removes() && e.prev_node.as_ref().is_some_and(|p| p.dir && key.starts_with(p.key.as_str()));
            k == key || (recursive && k.starts_with(&dir_prefix)) || ancestor_removed
        }))
    }
}
