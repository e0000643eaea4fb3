//! etcd's v2 key space: a tree of directories and files with TTLs, in-order keys,
//! compare-and-swap and long-poll watches. Plain Rust: the HTTP API in `api::v2` parses
//! requests into [`V2Write`]s, which travel through the log like every other change.

mod error;
mod event;
mod history;
mod node;
mod request;
mod saved_history;
mod stats;
mod store;
mod text;
mod watch;

pub use error::{Code, V2Error};
pub use event::{Action, Event, NodeView};
pub use history::{HISTORY_CAPACITY, HistoryCopy};
pub use node::Record;
pub use request::{Method, V2Write};
pub use stats::{Counter, Stats};
pub use store::V2Store;
pub use text::text;
pub use watch::Watch;

/// Cleans a key path as Go's `path.Clean("/" + key)` does: one leading `/`, no empty,
/// `.` or trailing segments, `..` resolved (never above the root).
pub fn clean_path(key: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in key.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests;
