//! The event history on disk. Each event is written in the batch of the change that made
//! it, so a restarted member still answers a watch that starts before its restart, as
//! etcd does by replaying its WAL, instead of "outdated and cleared".
//!
//! The events sit in a ring of [`HISTORY_CAPACITY`] slots, like the history in memory:
//! each event overwrites the one the history drops for it, so saving an event is one
//! write and never a removal. Where the history began (a snapshot's index, say) is kept
//! beside them, written once.

use super::event::Event;
use super::history::{EventHistory, HISTORY_CAPACITY};
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Where the index the history began after is kept.
const META_CLEARED: &[u8] = b"v2.history.cleared";

fn corrupt(reason: impl ToString) -> StorageError {
    StorageError::Corrupt { tree: Tree::V2History.name(), reason: reason.to_string() }
}

fn encode(e: &Event) -> Result<Vec<u8>, StorageError> {
    bincode::serde::encode_to_vec(e, bincode::config::standard()).map_err(corrupt)
}

fn decode(b: &[u8]) -> Result<Event, StorageError> {
    bincode::serde::decode_from_slice(b, bincode::config::standard()).map(|(e, _)| e).map_err(corrupt)
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
    /// The start of the history, while it is not on disk. A database written before
    /// events were saved has none: its history starts at the applied index of the first
    /// start that saves events, and that must be recorded with the first event.
    unmarked: Option<u64>,
}

impl SavedHistory {
    /// Loads the saved history of a store whose applied index is `applied`.
    pub fn load<B: Backend>(backend: &B, applied: u64) -> Result<(Self, EventHistory), StorageError> {
        let cleared = backend.get(Tree::Meta, META_CLEARED)?.map(|b| decode_index(&b)).transpose()?;
        let mut events = Vec::new();
        let mut newest: Option<(u64, usize)> = None;
        backend.scan(Tree::V2History, .., &mut |k, v| {
            let (slot, event) = (decode_slot(k)?, decode(v)?);
            if newest.is_none_or(|(index, _)| event.index > index) {
                newest = Some((event.index, slot));
            }
            events.push(event);
            Ok(true)
        })?;
        let next_slot = newest.map_or(0, |(_, slot)| (slot + 1) % HISTORY_CAPACITY);
        let unmarked = if cleared.is_some() { None } else { Some(applied) };
        Ok((Self { next_slot, unmarked }, EventHistory::restore(cleared.unwrap_or(applied), events)))
    }

    /// Queues `event`, in place of the oldest saved one once the ring is full.
    pub fn record(&mut self, event: &Event, batch: &mut WriteBatch) -> Result<(), StorageError> {
        batch.put(Tree::V2History, slot_key(self.next_slot), encode(event)?);
        self.next_slot = (self.next_slot + 1) % HISTORY_CAPACITY;
        if let Some(cleared) = self.unmarked.take() {
            batch.put(Tree::Meta, META_CLEARED, cleared.to_be_bytes().to_vec());
        }
        Ok(())
    }

    /// Queues the removal of every saved event: a snapshot taken at `index` replaces the
    /// store, and nothing at or before it can be replayed.
    pub fn reset<B: Backend>(&mut self, backend: &B, index: u64, batch: &mut WriteBatch) -> Result<(), StorageError> {
        backend.scan(Tree::V2History, .., &mut |k, _| {
            batch.delete(Tree::V2History, k.to_vec());
            Ok(true)
        })?;
        batch.put(Tree::Meta, META_CLEARED, index.to_be_bytes().to_vec());
        self.next_slot = 0;
        self.unmarked = None;
        Ok(())
    }
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
        saved.record(&set(8), &mut batch)?;
        backend.write_in_order(batch)?;
        // Restarted later: the start recorded with the first event still holds.
        let (_, history) = SavedHistory::load(&backend, 20)?;
        assert_eq!(history.scan("/k", false, 7, 20).map_err(|e| e.code.number()), Err(401));
        assert_eq!(history.scan("/k", false, 8, 20)?.map(|e| e.index), Some(8));
        Ok(())
    }
}
