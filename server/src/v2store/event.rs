//! What a v2 operation returns and what watchers receive.

use serde::{Deserialize, Serialize};

/// The `action` of a v2 event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// A read.
    Get,
    /// PUT without conditions.
    Set,
    /// PUT `prevExist=false`, or POST.
    Create,
    /// PUT `prevExist=true`.
    Update,
    /// PUT with `prevValue`/`prevIndex`.
    CompareAndSwap,
    /// DELETE.
    Delete,
    /// DELETE with `prevValue`/`prevIndex`.
    CompareAndDelete,
    /// A TTL ran out.
    Expire,
}

impl Action {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::Set => "set",
            Action::Create => "create",
            Action::Update => "update",
            Action::CompareAndSwap => "compareAndSwap",
            Action::Delete => "delete",
            Action::CompareAndDelete => "compareAndDelete",
            Action::Expire => "expire",
        }
    }

    /// Whether the event removes its node.
    pub fn removes(self) -> bool {
        matches!(self, Action::Delete | Action::CompareAndDelete | Action::Expire)
    }
}

/// A node as a response shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Full path; empty for the root.
    pub key: String,
    /// The value of a file (absent for directories and removed nodes).
    pub value: Option<Vec<u8>>,
    /// Whether it is a directory.
    pub dir: bool,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expire_at: Option<u64>,
    /// Children of a directory, when listed.
    pub nodes: Option<Vec<NodeView>>,
    /// Index of its last write.
    pub modified_index: u64,
    /// Index of the write that created it.
    pub created_index: u64,
}

/// The outcome of a v2 operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// The node after it (for removals: the removed node without its value).
    pub node: NodeView,
    /// The node before it, if there was one.
    pub prev_node: Option<NodeView>,
    /// The store index the event happened at (for a read: the current index).
    pub index: u64,
    /// A TTL refresh: kept in the history but not sent to watchers.
    pub refresh: bool,
}

impl Event {
    /// Whether a response to it is "201 Created".
    pub fn is_created(&self) -> bool {
        self.action == Action::Create || (self.action == Action::Set && self.prev_node.is_none())
    }
}
