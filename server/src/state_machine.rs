//! Applies committed log entries, in log order, to the member's state.
//!
//! Each entry's writes land in order, followed by a progress marker holding the applied
//! log id (etcd's consistent index), so after a crash the member knows exactly which
//! entries to apply again. A run of v3 key changes shares one marker (see
//! [`StateMachine::apply`]). Nothing is flushed here: the log is the durability point.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::EntryPayload;
use serde::{Deserialize, Serialize};

use crate::alarm::Alarms;
use crate::command::{Command, CommandResponse, Reply};
use crate::error::Error;
use crate::mvcc::{Discarded, MvccSnapshot, MvccStore, RecordScan, Revisions};
use crate::raft::types::{Entry, LogId, StoredMembership, decode, encode};
use crate::storage::{Backend, StorageError, Tree, WriteBatch};
use crate::v2store::{HistoryCopy, Record, V2Store};

/// An apply slower than this counts in `etcd_server_slow_apply_total` (etcd's
/// `warnApplyDuration`).
const SLOW_APPLY: Duration = Duration::from_millis(100);

/// Meta key: [`Progress`], written after the entries it covers.
const META_PROGRESS: &[u8] = b"progress";
/// Meta key: the last applied membership.
const META_MEMBERSHIP: &[u8] = b"raft.membership";
/// Meta key: what members published about themselves.
const META_PUBLISHED: &[u8] = b"members.published";
/// Meta key: the ids of the members removed from the cluster.
const META_REMOVED: &[u8] = b"members.removed";
/// Meta key: the active alarms.
const META_ALARMS: &[u8] = b"alarms";

/// What a member announced about itself through the log.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Published {
    /// Its name.
    pub name: String,
    /// Its client URLs.
    pub client_urls: Vec<String>,
}

/// How far the state has got: the commit marker of the applied entries. It is written
/// after the entries' other writes, so whatever a crash left of unfinished entries is
/// recognised (records above `revisions.current`) and the entries are applied again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Progress {
    applied: Option<LogId>,
    revisions: Revisions,
}

/// The whole replicated state, as a snapshot carries it; `M` is its MVCC part (see
/// [`MvccSnapshot`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct StateSnapshot<M = MvccSnapshot> {
    pub(crate) mvcc: M,
    pub(crate) published: BTreeMap<u64, Published>,
    pub(crate) v2: Vec<(String, Record)>,
    /// The v2 event history; none in a snapshot file (the history of a restored member
    /// starts at its snapshot).
    pub(crate) v2_history: Option<HistoryCopy>,
    pub(crate) alarms: Alarms,
    /// The ids of the members removed; none in a snapshot file (a restored member starts
    /// a new cluster).
    pub(crate) removed: BTreeSet<u64>,
    /// The index of the last entry applied into it (etcd's consistent index); not
    /// installed: a restored or installed member has its own log.
    pub(crate) consistent_index: u64,
}

impl StateSnapshot {
    /// The same snapshot, its `records` MVCC records to be read from `backend` as it is
    /// encoded, skipping the `discarded` ones (see [`MvccSnapshot::scanning`]).
    pub fn scanning<B: Backend>(
        self,
        backend: &B,
        records: usize,
        discarded: Discarded,
    ) -> StateSnapshot<MvccSnapshot<RecordScan<'_, B>>> {
        let Self { mvcc, published, v2, v2_history, alarms, removed, consistent_index } = self;
        let mvcc = mvcc.scanning(backend, records, discarded);
        StateSnapshot { mvcc, published, v2, v2_history, alarms, removed, consistent_index }
    }
}

/// A member's replicated state.
pub struct StateMachine<B> {
    mvcc: MvccStore<B>,
    v2: V2Store,
    applied: Option<LogId>,
    membership: StoredMembership,
    published: BTreeMap<u64, Published>,
    /// The ids of the members removed from the cluster, as etcd keeps them
    /// (`members_removed`): a request naming one is told so.
    removed: BTreeSet<u64>,
    alarms: Alarms,
    /// Entries were applied since the progress marker was last written.
    marker_due: bool,
}

fn meta<B: Backend, T: serde::de::DeserializeOwned>(b: &B, key: &[u8]) -> Result<Option<T>, StorageError> {
    match b.get(Tree::Meta, key)? {
        Some(v) => {
            decode(&v).map(Some).map_err(|e| StorageError::Corrupt { tree: Tree::Meta.name(), reason: e.to_string() })
        }
        None => Ok(None),
    }
}

fn storage(e: std::io::Error) -> Error {
    Error::Storage(e.to_string())
}

impl<B: Backend> StateMachine<B> {
    /// Loads the state from `backend`.
    pub fn open(backend: Arc<B>) -> Result<Self, Error> {
        let progress: Progress = meta(&*backend, META_PROGRESS)?.unwrap_or_default();
        let v2 = V2Store::open(&*backend, progress.applied.map_or(0, |l| l.index))?;
        Ok(Self {
            v2,
            applied: progress.applied,
            membership: meta(&*backend, META_MEMBERSHIP)?.unwrap_or_default(),
            published: meta(&*backend, META_PUBLISHED)?.unwrap_or_default(),
            removed: meta(&*backend, META_REMOVED)?.unwrap_or_default(),
            alarms: meta(&*backend, META_ALARMS)?.unwrap_or_default(),
            mvcc: MvccStore::open(backend, progress.revisions)?,
            marker_due: false,
        })
    }

