//! Long-poll watchers of the v2 store, and the history they start from.
//!
//! A watcher waits on one path. It hears of events on that path; with `recursive`, of
//! events below it too (hidden keys below it excepted); and always of the removal of an
//! ancestor directory. A plain watcher takes one event and is gone; a streaming one stays.
//! Each has a bounded queue: a watcher that cannot keep up is dropped (its client sees
//! the response end) rather than holding memory or slowing the writer.

use std::collections::HashMap;

use tokio::sync::mpsc;

use super::error::V2Error;
use super::event::Event;
use super::history::EventHistory;

/// Events a streaming watcher may have queued before it is dropped (etcd's 100).
const WATCHER_QUEUE: usize = 100;

struct Watcher {
    recursive: bool,
    stream: bool,
    since: u64,
    tx: mpsc::Sender<Event>,
}

/// What a client waits on: events, then the end of the channel.
#[derive(Debug)]
pub struct Watch {
    /// The events, in order.
    pub events: mpsc::Receiver<Event>,
    /// The store index when the watch began (etcd's `X-Etcd-Index` for watches).
    pub index: u64,
}

/// Registered watchers by path, and the event history.
pub struct WatcherHub {
    watchers: HashMap<String, Vec<Watcher>>,
    history: EventHistory,
}

/// Whether `key`, seen from a watcher at `watched`, lies under a hidden name.
fn hidden_below(watched: &str, key: &str) -> bool {
    // A removed directory notifies watchers deeper than itself; nothing is hidden then.
    match key.strip_prefix(watched) {
        Some(rest) => format!("/{rest}").contains("/_"),
        None => false,
    }
}

impl WatcherHub {
    /// A hub that replays `history` to watchers that start in the past.
    pub fn with_history(history: EventHistory) -> Self {
        Self { watchers: HashMap::new(), history }
    }

    /// Starts watching `key` from `since` (0 = the next change after `current`). An event
    /// already in the history is delivered at once.
    pub fn watch(
        &mut self,
        key: &str,
        recursive: bool,
        stream: bool,
        since: u64,
        current: u64,
    ) -> Result<Watch, V2Error> {
        let since = if since == 0 { current + 1 } else { since };
        let (tx, events) = mpsc::channel(WATCHER_QUEUE);
        if let Some(e) = self.history.scan(key, recursive, since, current)? {
            // The channel is new and empty: this cannot fail.
            tx.try_send(e.clone()).ok();
            return Ok(Watch { events, index: current });
        }
        let list = self.watchers.entry(key.to_string()).or_default();
        // Watchers whose clients left are pruned here and when an event comes.
        list.retain(|w| !w.tx.is_closed());
        list.push(Watcher { recursive, stream, since, tx });
        Ok(Watch { events, index: current })
    }

    /// Watchers currently waiting (not those whose clients left, still to be pruned).
    pub fn count(&self) -> usize {
        self.watchers.values().flatten().filter(|w| !w.tx.is_closed()).count()
    }

    /// Records `event` and notifies the watchers of its path and of every ancestor. A
    /// refresh only enters the history.
    pub fn notify(&mut self, event: &Event) {
        self.history.add(event.clone());
        if event.refresh {
            return;
        }
        let key = event.node.key.as_str();
        self.notify_path(event, "/", false);
        for (i, _) in key.match_indices('/').skip(1) {
            self.notify_path(event, &key[..i], false);
        }
        if key != "/" && !key.is_empty() {
            self.notify_path(event, key, false);
        }
    }

    /// Notifies watchers of `path`, a node removed together with the event's node.
    pub fn notify_removed(&mut self, event: &Event, path: &str) {
        self.notify_path(event, path, true);
    }

    fn notify_path(&mut self, event: &Event, path: &str, removed: bool) {
        let Some(list) = self.watchers.get_mut(path) else { return };
        let exact = event.node.key == path;
        if !exact && hidden_below(path, &event.node.key) {
            return;
        }
        list.retain(|w| {
            if !(w.recursive || exact || removed) || event.index < w.since {
                return !w.tx.is_closed();
            }
            // Full or closed: either way this watcher is done.
            w.tx.try_send(event.clone()).is_ok() && w.stream
        });
        if list.is_empty() {
            self.watchers.remove(path);
        }
    }

    /// The events kept for watchers that start in the past.
    pub fn history(&self) -> &EventHistory {
        &self.history
    }

    /// Ends every watch (at shutdown): clients see their responses end.
    pub fn close(&mut self) {
        self.watchers.clear();
    }
}
