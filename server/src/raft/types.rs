//! The Raft type configuration: what the log carries and how members are named.

use serde::{Deserialize, Serialize};

use crate::command::{Command, Reply};

/// What the cluster knows about a member at the Raft level: enough to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The member's name from `initial-cluster` (empty for a member added at runtime until
    /// it publishes itself).
    pub name: String,
    /// Its peer URLs.
    pub peer_urls: Vec<String>,
}

openraft::declare_raft_types!(
    /// etcd-rs's Raft types: commands in, replies out, etcd member ids as node ids, and
    /// etcd-style log ids (term, index).
    pub TypeConfig:
        D = Command,
        R = Reply,
        NodeId = u64,
        Node = PeerNode,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
);

/// A log id: (term, index).
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// A log entry.
pub type Entry = <TypeConfig as openraft::RaftTypeConfig>::Entry;
/// A vote.
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
/// Membership as stored with the log id that set it.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// A snapshot: its metadata, and the state it covers (see [`SnapshotData`]).
///
/// [`SnapshotData`]: super::snapshot_data::SnapshotData
pub type Snapshot<B = crate::storage::SledBackend> =
    openraft::type_config::alias::SnapshotOf<TypeConfig, super::snapshot_data::SnapshotData<B>>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig, super::state_machine::SmStore>;

/// Encodes a value for the peer protocol or for storage.
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, std::io::Error> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).map_err(std::io::Error::other)
}

/// The length of [`encode`]'s output, found without keeping it.
pub fn encoded_len<T: Serialize>(v: &T) -> usize {
    bincode::serde::encode_into_std_write(v, &mut std::io::sink(), bincode::config::standard()).unwrap_or(usize::MAX)
}

/// [`encode`], writing to `out` as it goes (for values too large to hold encoded).
pub fn encode_into<T: Serialize>(v: &T, mut out: &mut dyn std::io::Write) -> Result<(), std::io::Error> {
    bincode::serde::encode_into_std_write(v, &mut out, bincode::config::standard())
        .map(|_| ())
        .map_err(std::io::Error::other)
}

/// Decodes [`encode`] as it reads it from `from`.
pub fn decode_from<T: serde::de::DeserializeOwned>(from: &mut impl std::io::Read) -> Result<T, std::io::Error> {
    bincode::serde::decode_from_std_read(from, bincode::config::standard())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Decodes [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, std::io::Error> {
    bincode::serde::decode_from_slice(b, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
