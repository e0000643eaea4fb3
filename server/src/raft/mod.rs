//! Consensus: openraft wired to our storage, state machine and peer transport.
//!
//! Everything openraft-specific lives here, so API churn in the (pinned, alpha) crate
//! stays in one place.

pub mod join;
pub mod log_purger;
pub mod log_store;
pub mod network;
pub mod peer;
mod rate_window;
pub mod snapshot_data;
pub mod state_machine;
pub mod stats;
pub mod traffic;
pub mod types;

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::SnapshotPolicy;

use crate::error::Error;
use crate::node::Node;
use crate::storage::SledBackend;
use log_store::LogStore;
use network::Network;
use state_machine::SmStore;
use stats::PeerStats;
use types::{PeerNode, Raft};

/// Log entries kept behind a snapshot, so a follower a little behind catches up from the
/// log rather than a snapshot, and a slow snapshot install is not overtaken (etcd keeps
/// 5000 too). Never more than `snapshot-count`, so a small count really bounds the log.
const LOG_KEPT_AFTER_SNAPSHOT: u64 = 5000;

/// Purgeable log entries that make a purge worth it.
const PURGE_BATCH: u64 = 4096;

/// Timing and snapshot settings, from etcd's flags.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `heartbeat-interval`, ms.
    pub heartbeat_ms: u64,
    /// `election-timeout`, ms.
    pub election_ms: u64,
    /// `snapshot-count`: entries between snapshots.
    pub snapshot_count: u64,
}

/// Starts Raft for member `id` on `db`, which holds the log (flushed on every append: the
/// durability point) and the state (its writes become durable with those flushes; a restart
/// re-applies the log past the last progress marker). `bootstrap` holds the initial members of a
/// new cluster; it is used only if this member's log is still empty, so a restarted
/// member ignores it, as etcd ignores its bootstrap flags.
pub async fn start(
    db: Arc<SledBackend>,
    id: u64,
    cluster_id: u64,
    settings: Settings,
    bootstrap: Option<BTreeMap<u64, PeerNode>>,
) -> Result<Node, Error> {
    let config = openraft::Config {
        cluster_name: format!("{cluster_id:x}"),
        heartbeat_interval: settings.heartbeat_ms,
        election_timeout_min: settings.election_ms,
        election_timeout_max: settings.election_ms * 2,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_count.max(1)),
        max_in_snapshot_log_to_keep: LOG_KEPT_AFTER_SNAPSHOT.min(settings.snapshot_count),
        // Each purge writes the purge point and wakes the purger: not for every few entries.
        // Never more than `snapshot-count` either: a small count means a small log, and with
        // 4,096 up to that many entries would stay behind every snapshot.
        purge_batch_size: PURGE_BATCH.min(settings.snapshot_count).max(1),
        // Standard Raft: a restarted leader wins an election before it leads again. Our
        // state machine and committed index are flushed lazily, so restoring leadership
        // without one could serve a state older than what was acknowledged.
        enable_leader_restore: Some(false),
        ..Default::default()
    }
    .validate()
    .map_err(|e| Error::Storage(format!("raft configuration: {e}")))?;
    let sm = SmStore::open(db.clone())?;
    let log = LogStore::new(db).map_err(|e| Error::Storage(e.to_string()))?;
    let log_removed = log.removed();
    let stats = Arc::new(PeerStats::default());
    let network = Network { cluster_id, stats: stats.clone() };
    let raft =
        Raft::new(id, Arc::new(config), network, log, sm.clone()).await.map_err(|e| Error::Storage(e.to_string()))?;
    if let Some(members) = bootstrap {
        let initialized = raft.is_initialized().await.map_err(|e| Error::Storage(e.to_string()))?;
        if !initialized {
            // Every initial member initializes with the same membership; all but the
            // first to get there are told NotAllowed, which is fine.
            if let Err(e) = raft.initialize(members).await {
                tracing::debug!(error = %e, "initialize");
            }
        }
    }
    Ok(Node::new(raft, sm, log_removed, id, cluster_id, stats))
}

#[cfg(test)]
mod conformance;
