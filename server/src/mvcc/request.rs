//! Requests to the MVCC store, in plain Rust. The API layer converts protobuf into these;
//! they are also what the log carries, so they are serialisable.

use serde::{Deserialize, Serialize};

use super::KeyValue;

/// Sort order of a range result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortOrder {
    /// Key order (unless a target other than key is set, then ascending).
    #[default]
    None,
    /// Ascending by the target.
    Ascend,
    /// Descending by the target.
    Descend,
}

/// Field a range result is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortTarget {
    /// The key.
    #[default]
    Key,
    /// The version.
    Version,
    /// The create revision.
    Create,
    /// The mod revision.
    Mod,
    /// The value.
    Value,
}

/// Read keys in `[key, range_end)` (see [`super::KeyRange`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeRequest {
    /// First key.
    pub key: Vec<u8>,
    /// End of the range; empty = just `key`; `"\0"` = every key ≥ `key`.
    pub range_end: Vec<u8>,
    /// Most keys to return; 0 = no limit.
    pub limit: i64,
    /// Revision to read at; ≤ 0 = current.
    pub revision: i64,
    /// Sort order.
    pub sort_order: SortOrder,
    /// Sort field.
    pub sort_target: SortTarget,
    /// Return local state without a quorum check.
    pub serializable: bool,
    /// Omit values.
    pub keys_only: bool,
    /// Return only the count.
    pub count_only: bool,
    /// Lower bound on mod revision (0 = none).
    pub min_mod_revision: i64,
    /// Upper bound on mod revision (0 = none).
    pub max_mod_revision: i64,
    /// Lower bound on create revision (0 = none).
    pub min_create_revision: i64,
    /// Upper bound on create revision (0 = none).
    pub max_create_revision: i64,
}

/// Write one key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutRequest {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Lease to attach, or 0.
    pub lease: i64,
    /// Return the previous key-value.
    pub prev_kv: bool,
    /// Keep the current value.
    pub ignore_value: bool,
    /// Keep the current lease.
    pub ignore_lease: bool,
}

/// Delete keys in a range.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    /// First key.
    pub key: Vec<u8>,
    /// End of the range, as in [`RangeRequest::range_end`].
    pub range_end: Vec<u8>,
    /// Return the deleted key-values.
    pub prev_kv: bool,
}

/// How a compare relates the key's field to the given value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    /// Equal.
    Equal,
    /// The key's field is greater.
    Greater,
    /// The key's field is less.
    Less,
    /// Not equal.
    NotEqual,
}

/// The field a compare reads and the operand it compares with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    /// The version.
    Version(i64),
    /// The create revision.
    Create(i64),
    /// The mod revision.
    Mod(i64),
    /// The value.
    Value(Vec<u8>),
    /// The lease id.
    Lease(i64),
}

/// One condition of a txn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The relation that must hold.
    pub result: CompareResult,
    /// Field and operand.
    pub target: CompareTarget,
    /// The key.
    pub key: Vec<u8>,
    /// End of a range of keys that must all satisfy the compare; empty = just `key`.
    pub range_end: Vec<u8>,
}

/// One operation of a txn branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOp {
    /// A read.
    Range(RangeRequest),
    /// A write.
    Put(PutRequest),
    /// A delete.
    DeleteRange(DeleteRangeRequest),
    /// A nested txn.
    Txn(TxnRequest),
    /// An op with no request set; etcd rejects it with "key not found".
    Empty,
}

/// If every compare holds run `success`, else `failure`, all at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnRequest {
    /// Conditions, ANDed.
    pub compare: Vec<Compare>,
    /// Ops run when every compare holds.
    pub success: Vec<RequestOp>,
    /// Ops run otherwise.
    pub failure: Vec<RequestOp>,
}

/// Discard history below a revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompactRequest {
    /// Keep history from this revision on.
    pub revision: i64,
    /// Answer only once the space is reclaimed.
    pub physical: bool,
}

/// Result of a range.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeResponse {
    /// Store revision the response was read at (the header revision).
    pub revision: i64,
    /// Matching keys, after filters, sort and limit.
    pub kvs: Vec<KeyValue>,
    /// More keys matched than were returned.
    pub more: bool,
    /// Keys in the range, ignoring limit and filters.
    pub count: i64,
}

/// Result of a put.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutResponse {
    /// Store revision after the put.
    pub revision: i64,
    /// The previous key-value, if asked for and present.
    pub prev_kv: Option<KeyValue>,
}

/// Result of a delete.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    /// Store revision after the delete.
    pub revision: i64,
    /// Number of keys deleted.
    pub deleted: i64,
    /// The deleted key-values, if asked for.
    pub prev_kvs: Vec<KeyValue>,
}

/// Result of one txn op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseOp {
    /// From a range.
    Range(RangeResponse),
    /// From a put.
    Put(PutResponse),
    /// From a delete.
    DeleteRange(DeleteRangeResponse),
    /// From a nested txn.
    Txn(TxnResponse),
}

/// Result of a txn.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnResponse {
    /// Store revision after the txn.
    pub revision: i64,
    /// Whether the success branch ran.
    pub succeeded: bool,
    /// One response per op of the branch that ran.
    pub responses: Vec<ResponseOp>,
}

/// Result of a compaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompactResponse {
    /// Current store revision.
    pub revision: i64,
}
