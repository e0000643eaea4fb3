//! etcd-rs: an etcd-compatible key-value store.
//!
//! The crate is layered so that the logic never sees a protocol type:
//! - [`storage`]: the durable engine behind a trait (sled today).
//! - [`mvcc`]: etcd's v3 key space: revisions, history, ranges, txns, compaction.
//! - [`command`], [`state_machine`], [`raft`], [`node`]: the write path (propose →
//!   replicated log → apply) and linearizable reads.
//! - [`membership`], [`config`]: who the member is and how it was configured.
//! - [`api`]: the only place that knows gRPC and HTTP; it converts and maps errors.
//! - [`server`]: binds the listeners and runs a member.
//!
//! See ARCHITECTURE.md at the repository root for the invariants.

pub mod alarm;
pub mod api;
pub mod calendar;
pub mod command;
pub mod compactor;
pub mod concurrency;
pub mod config;
pub mod corruption;
pub mod error;
pub mod membership;
pub mod metrics;
pub mod mvcc;
pub mod node;
pub mod quota;
pub mod raft;
pub mod restore;
pub mod server;
pub mod snapshot_file;
pub mod state_machine;
pub mod storage;
pub mod transport;
pub mod v2store;
pub mod watch;

/// The etcd release whose API etcd-rs serves; clients read it from Status and /version.
pub const ETCD_VERSION: &str = "3.4.23";
/// The cluster version etcd 3.4 reports in /version.
pub const ETCD_CLUSTER_VERSION: &str = "3.4.0";
/// This build of etcd-rs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
