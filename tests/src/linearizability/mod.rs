//! A linearizability checker for recorded client histories, after Wing & Gong and Lowe
//! (WGL) with the memoisation of Horn & Kroening, as porcupine and etcd's robustness
//! tests use it.
//!
//! A test records every operation its clients made ([`Operation`]: when it was called, when
//! it returned, what it asked and what it got, or that its outcome is unknown), then asks
//! [`check`] whether some order of the operations, consistent with real time, explains
//! every answer under a sequential [`Model`]. Histories are split by
//! [`Model::partition`] and each part is searched alone (P-compositionality), which keeps
//! the search small when every operation touches one key.
//!
//! [`KeyModel`] is etcd's key as a register: get, put, compare-and-swap (a txn comparing
//! the value) and delete. [`revisions_respect_real_time`] checks what the model leaves out,
//! the store revision in each response header, and [`check_watch_logs`] etcd's watch
//! guarantees on what watchers saw of the same history.

mod history;
mod kv_model;
mod revisions;
mod watch_log;
mod wgl;

pub use history::Operation;
pub use kv_model::{KeyInput, KeyModel, KeyOp, KeyOutput};
pub use revisions::{Stamp, revisions_respect_real_time};
pub use watch_log::{Span, WatchEvent, WatchLog, check_watch_logs};
pub use wgl::{Model, Violation, check};
