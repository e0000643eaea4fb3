//! v2 errors: etcd's numeric codes and exact messages (`v2error`).
//!
//! Which HTTP status each code gets is the API layer's business.

use serde::{Deserialize, Serialize};

/// A v2 error code, numbered as etcd numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Code {
    /// 100.
    KeyNotFound,
    /// 101.
    TestFailed,
    /// 102.
    NotFile,
    /// 104.
    NotDir,
    /// 105.
    NodeExist,
    /// 107.
    RootReadOnly,
    /// 108.
    DirNotEmpty,
    /// 201.
    PrevValueRequired,
    /// 202.
    TtlNaN,
    /// 203.
    IndexNaN,
    /// 209.
    InvalidField,
    /// 210.
    InvalidForm,
    /// 211.
    RefreshValue,
    /// 212.
    RefreshTtlRequired,
    /// 300: a failure below the v2 store (no leader, timeout).
    RaftInternal,
    /// 401.
    EventIndexCleared,
}

impl Code {
    /// etcd's number for the code.
    pub fn number(self) -> u16 {
        match self {
            Code::KeyNotFound => 100,
            Code::TestFailed => 101,
            Code::NotFile => 102,
            Code::NotDir => 104,
            Code::NodeExist => 105,
            Code::RootReadOnly => 107,
            Code::DirNotEmpty => 108,
            Code::PrevValueRequired => 201,
            Code::TtlNaN => 202,
            Code::IndexNaN => 203,
            Code::InvalidField => 209,
            Code::InvalidForm => 210,
            Code::RefreshValue => 211,
            Code::RefreshTtlRequired => 212,
            Code::RaftInternal => 300,
            Code::EventIndexCleared => 401,
        }
    }

    /// etcd's message for the code.
    pub fn message(self) -> &'static str {
        match self {
            Code::KeyNotFound => "Key not found",
            Code::TestFailed => "Compare failed",
            Code::NotFile => "Not a file",
            Code::NotDir => "Not a directory",
            Code::NodeExist => "Key already exists",
            Code::RootReadOnly => "Root is read only",
            Code::DirNotEmpty => "Directory not empty",
            Code::PrevValueRequired => "PrevValue is Required in POST form",
            Code::TtlNaN => "The given TTL in POST form is not a number",
            Code::IndexNaN => "The given index in POST form is not a number",
            Code::InvalidField => "Invalid field",
            Code::InvalidForm => "Invalid POST form",
            Code::RefreshValue => "Value provided on refresh",
            Code::RefreshTtlRequired => "A TTL must be provided on refresh",
            Code::RaftInternal => "Raft Internal Error",
            Code::EventIndexCleared => "The event in requested index is outdated and cleared",
        }
    }
}

/// A v2 error as clients receive it: code, cause and the store index it was met at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {} ({}) [{}]", .code.number(), .code.message(), .cause, .index)]
pub struct V2Error {
    /// What went wrong.
    pub code: Code,
    /// Usually the key involved.
    pub cause: String,
    /// The store index when it happened (0 for request validation errors).
    pub index: u64,
}

impl V2Error {
    /// An error met by the store at `index`.
    pub fn new(code: Code, cause: impl Into<String>, index: u64) -> Self {
        Self { code, cause: cause.into(), index }
    }

    /// A request validation error (index 0).
    pub fn request(code: Code, cause: impl Into<String>) -> Self {
        Self::new(code, cause, 0)
    }
}
