//! Who the members are, and their ids derived the way etcd derives them, so ids look and
//! behave like etcd's for the same URLs and cluster token.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::config::Config;
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Meta key holding the cluster as this member last knew it.
const META_CLUSTER: &[u8] = b"membership.cluster";

/// One member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Member id.
    pub id: u64,
    /// Human name (`--name`).
    pub name: String,
    /// URLs peers reach it on.
    pub peer_urls: Vec<String>,
    /// URLs clients reach it on.
    pub client_urls: Vec<String>,
    /// Whether it is a non-voting learner.
    pub is_learner: bool,
}

/// The cluster as this member knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Cluster id.
    pub id: u64,
    /// This member's id.
    pub local: u64,
    /// Every member, sorted by id.
    pub members: Vec<Member>,
}

impl Cluster {
    /// This member.
    pub fn local_member(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.id == self.local)
    }
}

/// The cluster from `initial-cluster`, as a new member bootstraps it.
pub fn bootstrap(config: &Config) -> Cluster {
    let mut members: Vec<Member> = config
        .initial_cluster
        .iter()
        .map(|(name, urls)| Member {
            id: member_id(urls, &config.initial_cluster_token),
            name: name.clone(),
            peer_urls: urls.clone(),
            // Only our own client URLs are known before the others start.
            client_urls: if *name == config.name {
                config.advertise_client_urls.clone()
            } else {
                Vec::new()
            },
            is_learner: false,
        })
        .collect();
    members.sort_by_key(|m| m.id);
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    let local = members
        .iter()
        .find(|m| m.name == config.name)
        .map_or(0, |m| m.id);
    Cluster {
        id: cluster_id(&ids),
        local,
        members,
    }
}

/// The stored cluster if the data dir has one (a restart: bootstrap settings are ignored,
/// as etcd ignores them), else a bootstrapped one, stored durably before it is used.
pub fn load_or_bootstrap<B: Backend>(
    backend: &B,
    config: &Config,
) -> Result<Cluster, StorageError> {
    if let Some(bytes) = backend.get(Tree::Meta, META_CLUSTER)? {
        return serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
            tree: Tree::Meta.name(),
            reason: format!("stored membership: {e}"),
        });
    }
    let cluster = bootstrap(config);
    let mut batch = WriteBatch::default();
    let json = serde_json::to_vec(&cluster).map_err(|e| StorageError::Engine(e.to_string()))?;
    batch.put(Tree::Meta, META_CLUSTER, json);
    backend.write(batch)?;
    backend.flush()?;
    Ok(cluster)
}

/// etcd's member id: the first 8 bytes (big endian) of SHA-1 over the sorted peer URLs and
/// the cluster token.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut h = Sha1::new();
    for u in &urls {
        h.update(u.as_bytes());
    }
    h.update(token.as_bytes());
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
    fn identity_survives_a_restart_with_other_flags() -> Result<(), Box<dyn std::error::Error>> {
        let backend = crate::storage::SledBackend::temporary()?;
        let pairs = |name: &str, url: &str| {
            vec![
                ("name".to_string(), name.to_string()),
                ("initial-advertise-peer-urls".to_string(), url.to_string()),
                ("initial-cluster".to_string(), format!("{name}={url}")),
            ]
        };
        let first = load_or_bootstrap(
            &backend,
            &Config::from_pairs(pairs("a", "http://127.0.0.1:23800"))?,
        )?;
        assert_eq!(format!("{:x}", first.local), "2e1259d415f2a040");
        let again = load_or_bootstrap(
            &backend,
            &Config::from_pairs(pairs("b", "http://127.0.0.1:9"))?,
        )?;
        assert_eq!(again, first);
        Ok(())
    }
}
