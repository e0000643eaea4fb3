//! The event history on disk. Each event is written in the batch of the change that made
//! it, so a restarted member still answers a watch that starts before its restart, as
//! etcd does by replaying its WAL, instead of "outdated and cleared".
//!
//! The events sit in a ring of [`HISTORY_CAPACITY`] slots, like the history in memory:
//! each event overwrites the one the history drops for it, so saving an event is one
//! write and never a removal. Where the history began (a snapshot's index, say) is kept
//! beside them, written once.

use super::event::Event;
use super::history::{EventHistory, HISTORY_CAPACITY, HistoryCopy};
use crate::raft::types::{decode, encode};
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Where the index the history began after is kept.
const META_CLEARED: &[u8] = b"v2.history.cleared";

fn corrupt(reason: impl ToString) -> StorageError {
    StorageError::Corrupt { tree: Tree::V2History.name(), reason: reason.to_string() }
}

fn decode_index(b: &[u8]) -> Result<u64, StorageError> {
    <[u8; 8]>::try_from(b).map(u64::from_be_bytes).map_err(|_| corrupt("an index is not 8 bytes"))
}

fn slot_key(slot: usize) -> Vec<u8> {
    (slot as u16).to_be_bytes().to_vec()
}

fn decode_slot(b: &[u8]) -> Result<usize, StorageError> {
    match <[u8; 2]>::try_from(b).map(u16::from_be_bytes) {
        Ok(slot) if usize::from(slot) < HISTORY_CAPACITY => Ok(slot.into()),
        _ => Err(corrupt("a slot key out of range")),
    }
}

/// Writes the events of one store's history.
#[derive(Debug)]
pub struct SavedHistory {
    /// The slot the next event goes to: the one after the newest event's, which holds
    /// the oldest event once the ring is full.
    next_slot: usize,
    /// The index of the newest event saved: an entry applied again after a crash finds
    /// its event here already.
    newest: u64,
    /// The start of the history, while it is not on disk. A database written before
    /// events were saved has none: its history starts at the applied index of the first
    /// start that saves events, and that must be recorded with the first event.
    unmarked: Option<u64>,
}

/// What was read: the start marker and the events with their slots.
type Saved = (Option<u64>, Vec<(usize, Event)>);

impl SavedHistory {
    /// Loads the saved history of a store whose applied index is `applied`. Events of
    /// entries above it are kept: their writes went first, so they are what applying
    /// the entry made (see `V2Store::publish`). A history that cannot be read is only
    /// a cache of what watchers may replay: it is dropped, and starts again at
    /// `applied`, as after a snapshot.
    pub fn load<B: Backend>(backend: &B, applied: u64) -> Result<(Self, EventHistory), StorageError> {
        let (cleared, events) = match read(backend) {
            Ok(saved) => saved,
            Err(e @ StorageError::Corrupt { .. }) => {
                tracing::warn!(error = %e, applied, "the saved v2 event history is unreadable; it restarts here");
                let mut fresh = Self { next_slot: 0, newest: applied, unmarked: None };
                let mut batch = WriteBatch::default();
                let history = fresh.replace(backend, None, applied, &mut batch)?;
                backend.write_in_order(batch)?;
                return Ok((fresh, history));
            }
            Err(e) => return Err(e),
        };
        let newest = events.iter().max_by_key(|(_, e)| e.index);
        let next_slot = newest.map_or(0, |(slot, _)| (slot + 1) % HISTORY_CAPACITY);
        let start = cleared.unwrap_or(applied);
        let saved = Self {
            next_slot,
            newest: newest.map_or(start, |(_, e)| e.index.max(start)),
            unmarked: if cleared.is_some() { None } else { Some(applied) },
        };
        Ok((saved, EventHistory::restore(start, events.into_iter().map(|(_, e)| e).collect())))
    }

    /// Queues `event`, in place of the oldest saved one once the ring is full; returns
    /// false, queueing nothing, if an event at its index or later is saved already.
    pub fn record(&mut self, event: &Event, batch: &mut WriteBatch) -> Result<bool, StorageError> {
        if event.index <= self.newest {
            return Ok(false);
        }
        if let Some(cleared) = self.unmarked.take() {
            batch.put(Tree::Meta, META_CLEARED, cleared.to_be_bytes().to_vec());
        }
        batch.put(Tree::V2History, slot_key(self.next_slot), encode(event).map_err(corrupt)?);
        self.next_slot = (self.next_slot + 1) % HISTORY_CAPACITY;
        self.newest = event.index;
        Ok(true)
    }