    /// The v3 key space.
    pub fn mvcc(&self) -> &MvccStore<B> {
        &self.mvcc
    }

    /// Notes that records compactions discarded are removed from the backend now.
    pub fn discarded_removed(&mut self, revs: &[crate::mvcc::Revision]) {
        self.mvcc.discarded_removed(revs);
    }

    /// The v2 key space.
    pub fn v2(&self) -> &V2Store {
        &self.v2
    }

    /// The index of the last applied entry: the v2 store's current index.
    pub fn applied_index(&self) -> u64 {
        self.applied.map_or(0, |l| l.index)
    }

    /// The last applied log id.
    pub fn applied(&self) -> Option<&LogId> {
        self.applied.as_ref()
    }

    /// The last applied membership.
    pub fn membership(&self) -> &StoredMembership {
        &self.membership
    }

    /// What members published about themselves, by member id.
    pub fn published(&self) -> &BTreeMap<u64, Published> {
        &self.published
    }

    /// The ids of the members removed from the cluster.
    pub fn removed(&self) -> &BTreeSet<u64> {
        &self.removed
    }

    /// The active alarms.
    pub fn alarms(&self) -> &Alarms {
        &self.alarms
    }

    /// Applies one log entry. A command the store rejects (e.g. a compaction below the
    /// compacted revision) still consumes its entry: every member rejects it alike. An
    /// `Err` is a storage failure, after which the member must stop.
    ///
    /// Entries that only add v3 records (puts, deletes, txns; blank entries) leave the
    /// progress marker to a later entry or to [`StateMachine::write_progress`]: a crash
    /// before it drops every record above the marker's revision, so the whole run applies
    /// again from the same state. Every other entry writes the marker at once, because its
    /// writes (v2 nodes, leases, members) are not keyed by revision and are only safe to
    /// apply again on top of the state they were first applied to.
    pub fn apply(&mut self, entry: Entry) -> Result<Reply, Error> {
        let started = Instant::now();
        let reply = self.apply_entry(entry);
        if started.elapsed() > SLOW_APPLY {
            crate::metrics::metrics().slow_applies.inc();
        }
        reply
    }

    fn apply_entry(&mut self, entry: Entry) -> Result<Reply, Error> {
        let mut batch = WriteBatch::default();
        let defer_marker = matches!(
            entry.payload,
            EntryPayload::Blank | EntryPayload::Normal(Command::Put(_) | Command::DeleteRange(_) | Command::Txn(_))
        );
        let reply = match entry.payload {
            EntryPayload::Blank => Ok(CommandResponse::Noop),
            EntryPayload::Membership(m) => {
                let before = self.membership.membership().nodes().map(|(id, _)| *id).collect::<BTreeSet<u64>>();
                let gone: Vec<u64> = before.into_iter().filter(|id| m.get_node(id).is_none()).collect();
                if !gone.is_empty() {
                    self.removed.extend(gone);
                    batch.put(Tree::Meta, META_REMOVED, encode(&self.removed).map_err(storage)?);
                }
                self.membership = StoredMembership::new(Some(entry.log_id), m);
                batch.put(Tree::Meta, META_MEMBERSHIP, encode(&self.membership).map_err(storage)?);
                Ok(CommandResponse::Noop)
            }
            EntryPayload::Normal(Command::PublishMember { id, name, client_urls }) => {
                self.published.insert(id, Published { name, client_urls });
                batch.put(Tree::Meta, META_PUBLISHED, encode(&self.published).map_err(storage)?);
                Ok(CommandResponse::Published)
            }
            EntryPayload::Normal(Command::V2(w)) => {
                self.v2.apply(&w, entry.log_id.index, &mut batch)?.map(CommandResponse::V2).map_err(Error::V2)
            }
            EntryPayload::Normal(Command::V2Expire { path, now }) => {
                Ok(match self.v2.expire(&path, now, entry.log_id.index, &mut batch)? {
                    Some(e) => CommandResponse::V2(e),
                    None => CommandResponse::Noop,
                })
            }
            EntryPayload::Normal(Command::Alarm { activate, alarm }) => {
                let changed = if activate {
                    self.alarms.activate(alarm);
                    true
                } else {
                    self.alarms.deactivate(alarm)
                };
                batch.put(Tree::Meta, META_ALARMS, encode(&self.alarms).map_err(storage)?);
                Ok(CommandResponse::Alarms(if changed { vec![alarm] } else { Vec::new() }))
            }
            EntryPayload::Normal(cmd) => match self.alarms.refusal(&cmd) {
                Some(refused) => Err(refused),
                None => self.apply_mvcc(&cmd, &mut batch)?,
            },
        };
        self.applied = Some(entry.log_id);
        self.marker_due = defer_marker;
        if !defer_marker {
            batch.put(Tree::Meta, META_PROGRESS, self.progress()?);
        }
        self.mvcc.backend().write_in_order(batch)?;
        Ok(reply)
    }

