//! Watchers against a real store on a temporary sled database.

use std::sync::Arc;

use super::*;
use crate::mvcc::{CompactRequest, DeleteRangeRequest, MvccStore, PutRequest, Revisions};
use crate::storage::{Backend, SledBackend, WriteBatch};

type Store = MvccStore<SledBackend>;

fn store() -> Store {
    MvccStore::open(Arc::new(SledBackend::temporary().expect("sled")), Revisions::default()).expect("open")
}

fn put(s: &mut Store, k: &str, v: &str) {
    let mut batch = WriteBatch::default();
    let mut w = s.write(&mut batch);
    w.put(&PutRequest { key: k.into(), value: v.into(), ..Default::default() }).expect("put");
    w.end();
    s.backend().write(batch).expect("write");
}

fn delete(s: &mut Store, k: &str) {
    let mut batch = WriteBatch::default();
    let mut w = s.write(&mut batch);
    w.delete_range(&DeleteRangeRequest { key: k.into(), ..Default::default() }).expect("delete");
    w.end();
    s.backend().write(batch).expect("write");
}

fn events(d: &[Delivery], id: i64) -> Vec<(bool, String, i64, Option<String>)> {
    d.iter()
        .filter_map(|d| match d {
            Delivery::Events { watch_id, events } if *watch_id == id => Some(events),
            _ => None,
        })
        .flatten()
        .map(|e| {
            let prev = e.prev_kv.as_ref().map(|p| String::from_utf8_lossy(&p.value).into_owned());
            (e.deleted, String::from_utf8_lossy(&e.kv.key).into_owned(), e.kv.mod_revision, prev)
        })
        .collect()
}

#[test]
fn key_prefix_filters_and_prev_kv() {
    let mut s = store();
    let mut set = WatcherSet::default();
    let key = set.create(CreateWatch { key: "a".into(), prev_kv: true, ..Default::default() }, 1).expect("key");
    let prefix = set.create(CreateWatch { key: "a".into(), range_end: "b".into(), ..Default::default() }, 1);
    let prefix = prefix.expect("prefix");
    let no_put = CreateWatch { key: "\0".into(), range_end: "\0".into(), no_put: true, ..Default::default() };
    let no_put = set.create(no_put, 1).expect("all, deletes only");
    assert_eq!((key, prefix, no_put), (0, 1, 2), "server-chosen ids count from 0");
    put(&mut s, "a", "1"); // rev 2
    put(&mut s, "ab", "2"); // rev 3
    put(&mut s, "a", "3"); // rev 4
    delete(&mut s, "a"); // rev 5
    let d = set.poll(&s).expect("poll");
    assert_eq!(
        events(&d, key),
        [
            (false, "a".into(), 2, None),
            (false, "a".into(), 4, Some("1".into())),
            (true, "a".into(), 5, Some("3".into()))
        ]
    );
    assert_eq!(events(&d, prefix).len(), 4);
    assert_eq!(events(&d, no_put), [(true, "a".into(), 5, None)]);
    assert!(set.poll(&s).expect("poll").is_empty(), "nothing twice");
    assert!(set.synced(s.current_revision()));
}

#[test]
fn start_revision_replays_and_compaction_cancels() {
    let mut s = store();
    for i in 0..5 {
        put(&mut s, "k", &i.to_string()); // revs 2..=6
    }
    let mut set = WatcherSet::default();
    let from3 = set.create(CreateWatch { key: "k".into(), start_revision: 3, ..Default::default() }, 6).expect("w");
    let d = set.poll(&s).expect("poll");
    assert_eq!(events(&d, from3).iter().map(|e| e.2).collect::<Vec<_>>(), [3, 4, 5, 6]);
    let mut batch = WriteBatch::default();
    let mut w = s.write(&mut batch);
    w.compact(&CompactRequest { revision: 5, physical: false }).expect("compact");
    w.end();
    s.backend().write(batch).expect("write");
    let old = set.create(CreateWatch { key: "k".into(), start_revision: 2, watch_id: 9, ..Default::default() }, 6);
    assert_eq!(old, Ok(9));
    assert_eq!(set.create(CreateWatch { watch_id: 9, ..Default::default() }, 6), Err(WatchError::DuplicateId));
    let d = set.poll(&s).expect("poll");
    assert_eq!(d, [Delivery::Compacted { watch_id: 9, compact_revision: 5 }]);
    assert_eq!(set.len(), 1);
}

#[test]
fn a_lagging_watcher_catches_up_in_bounded_steps() {
    let mut s = store();
    let mut set = WatcherSet::default();
    let id = set.create(CreateWatch { key: "k".into(), ..Default::default() }, 1).expect("w");
    let n = MAX_REVISIONS_PER_POLL + 10;
    for i in 0..n {
        put(&mut s, "k", &i.to_string());
    }
    let first = events(&set.poll(&s).expect("poll"), id).len() as i64;
    let second = events(&set.poll(&s).expect("poll"), id).len() as i64;
    assert_eq!((first, second), (MAX_REVISIONS_PER_POLL, 10));
    assert!(set.cancel(id) && !set.cancel(id));
}

