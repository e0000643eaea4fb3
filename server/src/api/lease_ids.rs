//! Server-chosen lease ids, and granting leases through the log (LeaseGrant, and the
//! sessions of Lock and Campaign calls that bring no lease).

use std::sync::atomic::{AtomicU64, Ordering};

use tonic::Status;

use super::status::status;
use super::{Context, mismatch};
use crate::command::{Command, CommandResponse};
use crate::concurrency;
use crate::error::Error;

/// etcd's largest lease TTL (`lease.MaxLeaseTTL`), in seconds.
const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Server-chosen lease ids, as etcd's `idutil.Generator` makes them: the member id's low
/// 16 bits, then a counter that starts at the current time in milliseconds. One per
/// member, shared by every service that grants leases (Lease over gRPC and the gateway,
/// Lock and Election sessions), so that two of them never pick the same id.
pub struct LeaseIds {
    prefix: u64,
    suffix: AtomicU64,
}

impl LeaseIds {
    /// The generator of member `member_id`.
    pub fn new(member_id: u64) -> Self {
        let ms = crate::calendar::now_ms();
        Self { prefix: (member_id & 0xffff) << 48, suffix: AtomicU64::new((ms & 0xff_ffff_ffff) << 8) }
    }

    fn next(&self) -> i64 {
        let suffix = self.suffix.fetch_add(1, Ordering::Relaxed) + 1;
        ((self.prefix | (suffix & 0xffff_ffff_ffff)) & (i64::MAX as u64)) as i64
    }
}

/// A lease the log granted.
pub struct Granted {
    /// Its id.
    pub id: i64,
    /// Its TTL in seconds, after raising it to the minimum.
    pub ttl: i64,
    /// The store revision after the grant.
    pub revision: i64,
}

impl Context {
    /// Grants lease `id` (0: one the server picks) for `ttl` seconds, as LeaseGrant does.
    pub async fn grant_lease(&self, id: i64, ttl: i64) -> Result<Granted, Status> {
        if ttl > MAX_LEASE_TTL {
            return Err(status(Error::LeaseTtlTooLarge));
        }
        let id = if id != 0 { id } else { self.lease_ids.next() };
        // As etcd, a TTL below what survives an election is raised to it.
        let ttl = ttl.max(self.min_lease_ttl);
        match self.propose(Command::LeaseGrant { id, ttl }).await? {
            CommandResponse::Lease { revision } => Ok(Granted { id, ttl, revision }),
            _ => Err(mismatch()),
        }
    }

    /// The lease a Lock, Campaign, Proclaim or Resign runs with: the client's, or with 0 a
    /// new one for [`concurrency::SESSION_TTL`] seconds, as etcd's servers open a session
    /// for each. Without it every such locker would share the key `<name>/0`, and all
    /// would hold the lock.
    pub async fn session_lease(&self, lease: i64) -> Result<i64, Status> {
        if lease != 0 {
            return Ok(lease);
        }
        Ok(self.grant_lease(0, concurrency::SESSION_TTL).await?.id)
    }
}

#[cfg(test)]
mod tests {
    use super::LeaseIds;

    #[test]
    fn ids_are_positive_unique_and_carry_the_member() {
        let g = LeaseIds::new(0x8e9e_05c5_2164_694d);
        let (a, b) = (g.next(), g.next());
        assert!(a > 0 && b == a + 1);
        assert_eq!((a as u64) >> 48, 0x694d);
    }
}
