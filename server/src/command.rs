//! What the log carries: every change to a member's state is one [`Command`].

use serde::{Deserialize, Serialize};

use crate::mvcc::{
    CompactRequest, CompactResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, TxnRequest, TxnResponse,
};

/// A change, proposed to the log and applied in log order on every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// v3 Put.
    Put(PutRequest),
    /// v3 DeleteRange.
    DeleteRange(DeleteRangeRequest),
    /// v3 Txn.
    Txn(TxnRequest),
    /// v3 Compact.
    Compact(CompactRequest),
}

/// The outcome of applying a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandResponse {
    /// From a put.
    Put(PutResponse),
    /// From a delete.
    DeleteRange(DeleteRangeResponse),
    /// From a txn.
    Txn(TxnResponse),
    /// From a compaction.
    Compact(CompactResponse),
}

impl Command {
    /// Encodes for the log.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        bincode::serde::encode_to_vec(self, bincode::config::standard()).map_err(|e| e.to_string())
    }

    /// Decodes [`Command::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map(|(c, _)| c)
            .map_err(|e| e.to_string())
    }
}