    /// Writes the progress marker if entries were applied since it was last written. The
    /// owner calls it after each run of applies, before anything relies on the marker
    /// (a snapshot, a flush at shutdown).
    pub fn write_progress(&mut self) -> Result<(), Error> {
        if self.marker_due {
            let mut batch = WriteBatch::default();
            batch.put(Tree::Meta, META_PROGRESS, self.progress()?);
            self.mvcc.backend().write_in_order(batch)?;
            self.marker_due = false;
        }
        Ok(())
    }

    fn progress(&self) -> Result<Vec<u8>, Error> {
        encode(&Progress { applied: self.applied, revisions: self.mvcc.revisions() }).map_err(storage)
    }

    /// Applies a command of the v3 key space. The outer `Err` is a storage failure, after
    /// which the member must stop: the in-memory index would be ahead of the disk.
    fn apply_mvcc(&mut self, cmd: &Command, batch: &mut WriteBatch) -> Result<Reply, Error> {
        let mut w = self.mvcc.write(batch);
        let out = match cmd {
            Command::Put(r) => w.put(r).map(CommandResponse::Put),
            Command::DeleteRange(r) => w.delete_range(r).map(CommandResponse::DeleteRange),
            Command::Txn(r) => w.txn(r).map(CommandResponse::Txn),
            Command::Compact(r) => w.compact(r).map(CommandResponse::Compact),
            // The revision is known once the change ends.
            Command::LeaseGrant { id, ttl } => {
                w.lease_grant(*id, *ttl).map(|()| CommandResponse::Lease { revision: 0 })
            }
            Command::LeaseRevoke { id } => w.lease_revoke(*id).map(|_| CommandResponse::Lease { revision: 0 }),
            Command::PublishMember { .. } | Command::V2(_) | Command::V2Expire { .. } | Command::Alarm { .. } => {
                Ok(CommandResponse::Noop)
            }
        };
        let end = w.end();
        if out.is_ok() {
            let m = crate::metrics::metrics();
            match cmd {
                Command::LeaseGrant { id, .. } => {
                    m.lease_granted.inc();
                    if let Some(ttl) = self.mvcc.leases().ttl(*id) {
                        m.lease_ttl.observe(ttl as f64);
                    }
                }
                Command::LeaseRevoke { .. } => m.lease_revoked.inc(),
                _ => {}
            }
        }
        match out {
            Err(Error::Storage(e)) => Err(Error::Storage(e)),
            Ok(CommandResponse::Lease { .. }) => Ok(Ok(CommandResponse::Lease { revision: end })),
            out => Ok(out),
        }
    }

    /// A point-in-time copy of the replicated state but for the MVCC records, which
    /// [`MvccSnapshot::read_records`] reads later, skipping the records discarded as of
    /// now (none may be swept meanwhile).
    pub fn snapshot(&self) -> StateSnapshot {
        StateSnapshot {
            mvcc: self.mvcc.export(),
            published: self.published.clone(),
            v2: self.v2.export(),
            v2_history: Some(self.v2.export_history()),
            alarms: self.alarms.clone(),
            removed: self.removed.clone(),
            consistent_index: self.applied_index(),
        }
    }

    /// Replaces the whole state with a snapshot taken at `applied` under `membership`.
    pub fn install(
        &mut self,
        snap: StateSnapshot,
        applied: Option<LogId>,
        membership: StoredMembership,
    ) -> Result<(), Error> {
        let applying = &crate::metrics::metrics().snapshot_applying;
        applying.set(1);
        let installed = self.install_state(snap, applied, membership);
        applying.set(0);
        installed
    }

    fn install_state(
        &mut self,
        snap: StateSnapshot,
        applied: Option<LogId>,
        membership: StoredMembership,
    ) -> Result<(), Error> {
        let mut batch = WriteBatch::default();
        let revisions = Revisions { current: snap.mvcc.current(), compacted: snap.mvcc.compacted() };
        batch.put(Tree::Meta, META_PROGRESS, encode(&Progress { applied, revisions }).map_err(storage)?);
        batch.put(Tree::Meta, META_MEMBERSHIP, encode(&membership).map_err(storage)?);
        batch.put(Tree::Meta, META_PUBLISHED, encode(&snap.published).map_err(storage)?);
        batch.put(Tree::Meta, META_ALARMS, encode(&snap.alarms).map_err(storage)?);
        batch.put(Tree::Meta, META_REMOVED, encode(&snap.removed).map_err(storage)?);
        let index = applied.map_or(0, |l| l.index);
        self.v2.import(&**self.mvcc.backend(), snap.v2, snap.v2_history.as_ref(), index, &mut batch)?;
        let counts = self.mvcc.op_counts().clone();
        self.mvcc = MvccStore::import(self.mvcc.backend().clone(), snap.mvcc, batch)?;
        self.mvcc.adopt_op_counts(counts);
        self.applied = applied;
        self.marker_due = false;
        self.membership = membership;
        self.published = snap.published;
        self.alarms = snap.alarms;
        self.removed = snap.removed;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