#[test]
fn a_watcher_created_with_history_after_the_others_caught_up_gets_it() {
    let mut s = store();
    let mut set = WatcherSet::default();
    let now = set.create(CreateWatch { key: "k".into(), ..Default::default() }, 1).expect("w");
    put(&mut s, "k", "1"); // rev 2
    assert_eq!(events(&set.poll(&s).expect("poll"), now).len(), 1);
    assert!(set.poll(&s).expect("poll").is_empty(), "everyone has seen rev 2");
    let replay = set.create(CreateWatch { key: "k".into(), start_revision: 1, ..Default::default() }, 2);
    let replay = replay.expect("w");
    let d = set.poll(&s).expect("poll");
    assert_eq!(events(&d, replay), [(false, "k".into(), 2, None)]);
    assert!(events(&d, now).is_empty(), "the other watcher is not sent rev 2 again");
}

#[test]
fn a_watcher_created_while_the_group_lags_sees_only_later_changes() {
    let mut s = store();
    let mut set = WatcherSet::default();
    let a = set.create(CreateWatch { key: "a".into(), ..Default::default() }, 1).expect("w");
    put(&mut s, "a", "1"); // rev 2
    put(&mut s, "b", "1"); // rev 3, before the next watcher exists
    let b = set.create(CreateWatch { key: "b".into(), ..Default::default() }, 3).expect("w");
    let d = set.poll(&s).expect("poll");
    assert_eq!(events(&d, a), [(false, "a".into(), 2, None)]);
    assert!(events(&d, b).is_empty(), "rev 3 came before watcher b");
    put(&mut s, "b", "2"); // rev 4
    let d = set.poll(&s).expect("poll");
    assert_eq!((events(&d, a).len(), events(&d, b)), (0, vec![(false, "b".into(), 4, None)]));
    assert!(set.synced(4));
}

#[test]
fn a_watcher_replaying_history_joins_live_watchers_without_gaps_or_repeats() {
    let mut s = store();
    let mut set = WatcherSet::default();
    let live = set.create(CreateWatch { key: "k".into(), ..Default::default() }, 1).expect("w");
    let idle: Vec<i64> = (0..100)
        .map(|i| set.create(CreateWatch { key: format!("idle/{i}").into(), ..Default::default() }, 1).expect("w"))
        .collect();
    let n = MAX_REVISIONS_PER_POLL + 10;
    for i in 0..n {
        put(&mut s, "k", &i.to_string()); // revs 2..=n+1
    }
    let from_start = set.create(CreateWatch { key: "k".into(), start_revision: 2, ..Default::default() }, n + 1);
    let from_start = from_start.expect("w");
    let (mut seen_live, mut seen_replay) = (Vec::new(), Vec::new());
    let mut more = |set: &mut WatcherSet, s: &Store| loop {
        let d = set.poll(s).expect("poll");
        if d.is_empty() {
            break;
        }
        assert!(idle.iter().all(|id| events(&d, *id).is_empty()), "no event for watchers of other keys");
        seen_live.extend(events(&d, live).into_iter().map(|e| e.2));
        seen_replay.extend(events(&d, from_start).into_iter().map(|e| e.2));
    };
    more(&mut set, &s);
    put(&mut s, "k", "last"); // rev n+2: both are synced now
    more(&mut set, &s);
    let all: Vec<i64> = (2..=n + 2).collect();
    assert_eq!((seen_live == all, seen_replay == all), (true, true));
    assert!(set.synced(n + 2));
}

#[test]
fn an_empty_stretch_of_history_is_not_taken_for_caught_up() {
    let mut s = store();
    let n = 2 * MAX_REVISIONS_PER_POLL + 500;
    for i in 0..n {
        put(&mut s, "x", &i.to_string()); // revs 2..=n+1
    }
    put(&mut s, "k", "v"); // rev n+2
    let mut set = WatcherSet::default();
    let w = set.create(CreateWatch { key: "k".into(), start_revision: 1, ..Default::default() }, n + 2).expect("w");
    assert!(set.poll(&s).expect("poll").is_empty(), "the first stretch has nothing for k");
    assert!(!set.synced(n + 2), "but the watcher has not seen rev {}", n + 2);
    let mut got = Vec::new();
    while !set.synced(n + 2) {
        got.extend(events(&set.poll(&s).expect("poll"), w));
    }
    assert_eq!(got, [(false, "k".into(), n + 2, None)]);
}

#[test]
fn a_client_chosen_id_of_i64_max_is_accepted() {
    let mut set = WatcherSet::default();
    assert_eq!(set.create(CreateWatch { key: "a".into(), watch_id: i64::MAX, ..Default::default() }, 1), Ok(i64::MAX));
    assert_eq!(set.create(CreateWatch { key: "b".into(), ..Default::default() }, 1), Ok(0));
    assert!(set.cancel(i64::MAX) && set.cancel(0));
}

/// etcd 3.4 answers creates of ids 5, auto, auto with 5, 0, 1 (its `/v3/watch` gateway).
#[test]
fn server_ids_skip_client_ids_without_jumping_past_them() {
    let mut set = WatcherSet::default();
    let create =
        |set: &mut WatcherSet, watch_id| set.create(CreateWatch { key: "a".into(), watch_id, ..Default::default() }, 1);
    assert_eq!(create(&mut set, 2), Ok(2));
    assert_eq!(create(&mut set, 0), Ok(0));
    assert_eq!(create(&mut set, 0), Ok(1));
    assert_eq!(create(&mut set, 0), Ok(3), "2 is the client's");
    assert_eq!(create(&mut set, 1), Err(WatchError::DuplicateId));
}
