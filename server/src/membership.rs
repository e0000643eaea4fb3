//! Who the members are, with ids derived the way etcd derives them, so ids look and
//! behave like etcd's for the same URLs and cluster token.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::config::Config;
use crate::raft::types::PeerNode;
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Meta key holding this member's identity.
const META_IDENTITY: &[u8] = b"membership.identity";
/// Meta key holding the members a restored data dir starts its new cluster with.
const META_BOOTSTRAP: &[u8] = b"membership.bootstrap";

/// Which member this is, of which cluster. Fixed for the life of the data dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The cluster id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
}

/// The members `initial-cluster` names, by id.
pub fn initial_members(config: &Config) -> BTreeMap<u64, PeerNode> {
    config
        .initial_cluster
        .iter()
        .map(|(name, urls)| {
            (member_id(urls, &config.initial_cluster_token), PeerNode { name: name.clone(), peer_urls: urls.clone() })
        })
        .collect()
}

/// The identity a new cluster's member derives from its configuration.
pub fn bootstrap_identity(config: &Config) -> Identity {
    let members = initial_members(config);
    let ids: Vec<u64> = members.keys().copied().collect();
    Identity {
        cluster_id: cluster_id(&ids),
        member_id: member_id(&config.initial_advertise_peer_urls, &config.initial_cluster_token),
    }
}

/// The stored identity, if this data dir has one.
pub fn load<B: Backend>(backend: &B) -> Result<Option<Identity>, StorageError> {
    match backend.get(Tree::Meta, META_IDENTITY)? {
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| StorageError::Corrupt { tree: Tree::Meta.name(), reason: format!("identity: {e}") }),
        None => Ok(None),
    }
}

/// Stores the identity durably.
pub fn store<B: Backend>(backend: &B, id: Identity) -> Result<(), StorageError> {
    let mut batch = WriteBatch::default();
    batch.put(Tree::Meta, META_IDENTITY, serde_json::to_vec(&id).map_err(|e| StorageError::Engine(e.to_string()))?);
    backend.write(batch)?;
    backend.flush()
}

/// Records the members a data dir made by `snapshot restore` bootstraps its cluster
/// with on first start (ignored once the member's log holds anything).
pub fn store_bootstrap<B: Backend>(backend: &B, members: &BTreeMap<u64, PeerNode>) -> Result<(), StorageError> {
    let mut batch = WriteBatch::default();
    batch.put(
        Tree::Meta,
        META_BOOTSTRAP,
        serde_json::to_vec(members).map_err(|e| StorageError::Engine(e.to_string()))?,
    );
    backend.write(batch)?;
    backend.flush()
}

/// The members recorded by [`store_bootstrap`], if any.
pub fn pending_bootstrap<B: Backend>(backend: &B) -> Result<Option<BTreeMap<u64, PeerNode>>, StorageError> {
    match backend.get(Tree::Meta, META_BOOTSTRAP)? {
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| StorageError::Corrupt { tree: Tree::Meta.name(), reason: format!("bootstrap members: {e}") }),
        None => Ok(None),
    }
}

/// etcd's member id: the first 8 bytes (big endian) of SHA-1 over the sorted peer URLs and
/// the cluster token (or, for a member added at runtime, the time it was added).
pub fn member_id(peer_urls: &[String], salt: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut h = Sha1::new();
    for u in &urls {
        h.update(u.as_bytes());
    }
    h.update(salt.as_bytes());
    first_u64(&h.finalize())
}

/// etcd's cluster id: the first 8 bytes of SHA-1 over the sorted member ids (8 bytes each,
/// big endian).
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut h = Sha1::new();
    for id in ids {
        h.update(id.to_be_bytes());
    }
    first_u64(&h.finalize())
}

fn first_u64(digest: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_etcd() {
        // Values from a real etcd 3.4.23 member with this peer URL and the default token.
        let m = member_id(&["http://127.0.0.1:23800".to_string()], "etcd-cluster");
        assert_eq!(format!("{m:x}"), "2e1259d415f2a040");
        assert_eq!(format!("{:x}", cluster_id(&[m])), "48276a8f75b6a87");
    }

    #[test]
    fn identity_is_stored_once() -> Result<(), Box<dyn std::error::Error>> {
        let backend = crate::storage::SledBackend::temporary()?;
        assert_eq!(load(&backend)?, None);
        let id = Identity { cluster_id: 1, member_id: 2 };
        store(&backend, id)?;
        assert_eq!(load(&backend)?, Some(id));
        Ok(())
    }
}
