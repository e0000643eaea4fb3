//! The in-memory tree of the v2 store, and its records on disk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::NodeView;

/// A file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A file and its value: bytes, as Go's strings are (what a client sends is kept
    /// whole, valid UTF-8 or not).
    File(Vec<u8>),
    /// A directory and its children by name.
    Dir(BTreeMap<String, Node>),
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Index of the write that created it.
    pub created: u64,
    /// Index of its last write.
    pub modified: u64,
    /// Expiry in milliseconds since the Unix epoch.
    pub expire_at: Option<u64>,
    /// File or directory.
    pub kind: Kind,
}

/// A node as stored: one record per node, keyed by its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The value of a file; `None` for a directory.
    pub value: Option<Vec<u8>>,
    /// See [`Node::created`].
    pub created: u64,
    /// See [`Node::modified`].
    pub modified: u64,
    /// See [`Node::expire_at`].
    pub expire_at: Option<u64>,
}

/// The non-empty names of `path`, root first.
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// `parent` joined with `name`.
pub fn join(parent: &str, name: &str) -> String {
    if parent.ends_with('/') { format!("{parent}{name}") } else { format!("{parent}/{name}") }
}

/// Whether a node's own name hides it from listings.
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('_')
}

impl Node {
    /// A new node written at `index`.
    pub fn new(kind: Kind, index: u64, expire_at: Option<u64>) -> Self {
        Self { created: index, modified: index, expire_at, kind }
    }

    /// An empty directory written at `index`.
    pub fn dir(index: u64) -> Self {
        Self::new(Kind::Dir(BTreeMap::new()), index, None)
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }

    /// The value of a file ("" for a directory, as etcd's nodes have).
    pub fn value(&self) -> &[u8] {
        match &self.kind {
            Kind::File(v) => v,
            Kind::Dir(_) => b"",
        }
    }

    /// The record to store for it.
    pub fn record(&self) -> Record {
        Record {
            value: match &self.kind {
                Kind::File(v) => Some(v.clone()),
                Kind::Dir(_) => None,
            },
            created: self.created,
            modified: self.modified,
            expire_at: self.expire_at,
        }
    }

    /// The node a record describes (a directory without its children).
    pub fn from_record(r: Record) -> Self {
        let kind = match r.value {
            Some(v) => Kind::File(v),
            None => Kind::Dir(BTreeMap::new()),
        };
        Self { created: r.created, modified: r.modified, expire_at: r.expire_at, kind }
    }

    /// How a response shows the node at `path`: a directory's visible children only with
    /// `recursive` (the top of a GET lists them regardless, see the store).
    pub fn view(&self, path: &str, recursive: bool) -> NodeView {
        let mut v = self.bare_view(path);
        if recursive {
            v.nodes = self.children_view(path, true);
        }
        v
    }

    /// The node without children.
    pub fn bare_view(&self, path: &str) -> NodeView {
        NodeView {
            key: if path == "/" { String::new() } else { path.to_string() },
            value: match &self.kind {
                Kind::File(v) => Some(v.clone()),
                Kind::Dir(_) => None,
            },
            dir: self.is_dir(),
            expire_at: self.expire_at,
            nodes: None,
            modified_index: self.modified,
            created_index: self.created,
        }
    }

    /// The visible children of a directory (sorted by name), `None` for a file.
    pub fn children_view(&self, path: &str, recursive: bool) -> Option<Vec<NodeView>> {
        let Kind::Dir(children) = &self.kind else { return None };
        Some(
            children
                .iter()
                .filter(|(name, _)| !is_hidden(name))
                .map(|(name, child)| child.view(&join(path, name), recursive))
                .collect(),
        )
    }

    /// Every path in the subtree at `path`, children before their parent, with expiries.
    pub fn subtree(&self, path: &str, out: &mut Vec<(String, Option<u64>)>) {
        if let Kind::Dir(children) = &self.kind {
            for (name, child) in children {
                child.subtree(&join(path, name), out);
            }
        }
        out.push((path.to_string(), self.expire_at));
    }
}
