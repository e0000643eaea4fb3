//! Reading the change history back, for watchers: every put and delete at a range of
//! revisions, in revision order, and the value a key had just before a change.

use super::key_value::{KeyValue, Record};
use super::revision::Revision;
use super::store::MvccStore;
use crate::error::Result;
use crate::storage::{Backend, StorageError, Tree};

impl<B: Backend> MvccStore<B> {
    /// Calls `visit` with every record kept at revisions `from..=to`, in revision order
    /// (the writes of one txn in the order it made them).
    pub fn changes(&self, from: i64, to: i64, visit: &mut dyn FnMut(Record)) -> Result<()> {
        if from > to {
            return Ok(());
        }
        let start = Revision::new(from, 0).to_bytes().to_vec();
        let end = Revision::new(to.saturating_add(1), 0).to_bytes().to_vec();
        self.backend().scan(Tree::Kv, start..end, &mut |k, v| {
            if self.is_discarded(k) {
                return Ok(true);
            }
            let record = Record::decode(v).map_err(|reason| StorageError::Corrupt { tree: Tree::Kv.name(), reason })?;
            visit(record);
            Ok(true)
        })?;
        Ok(())
    }

    /// The key's value just before revision `rev`, if it was live then and not compacted
    /// away.
    pub fn value_before(&self, key: &[u8], rev: i64) -> Result<Option<KeyValue>> {
        match self.visible(key, rev - 1) {
            Some(at) => self.record(at, &[]).map(Some),
            None => Ok(None),
        }
    }
}
