//! `snapshot restore`: a new member's data dir from a snapshot file, holding every key,
//! lease and revision of the snapshot, and the members of the new cluster it bootstraps
//! on first start (as etcd's restore writes a data dir per member of a new cluster).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::membership::{self, Identity};
use crate::raft::types::StoredMembership;
use crate::snapshot_file;
use crate::state_machine::StateMachine;

/// etcdctl's restore flags.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// `--name`.
    pub name: String,
    /// `--initial-cluster`.
    pub initial_cluster: String,
    /// `--initial-cluster-token`.
    pub initial_cluster_token: String,
    /// `--initial-advertise-peer-urls`.
    pub initial_advertise_peer_urls: String,
    /// `--data-dir` (default `<name>.etcd`).
    pub data_dir: Option<PathBuf>,
    /// Compare the file's SHA-256 trailer (off with `--skip-hash-check`).
    pub verify_hash: bool,
}

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Bad flags, with the reason.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// etcd refuses to restore over an existing data dir.
    #[error("data-dir {0:?} exists")]
    DataDirExists(PathBuf),
    /// The snapshot file.
    #[error(transparent)]
    File(#[from] snapshot_file::SnapshotFileError),
    /// Writing the data dir.
    #[error("{0}")]
    Storage(String),
}

impl From<crate::error::Error> for RestoreError {
    fn from(e: crate::error::Error) -> Self {
        RestoreError::Storage(e.to_string())
    }
}

impl From<crate::storage::StorageError> for RestoreError {
    fn from(e: crate::storage::StorageError) -> Self {
        RestoreError::Storage(e.to_string())
    }
}

/// Builds the data dir; returns where it is and the member's identity.
pub fn restore(file: &[u8], opts: &RestoreOptions) -> Result<(PathBuf, Identity), RestoreError> {
    let mut pairs = vec![
        ("name", opts.name.clone()),
        ("initial-cluster", opts.initial_cluster.clone()),
        ("initial-cluster-token", opts.initial_cluster_token.clone()),
        ("initial-advertise-peer-urls", opts.initial_advertise_peer_urls.clone()),
    ];
    if let Some(dir) = &opts.data_dir {
        pairs.push(("data-dir", dir.display().to_string()));
    }
    let config = Config::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_string(), v)))?;
    if config.data_dir.exists() {
        return Err(RestoreError::DataDirExists(config.data_dir));
    }
    let snap = snapshot_file::decode(file, opts.verify_hash)?;
    let backend = Arc::new(crate::server::open_backend(&config.data_dir).map_err(RestoreError::Storage)?);
    let mut state = StateMachine::open(backend.clone())?;
    state.install(snap, None, StoredMembership::default())?;
    let identity = membership::bootstrap_identity(&config);
    membership::store_bootstrap(&*backend, &membership::initial_members(&config))?;
    membership::store(&*backend, identity)?;
    Ok((config.data_dir, identity))
}
