//! Multi-version concurrency control: etcd's v3 key space.
//!
//! Plain Rust with no protocol types. Every change gets a new store revision; each key
//! keeps its create/mod revision and version; deletes leave tombstones; history stays
//! until a compaction. The index lives in memory ([`KeyHistory`] per key) and the records
//! in the backend, keyed by [`Revision`].

pub mod check;
mod compare;
mod discarded;
mod history;
mod key_history;
mod key_range;
mod key_value;
mod lease;
mod op_counts;
mod range_cursor;
mod range_query;
mod request;
mod revision;
mod store;
mod write;

pub use discarded::Discarded;
pub use key_range::{KeyRange, prefix_end};
pub use key_value::{KeyValue, Record};
pub use lease::Leases;
pub use op_counts::{OpCounts, OpTotals, Tally};
pub use range_cursor::{PageSizer, RangeCursor, RangePage, RangeSummary};
pub use request::*;
pub use revision::Revision;
pub use store::{MvccSnapshot, MvccStore, RecordScan, Revisions};
pub use write::WriteTxn;

#[cfg(test)]
mod tests;
