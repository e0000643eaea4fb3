//! The leader's lease clocks. Which leases exist is replicated state; when each one runs
//! out is known only to the leader, as in etcd: it starts every lease's clock at its full
//! TTL when it takes office (so a failover never shortens a lease), restarts a clock on
//! every keep-alive, and revokes expired leases through the log.

use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::{Node, Proposal};
use crate::command::CommandResponse;
use crate::error::{Error, Result};

/// A keep-alive waiting for its round: the lease, and where its granted TTL goes (`None`
/// when the lease does not exist).
pub type RenewWaiter = (i64, oneshot::Sender<Result<Option<i64>>>);

/// Most keep-alives forwarded to the leader in one message.
const MAX_RENEWALS_PER_ROUND: usize = 1024;

/// The leader's clocks, valid for one term.
#[derive(Debug, Default)]
pub struct Lessor {
    term: u64,
    expiries: HashMap<i64, Instant>,
}

fn after(ttl: i64) -> Instant {
    Instant::now() + Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

/// Whole seconds left, rounded down (etcd truncates too).
fn seconds_left(at: Instant) -> i64 {
    i64::try_from(at.saturating_duration_since(Instant::now()).as_secs()).unwrap_or(i64::MAX)
}

impl Node {
    /// The clocks, reset when the term changed since they were last used.
    fn lessor(&self) -> MutexGuard<'_, Lessor> {
        let term = self.term();
        let mut l = self.lessor.lock().unwrap_or_else(|p| p.into_inner());
        if l.term != term {
            l.term = term;
            l.expiries.clear();
        }
        l
    }

    /// On the leader: starts clocks for new leases, forgets revoked ones, and returns the
    /// leases whose time is up. Elsewhere: nothing.
    pub fn expired_leases(&self) -> Vec<i64> {
        if !self.leads() {
            return Vec::new();
        }
        let leases: Vec<(i64, i64)> = self.read().mvcc().leases().all().collect();
        let mut l = self.lessor();
        l.expiries.retain(|id, _| leases.iter().any(|(l, _)| l == id));
        for (id, ttl) in leases {
            l.expiries.entry(id).or_insert_with(|| after(ttl));
        }
        let now = Instant::now();
        let mut expired: Vec<i64> = l.expiries.iter().filter(|(_, at)| **at <= now).map(|(id, _)| *id).collect();
        expired.sort_unstable();
        expired
    }

    /// Every lease, as LeaseLeases lists them: soonest expiry first on the leader (etcd's
    /// order), by id elsewhere (only the leader keeps clocks).
    pub fn leases_by_expiry(&self) -> Vec<i64> {
        let leases: Vec<(i64, i64)> = self.read().mvcc().leases().all().collect();
        if !self.leads() {
            return leases.into_iter().map(|(id, _)| id).collect();
        }
        let l = self.lessor();
        let mut by_expiry: Vec<(Instant, i64)> = leases
            .into_iter()
            .map(|(id, ttl)| (l.expiries.get(&id).copied().unwrap_or_else(|| after(ttl)), id))
            .collect();
        by_expiry.sort_unstable();
        by_expiry.into_iter().map(|(_, id)| id).collect()
    }

    /// Keeps a lease alive: its granted TTL, or `None` if it does not exist. On the leader
    /// this restarts the clock at once; a follower forwards keep-alives to the leader in
    /// rounds (every keep-alive that arrived while the last round was out goes in the next
    /// one message), as read indexes are fetched.
    pub async fn renew_lease(&self, id: i64) -> Result<Option<i64>> {
        if self.leads() {
            return Ok(self.renew_lease_here(id).map(|(granted, _)| granted));
        }
        let (tx, rx) = oneshot::channel();
        self.renewals.send((id, tx)).map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    pub(super) async fn renewal_rounds(self, mut rx: mpsc::UnboundedReceiver<RenewWaiter>) {
        while let Some(first) = rx.recv().await {
            let mut waiters = vec![first];
            while waiters.len() < MAX_RENEWALS_PER_ROUND
                && let Ok(w) = rx.try_recv()
            {
                waiters.push(w);
            }
            let ids = waiters.iter().map(|(id, _)| *id).collect();
            let ttls = match self.submit(Proposal::LeaseRenew { ids }).await {
                Ok(Ok(CommandResponse::LeaseTtls(ttls))) if ttls.len() == waiters.len() => Ok(ttls),
                Ok(Ok(other)) => Err(Error::Storage(format!("lease renewal answered with {other:?}"))),
                Ok(Err(e)) | Err(e) => Err(e),
            };
            for (i, (_, reply)) in waiters.into_iter().enumerate() {
                let ttl = ttls.as_ref().map(|t| t[i].map(|(granted, _)| granted)).map_err(Clone::clone);
                reply.send(ttl).ok();
            }
        }
    }

    /// Restarts a lease's clock (as the leader): its granted TTL, or `None` if there is no
    /// such lease.
    pub(super) fn renew_lease_here(&self, id: i64) -> Option<(i64, i64)> {
        let ttl = self.read().mvcc().leases().ttl(id)?;
        self.lessor().expiries.insert(id, after(ttl));
        crate::metrics::metrics().lease_renewed.inc();
        Some((ttl, ttl))
    }

    /// A lease's granted and remaining TTL (as the leader).
    pub(super) fn lease_ttl_here(&self, id: i64) -> Option<(i64, i64)> {
        let ttl = self.read().mvcc().leases().ttl(id)?;
        // A lease granted a moment ago may not have a clock yet: it starts now.
        let remaining = seconds_left(*self.lessor().expiries.entry(id).or_insert_with(|| after(ttl)));
        Some((ttl, remaining))
    }
}
