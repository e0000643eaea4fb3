//! Leases as part of the replicated key space: which leases exist (with their granted
//! TTL) and which live keys each one holds. Expiry is not here: it is decided by the
//! leader's lessor (`node::lessor`) and arrives as a revoke through the log.
//!
//! Grants are stored one record per lease; attachments are not stored at all but follow
//! from the keys' latest records, so they roll back together with them after a crash.

use std::collections::{BTreeMap, BTreeSet};

use super::key_range::prefix_end;
use super::key_value::Record;
use super::store::MvccStore;
use super::write::WriteTxn;
use super::{DeleteRangeRequest, KeyValue};
use crate::error::{Error, Result};
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// Meta keys of lease records: this prefix and the id (big endian).
const LEASE_PREFIX: &[u8] = b"lease/";

fn lease_key(id: i64) -> Vec<u8> {
    let mut k = LEASE_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The leases and their keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Leases {
    /// Granted TTL (seconds) by lease id.
    granted: BTreeMap<i64, i64>,
    /// Live keys by lease.
    keys: BTreeMap<i64, BTreeSet<Vec<u8>>>,
    /// The lease of each live key that has one.
    lease_of: BTreeMap<Vec<u8>, i64>,
}

impl Leases {
    /// Loads the lease records of `backend`.
    pub fn load<B: Backend>(backend: &B) -> Result<Self, StorageError> {
        let mut leases = Self::default();
        backend.scan(Tree::Meta, LEASE_PREFIX.to_vec()..prefix_end(LEASE_PREFIX), &mut |k, v| {
            let id = k.get(LEASE_PREFIX.len()..).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(i64::from_be_bytes);
            let ttl = <[u8; 8]>::try_from(v).ok().map(i64::from_be_bytes);
            match (id, ttl) {
                (Some(id), Some(ttl)) => {
                    leases.granted.insert(id, ttl);
                    Ok(true)
                }
                _ => Err(StorageError::Corrupt { tree: Tree::Meta.name(), reason: "bad lease record".into() }),
            }
        })?;
        Ok(leases)
    }

    /// Queues the replacement of every stored lease with `leases` (id, TTL).
    pub fn replace<B: Backend>(backend: &B, leases: &[(i64, i64)], batch: &mut WriteBatch) -> Result<(), StorageError> {
        for (id, _) in Self::load(backend)?.all() {
            batch.delete(Tree::Meta, lease_key(id));
        }
        for (id, ttl) in leases {
            batch.put(Tree::Meta, lease_key(*id), ttl.to_be_bytes().to_vec());
        }
        Ok(())
    }

    /// Follows a key's newest record (in revision order) for attachments.
    pub fn track(&mut self, record: &Record) {
        let key = &record.kv.key;
        if let Some(old) = self.lease_of.remove(key)
            && let Some(set) = self.keys.get_mut(&old)
        {
            set.remove(key);
            if set.is_empty() {
                self.keys.remove(&old);
            }
        }
        if !record.tombstone && record.kv.lease != 0 {
            self.lease_of.insert(key.clone(), record.kv.lease);
            self.keys.entry(record.kv.lease).or_default().insert(key.clone());
        }
    }

    /// Whether the lease exists.
    pub fn contains(&self, id: i64) -> bool {
        self.granted.contains_key(&id)
    }

    /// The granted TTL of a lease.
    pub fn ttl(&self, id: i64) -> Option<i64> {
        self.granted.get(&id).copied()
    }

    /// Every lease with its granted TTL.
    pub fn all(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.granted.iter().map(|(id, ttl)| (*id, *ttl))
    }

    /// The live keys attached to a lease, in key order.
    pub fn keys(&self, id: i64) -> Vec<Vec<u8>> {
        self.keys.get(&id).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

impl<B: Backend> MvccStore<B> {
    /// The leases.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }
}

impl<B: Backend> WriteTxn<'_, B> {
    /// Creates a lease.
    pub fn lease_grant(&mut self, id: i64, ttl: i64) -> Result<()> {
        if self.store().leases.contains(id) {
            return Err(Error::LeaseExists);
        }
        self.store_mut().leases.granted.insert(id, ttl);
        self.batch_mut().put(Tree::Meta, lease_key(id), ttl.to_be_bytes().to_vec());
        Ok(())
    }

    /// Deletes a lease and, in one revision, every key attached to it. A lease whose
    /// record is gone but whose keys are still attached (a revoke cut short by a crash)
    /// is revoked again.
    pub fn lease_revoke(&mut self, id: i64) -> Result<Vec<KeyValue>> {
        let keys = self.store().leases.keys(id);
        if !self.store().leases.contains(id) && keys.is_empty() {
            return Err(Error::LeaseNotFound);
        }
        let mut deleted = Vec::new();
        for key in keys {
            let resp = self.delete_range(&DeleteRangeRequest { key, range_end: Vec::new(), prev_kv: true })?;
            deleted.extend(resp.prev_kvs);
        }
        self.store_mut().leases.granted.remove(&id);
        // After the tombstones: if this record is gone, they were written too.
        self.batch_mut().delete(Tree::Meta, lease_key(id));
        Ok(deleted)
    }
}
