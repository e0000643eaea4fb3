//! Crash recovery around the progress marker (what a crash leaves of entries applied
//! after the last marker is applied again to the same result), and the members removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use openraft::Membership;
use openraft::entry::RaftEntry;

use super::StateMachine;
use crate::command::Command;
use crate::mvcc::{PutRequest, RangeRequest};
use crate::raft::types::{Entry, LogId, PeerNode};
use crate::storage::{Backend, SledBackend};
use crate::v2store::{Method, V2Write};

fn open(dir: &Path) -> StateMachine<SledBackend> {
    StateMachine::open(Arc::new(SledBackend::open(dir).expect("open backend"))).expect("open state")
}

fn entry(index: u64, cmd: Command) -> Entry {
    Entry::new_normal(LogId::new_term_index(1, index), cmd)
}

fn put(index: u64, value: &str) -> Entry {
    entry(index, Command::Put(PutRequest { key: b"k".to_vec(), value: value.into(), ..Default::default() }))
}

fn v2_set(index: u64, path: &str) -> Entry {
    entry(index, Command::V2(V2Write { value: "v".into(), ..V2Write::new(Method::Put, path) }))
}

/// The value, mod revision and version of `k`, if it exists.
fn k(sm: &StateMachine<SledBackend>) -> Option<(Vec<u8>, i64, i64)> {
    let got = sm.mvcc().range(&RangeRequest { key: b"k".to_vec(), ..Default::default() }).expect("range");
    got.kvs.into_iter().next().map(|kv| (kv.value, kv.mod_revision, kv.version))
}

/// Stops as a crash would: whatever was written reaches the disk, nothing more is written.
fn crash(sm: StateMachine<SledBackend>) {
    sm.mvcc().backend().flush().expect("flush");
}

#[test]
fn a_crash_before_the_marker_drops_the_whole_run_and_it_applies_again_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sm = open(dir.path());
    sm.apply(v2_set(1, "/a")).expect("apply").expect("v2 set");
    sm.apply(put(2, "one")).expect("apply").expect("put");
    sm.apply(put(3, "two")).expect("apply").expect("put");
    assert_eq!(k(&sm), Some((b"two".to_vec(), 3, 2)));
    crash(sm);

    let mut sm = open(dir.path());
    assert_eq!(sm.applied_index(), 1, "the marker is the v2 entry's");
    assert_eq!(sm.mvcc().current_revision(), 1);
    assert_eq!(k(&sm), None, "records of the unmarked run are dropped");
    assert!(sm.v2().get("/a", false, 1).is_ok());
    sm.apply(put(2, "one")).expect("apply").expect("put");
    sm.apply(put(3, "two")).expect("apply").expect("put");
    sm.write_progress().expect("marker");
    assert_eq!(k(&sm), Some((b"two".to_vec(), 3, 2)), "same revisions as the first time");
    crash(sm);

    let sm = open(dir.path());
    assert_eq!(sm.applied_index(), 3);
    assert_eq!(k(&sm), Some((b"two".to_vec(), 3, 2)));
}

#[test]
fn an_entry_that_is_not_a_v3_change_marks_the_run_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sm = open(dir.path());
    sm.apply(put(1, "one")).expect("apply").expect("put");
    sm.apply(put(2, "two")).expect("apply").expect("put");
    // A v2 write is not keyed by revision: applying it twice could differ (a
    // compare-and-swap, an in-order key), so it must never be left unmarked.
    sm.apply(v2_set(3, "/a")).expect("apply").expect("v2 set");
    crash(sm);

    let sm = open(dir.path());
    assert_eq!(sm.applied_index(), 3);
    assert_eq!(k(&sm), Some((b"two".to_vec(), 3, 2)));
    assert!(sm.v2().get("/a", false, 3).is_ok());
}

/// A membership entry whose voters are `ids`.
fn members(index: u64, ids: &[u64]) -> Entry {
    joint(index, &[ids])
}

/// A membership entry with one voter set per config (two: openraft's joint step of a
/// change), whose nodes are all the voters named.
fn joint(index: u64, configs: &[&[u64]]) -> Entry {
    let node = |id: u64| (id, PeerNode { name: format!("m{id}"), peer_urls: vec![format!("http://127.0.0.1:{id}")] });
    let nodes: BTreeMap<u64, PeerNode> = configs.iter().flat_map(|c| c.iter()).map(|id| node(*id)).collect();
    let configs = configs.iter().map(|c| c.iter().copied().collect()).collect();
    let m = Membership::new(configs, nodes).expect("membership");
    Entry::new_membership(LogId::new_term_index(1, index), m)
}

#[test]
fn members_removed_are_remembered_across_restarts_and_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sm = open(dir.path());
    sm.apply(members(1, &[1, 2, 3])).expect("apply").expect("bootstrap");
    assert!(sm.removed().is_empty());
    sm.apply(members(2, &[1, 2, 3, 4])).expect("apply").expect("add");
    sm.apply(members(3, &[1, 3, 4])).expect("apply").expect("remove 2");
    // openraft removes a voter in two steps: the joint config still holds it.
    sm.apply(joint(4, &[&[1, 3, 4], &[1, 4]])).expect("apply").expect("joint");
    assert_eq!(sm.removed(), &BTreeSet::from([2]), "not removed while the joint config holds it");
    sm.apply(members(5, &[1, 4])).expect("apply").expect("remove 3");
    assert_eq!(sm.removed(), &BTreeSet::from([2, 3]));
    crash(sm);

    let sm = open(dir.path());
    assert_eq!(sm.removed(), &BTreeSet::from([2, 3]), "kept across a restart");
    // A member far behind installs a snapshot: it knows them too.
    let snap = sm.snapshot();
    let other = tempfile::tempdir().expect("tempdir");
    let mut follower = open(other.path());
    follower.install(snap, sm.applied().cloned(), sm.membership().clone()).expect("install");
    assert_eq!(follower.removed(), &BTreeSet::from([2, 3]));
    crash(follower);
    assert_eq!(open(other.path()).removed(), &BTreeSet::from([2, 3]), "the installed ones are kept");
}
