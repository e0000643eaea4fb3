//! What the log carries: every change to a member's state is one [`Command`].

use serde::{Deserialize, Serialize};

use crate::alarm::Alarm;
use crate::mvcc::{
    CompactRequest, CompactResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, TxnRequest,
    TxnResponse,
};
use crate::v2store::{Event, V2Write};

/// A change, proposed to the log and applied in log order on every member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// v3 Put.
    Put(PutRequest),
    /// v3 DeleteRange.
    DeleteRange(DeleteRangeRequest),
    /// v3 Txn.
    Txn(TxnRequest),
    /// v3 Compact.
    Compact(CompactRequest),
    /// Create a lease (the id is chosen by the proposer).
    LeaseGrant {
        /// Its id.
        id: i64,
        /// Its TTL in seconds.
        ttl: i64,
    },
    /// Delete a lease and its keys (by a client, or by the leader when it expired).
    LeaseRevoke {
        /// Its id.
        id: i64,
    },
    /// A v2 write.
    V2(V2Write),
    /// The leader found the TTL of the v2 node at `path` run out at `now` (milliseconds
    /// since the Unix epoch).
    V2Expire {
        /// The node.
        path: String,
        /// The leader's clock.
        now: u64,
    },
    /// Raise (`activate`) or clear an alarm.
    Alarm {
        /// Raise rather than clear.
        activate: bool,
        /// The alarm.
        alarm: Alarm,
    },
    /// A member announces the name and client URLs it serves (etcd publishes these
    /// through the log too, so every member lists the same).
    PublishMember {
        /// The member's id.
        id: u64,
        /// Its name.
        name: String,
        /// Its advertised client URLs.
        client_urls: Vec<String>,
    },
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Put(r) => write!(f, "put {}", String::from_utf8_lossy(&r.key)),
            Command::DeleteRange(r) => write!(f, "delete {}", String::from_utf8_lossy(&r.key)),
            Command::Txn(r) => write!(f, "txn ({} compares)", r.compare.len()),
            Command::Compact(r) => write!(f, "compact {}", r.revision),
            Command::LeaseGrant { id, ttl } => write!(f, "lease grant {id:x} ttl {ttl}"),
            Command::LeaseRevoke { id } => write!(f, "lease revoke {id:x}"),
            Command::V2(w) => write!(f, "v2 {:?} {}", w.method, w.path),
            Command::V2Expire { path, .. } => write!(f, "v2 expire {path}"),
            Command::PublishMember { id, .. } => write!(f, "publish member {id:x}"),
            Command::Alarm { activate, alarm } => {
                write!(
                    f,
                    "{} alarm {} of {:x}",
                    if *activate { "raise" } else { "clear" },
                    alarm.kind.name(),
                    alarm.member
                )
            }
        }
    }
}

/// The outcome of applying a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResponse {
    /// From a put.
    Put(PutResponse),
    /// From a delete.
    DeleteRange(DeleteRangeResponse),
    /// From a txn.
    Txn(TxnResponse),
    /// From a compaction.
    Compact(CompactResponse),
    /// From a lease grant or revoke: the store revision after it.
    Lease {
        /// The store revision after the change.
        revision: i64,
    },
    /// From a lease lookup on the leader: the granted and remaining TTLs (`None` when the
    /// lease does not exist).
    LeaseTtl(Option<(i64, i64)>),
    /// From lease renewals on the leader, in the order asked.
    LeaseTtls(Vec<Option<(i64, i64)>>),
    /// From a v2 write or expiry.
    V2(Event),
    /// From an alarm change: the alarm, if it was raised or cleared (etcd answers nothing
    /// when clearing an alarm that was not active).
    Alarms(Vec<Alarm>),
    /// From a member publication.
    Published,
    /// From a log entry that carries no command (a new leader's blank entry, or a
    /// membership change).
    Noop,
}

/// What a proposer gets back: the response, or the error every member met applying it.
pub type Reply = Result<CommandResponse, crate::error::Error>;

impl Command {
    /// Encodes for the log.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        bincode::serde::encode_to_vec(self, bincode::config::standard()).map_err(|e| e.to_string())
    }

    /// Decodes [`Command::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard()).map(|(c, _)| c).map_err(|e| e.to_string())
    }
}