    /// Queues the removal of every saved event and the saving of `copy`'s, for a snapshot
    /// taken at `index` that replaces the store; returns the history to serve. Without a
    /// copy (a snapshot file restored) the history restarts at `index`: nothing at or
    /// before it can be replayed.
    pub fn replace<B: Backend>(
        &mut self,
        backend: &B,
        copy: Option<&HistoryCopy>,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<EventHistory, StorageError> {
        backend.scan(Tree::V2History, .., &mut |k, _| {
            batch.delete(Tree::V2History, k.to_vec());
            Ok(true)
        })?;
        let (cleared, events) = match copy {
            Some(c) => (c.cleared_through.min(index), c.events.as_slice()),
            None => (index, [].as_slice()),
        };
        batch.put(Tree::Meta, META_CLEARED, cleared.to_be_bytes().to_vec());
        // The history keeps what it would serve (after `cleared`, the newest ones); those
        // are saved, oldest first from slot 0.
        let history = EventHistory::restore(cleared, events.iter().filter(|e| e.index <= index).cloned().collect());
        for (slot, event) in history.events().enumerate() {
            batch.put(Tree::V2History, slot_key(slot), encode(event).map_err(corrupt)?);
        }
        *self = Self { next_slot: history.events().len() % HISTORY_CAPACITY, newest: index, unmarked: None };
        Ok(history)
    }
}

fn read<B: Backend>(backend: &B) -> Result<Saved, StorageError> {
    let cleared = backend.get(Tree::Meta, META_CLEARED)?.map(|b| decode_index(&b)).transpose()?;
    let mut events = Vec::new();
    backend.scan(Tree::V2History, .., &mut |k, v| {
        events.push((decode_slot(k)?, decode(v).map_err(corrupt)?));
        Ok(true)
    })?;
    Ok((cleared, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SledBackend;
    use crate::v2store::{Action, NodeView};

    fn set(index: u64) -> Event {
        let node = NodeView { key: "/k".into(), modified_index: index, created_index: index, ..NodeView::default() };
        Event { action: Action::Set, node, prev_node: None, index, refresh: false }
    }

    #[test]
    fn a_database_without_a_saved_history_starts_at_its_applied_index() -> Result<(), Box<dyn std::error::Error>> {
        let backend = SledBackend::temporary()?;
        let (mut saved, mut history) = SavedHistory::load(&backend, 7)?;
        assert_eq!(history.scan("/k", false, 7, 7).map_err(|e| e.code.number()), Err(401));
        let mut batch = WriteBatch::default();
        history.add(set(8));
        assert!(saved.record(&set(8), &mut batch)?);
        backend.write_in_order(batch)?;
        // Restarted later: the start recorded with the first event still holds.
        let (_, history) = SavedHistory::load(&backend, 20)?;
        assert_eq!(history.scan("/k", false, 7, 20).map_err(|e| e.code.number()), Err(401));
        assert_eq!(history.scan("/k", false, 8, 20)?.map(|e| e.index), Some(8));
        Ok(())
    }

    #[test]
    fn an_unreadable_history_starts_again_at_the_applied_index() -> Result<(), Box<dyn std::error::Error>> {
        let backend = SledBackend::temporary()?;
        let mut batch = WriteBatch::default();
        batch.put(Tree::V2History, slot_key(3), encode(&set(4))?);
        batch.put(Tree::V2History, slot_key(4), b"not an event".to_vec());
        backend.write_in_order(batch)?;
        let (_, history) = SavedHistory::load(&backend, 9)?;
        assert_eq!(history.scan("/k", false, 4, 9).map_err(|e| e.code.number()), Err(401));
        assert_eq!(history.scan("/k", false, 10, 9)?.map(|e| e.index), None);
        // Dropped from disk too, and the start recorded: a later start reads it cleanly.
        let (_, history) = SavedHistory::load(&backend, 12)?;
        assert_eq!(history.scan("/k", false, 10, 12)?.map(|e| e.index), None);
        assert_eq!(history.scan("/k", false, 9, 12).map_err(|e| e.code.number()), Err(401));
        Ok(())
    }
}
