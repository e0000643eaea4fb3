//! `etcd_network_peer_*`: the bytes of Raft messages this member sent to and received from
//! each other member, and the sends that failed, labelled by the member's id in hex as
//! etcd labels them.

use prometheus::IntCounter;

use super::peer::PeerError;
use crate::metrics::metrics;

/// The traffic with one member.
#[derive(Clone)]
pub struct PeerTraffic {
    /// The member's id, as the labels have it.
    peer: String,
    sent: IntCounter,
    received: IntCounter,
}

impl PeerTraffic {
    /// The counters of member `id`.
    pub fn with(id: u64) -> Self {
        let peer = format!("{id:x}");
        let m = metrics();
        Self {
            sent: m.peer_sent_bytes.with_label_values(&[&peer]),
            received: m.peer_received_bytes.with_label_values(&[&peer]),
            peer,
        }
    }

    /// Counts a message of `bytes` sent to the member.
    pub fn sent(&self, bytes: usize) {
        self.sent.inc_by(bytes as u64);
    }

    /// Counts a message of `bytes` received from the member.
    pub fn received(&self, bytes: usize) {
        self.received.inc_by(bytes as u64);
    }

    /// Counts a failed send and passes the error on. The member's failure series appears
    /// with its first failure, as etcd's does.
    pub fn failed(&self, e: PeerError) -> PeerError {
        metrics().peer_sent_failures.with_label_values(&[&self.peer]).inc();
        e
    }
}
