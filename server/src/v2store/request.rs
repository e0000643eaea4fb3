//! A v2 write as it travels through the log.

use serde::{Deserialize, Serialize};

/// The HTTP method of a v2 write: it picks the operation together with the conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// PUT: set, create, update or compare-and-swap.
    Put,
    /// POST: create an in-order key below the path.
    Post,
    /// DELETE: delete or compare-and-delete.
    Delete,
}

/// A write to the v2 store, with everything the proposer decided (the expiry time is
/// absolute, so every member applies the same thing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V2Write {
    /// Which kind of write.
    pub method: Method,
    /// The clean path, `/` for the root.
    pub path: String,
    /// The new value of a file.
    pub value: Vec<u8>,
    /// Write (or delete) a directory.
    pub dir: bool,
    /// `prevExist`, when given.
    pub prev_exist: Option<bool>,
    /// `prevIndex` (0 = no condition).
    pub prev_index: u64,
    /// `prevValue` (empty = no condition).
    pub prev_value: Vec<u8>,
    /// Delete a directory with its contents.
    pub recursive: bool,
    /// When the node expires, in milliseconds since the Unix epoch.
    pub expire_at: Option<u64>,
    /// Only reset the TTL; watchers are not told.
    pub refresh: bool,
}

impl V2Write {
    /// A write of `method` on `path` with every option unset.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            value: Vec::new(),
            dir: false,
            prev_exist: None,
            prev_index: 0,
            prev_value: Vec::new(),
            recursive: false,
            expire_at: None,
            refresh: false,
        }
    }
}
