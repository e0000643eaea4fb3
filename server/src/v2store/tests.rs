//! The v2 store against etcd's action and error tables.

use super::*;
use crate::storage::{Backend, SledBackend, Tree, WriteBatch, WriteOp};

struct T {
    backend: SledBackend,
    store: V2Store,
    index: u64,
}

fn t() -> T {
    let backend = SledBackend::temporary().expect("temporary sled");
    let store = V2Store::open(&backend, 0).expect("open");
    T { backend, store, index: 0 }
}

impl T {
    fn apply(&mut self, w: V2Write) -> Result<Event, V2Error> {
        self.index += 1;
        let mut batch = WriteBatch::default();
        let out = self.store.apply(&w, self.index, &mut batch).expect("storage");
        self.backend.write_in_order(batch).expect("write");
        out
    }
    fn put(&mut self, path: &str, value: &str) -> Result<Event, V2Error> {
        self.apply(V2Write { value: value.into(), ..V2Write::new(Method::Put, path) })
    }
    fn get(&self, path: &str, recursive: bool) -> Result<Event, V2Error> {
        self.store.get(path, recursive, self.index)
    }
    fn reopen(&self) -> V2Store {
        V2Store::open(&self.backend, self.index).expect("reopen")
    }
}

fn code(r: Result<Event, V2Error>) -> (u16, String) {
    let e = r.expect_err("an error");
    (e.code.number(), e.cause)
}

#[test]
fn set_create_update_actions_and_indexes() {
    let mut t = t();
    let e = t.put("/a/b", "1").expect("set");
    assert_eq!(e.action, Action::Set);
    assert!(e.is_created());
    assert_eq!((e.node.created_index, e.node.modified_index), (1, 1));
    let e = t.put("/a/b", "2").expect("set again");
    assert!(!e.is_created());
    assert_eq!(e.prev_node.as_ref().and_then(|p| p.value.clone()).as_deref(), Some(&b"1"[..]));
    // A plain set re-creates the node.
    assert_eq!(e.node.created_index, 2);
    let e = t.apply(V2Write { value: "3".into(), prev_exist: Some(true), ..V2Write::new(Method::Put, "/a/b") });
    let e = e.expect("update");
    assert_eq!((e.action, e.node.created_index, e.node.modified_index), (Action::Update, 2, 3));
    assert_eq!(
        code(t.apply(V2Write { prev_exist: Some(false), ..V2Write::new(Method::Put, "/a/b") })),
        (105, "/a/b".into())
    );
    assert_eq!(
        code(t.apply(V2Write { prev_exist: Some(true), ..V2Write::new(Method::Put, "/x") })),
        (100, "/x".into())
    );
    // Parents made implicitly keep the index of the write that made them.
    let dir = t.get("/a", false).expect("get dir");
    assert!(dir.node.dir);
    assert_eq!(dir.node.created_index, 1);
    assert_eq!(dir.index, t.index);
}

#[test]
fn files_and_directories() {
    let mut t = t();
    t.put("/f", "v").expect("set");
    assert_eq!(code(t.put("/f/x", "v")), (104, "/f".into()));
    assert_eq!(code(t.get("/f/x", false)), (104, "/f".into()));
    assert_eq!(code(t.get("/a/b/c", false)), (100, "/a".into()));
    t.apply(V2Write { dir: true, ..V2Write::new(Method::Put, "/d") }).expect("mkdir");
    assert_eq!(code(t.put("/d", "v")), (102, "/d".into()));
    assert_eq!(code(t.apply(V2Write { dir: true, ..V2Write::new(Method::Put, "/d") })), (102, "/d".into()));
    // A directory over a file replaces it.
    let e = t.apply(V2Write { dir: true, ..V2Write::new(Method::Put, "/f") }).expect("dir over file");
    assert!(e.node.dir && e.prev_node.is_some());
    t.put("/d/x", "1").expect("child");
    assert_eq!(code(t.apply(V2Write::new(Method::Delete, "/d"))), (102, "/d".into()));
    assert_eq!(code(t.apply(V2Write { dir: true, ..V2Write::new(Method::Delete, "/d") })), (108, "/d".into()));
    let e = t.apply(V2Write { recursive: true, ..V2Write::new(Method::Delete, "/d") }).expect("rm -r");
    assert_eq!(e.action, Action::Delete);
    assert!(e.node.dir && e.node.value.is_none());
    assert!(e.prev_node.is_some());
    assert_eq!(code(t.get("/d/x", false)), (100, "/d".into()));
    for w in [V2Write::new(Method::Put, "/"), V2Write { recursive: true, ..V2Write::new(Method::Delete, "/") }] {
        assert_eq!(code(t.apply(w)), (107, "/".into()));
    }
}

#[test]
fn compare_and_swap_and_delete() {
    let mut t = t();
    t.put("/k", "one").expect("set");
    let cas = |v: &str, pi: u64| V2Write {
        value: "two".into(),
        prev_value: v.into(),
        prev_index: pi,
        ..V2Write::new(Method::Put, "/k")
    };
    assert_eq!(code(t.apply(cas("nope", 0))), (101, "[nope != one]".into()));
    assert_eq!(code(t.apply(cas("", 7))), (101, "[7 != 1]".into()));
    assert_eq!(code(t.apply(cas("nope", 7))), (101, "[nope != one] [7 != 1]".into()));
    let e = t.apply(cas("one", 1)).expect("cas");
    assert_eq!(e.action, Action::CompareAndSwap);
    let cad = V2Write { prev_value: "one".into(), ..V2Write::new(Method::Delete, "/k") };
    assert_eq!(code(t.apply(cad)).0, 101);
    let e = t.apply(V2Write { prev_value: "two".into(), ..V2Write::new(Method::Delete, "/k") }).expect("cad");
    assert_eq!(e.action, Action::CompareAndDelete);
    t.apply(V2Write { dir: true, ..V2Write::new(Method::Put, "/d") }).expect("mkdir");
    assert_eq!(code(t.apply(V2Write { prev_index: 1, ..V2Write::new(Method::Delete, "/d") })).0, 102);
}

#[test]
fn in_order_keys_are_named_by_index() {
    let mut t = t();
    t.index = 28;
    let e = t.apply(V2Write { value: "job".into(), ..V2Write::new(Method::Post, "/queue") }).expect("post");
    assert_eq!(e.node.key, "/queue/00000000000000000029");
    assert_eq!(e.action, Action::Create);
    let e = t.apply(V2Write { value: "x".into(), ..V2Write::new(Method::Post, "/") }).expect("post root");
    assert_eq!(e.node.key, "/00000000000000000030");
}

#[test]
fn hidden_keys_are_not_listed() {
    let mut t = t();
    t.put("/d/_hidden", "h").expect("set");
    t.put("/d/shown", "s").expect("set");
    t.put("/d/_hd/x", "x").expect("set");
    let nodes = t.get("/d", true).expect("get").node.nodes.expect("children");
    assert_eq!(nodes.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(), ["/d/shown"]);
    assert_eq!(t.get("/d/_hidden", false).expect("by path").node.value.as_deref(), Some(&b"h"[..]));
}

#[test]
fn ttl_expiry_and_refresh() {
    let mut t = t();
    t.apply(V2Write { value: "v".into(), expire_at: Some(1_000), ..V2Write::new(Method::Put, "/d/k") }).expect("ttl");
    t.apply(V2Write { dir: true, expire_at: Some(5_000), ..V2Write::new(Method::Put, "/e") }).expect("ttl dir");
    t.put("/e/child", "c").expect("child");
    assert_eq!(t.store.expired(999), Vec::<String>::new());
    assert_eq!(t.store.expired(1_000), vec!["/d/k".to_string()]);
    // Refresh keeps the value and the created index of an update.
    let refresh =
        V2Write { prev_exist: Some(true), refresh: true, expire_at: Some(2_000), ..V2Write::new(Method::Put, "/d/k") };
    let e = t.apply(refresh).expect("refresh");
    assert!(e.refresh);
    assert_eq!(e.node.value.as_deref(), Some(&b"v"[..]));
    assert_eq!(t.store.expired(1_500), Vec::<String>::new());
    // Update without a TTL makes the key permanent.
    t.apply(V2Write { value: "w".into(), prev_exist: Some(true), ..V2Write::new(Method::Put, "/d/k") })
        .expect("update");
    assert!(t.store.expired(3_000).is_empty());
    let mut batch = WriteBatch::default();
    t.index += 1;
    let e = t.store.expire("/e", 5_000, t.index, &mut batch).expect("storage").expect("expired");
    assert_eq!((e.action, e.node.dir), (Action::Expire, true));
    assert!(t.store.expire("/d/k", 5_000, t.index, &mut batch).expect("storage").is_none());
    t.backend.write_in_order(batch).expect("write");
    assert_eq!(code(t.get("/e/child", false)).0, 100);
    assert_eq!(code(t.reopen().get("/e", false, t.index)).0, 100);
}

#[test]
fn survives_reopen() {
    let mut t = t();
    t.put("/a/b/c", "1").expect("set");
    t.apply(V2Write { value: "2".into(), expire_at: Some(9), ..V2Write::new(Method::Put, "/a/x") }).expect("ttl");
    t.apply(V2Write { recursive: true, ..V2Write::new(Method::Delete, "/a/b") }).expect("rm");
    let r = t.reopen();
    assert_eq!(r.get("/a", true, 3).expect("get").node, t.get("/a", true).expect("get").node);
    assert_eq!(r.expired(10), vec!["/a/x".to_string()]);
    assert_eq!(r.export(), t.store.export());
}

#[test]
fn watches_see_history_and_new_events() {
    let mut t = t();
    t.put("/w/a", "1").expect("set");
    t.put("/w/b", "2").expect("set");
    // From the history: the first matching event at or after the index.
    let mut w = t.store.watch("/w", true, false, 1, t.index).expect("watch");
    assert_eq!(w.events.try_recv().expect("event").node.key, "/w/a");
    let mut w = t.store.watch("/w/b", false, false, 1, t.index).expect("watch");
    assert_eq!(w.events.try_recv().expect("event").index, 2);
    // Waiting: exact path, recursive parent, and hidden children.
    let mut exact = t.store.watch("/w/c", false, false, 0, t.index).expect("watch");
    let mut parent = t.store.watch("/w", true, false, 0, t.index).expect("watch");
    let mut shallow = t.store.watch("/w", false, false, 0, t.index).expect("watch");
    t.put("/w/_h", "hidden").expect("set");
    assert!(parent.events.try_recv().is_err(), "hidden keys are not sent to recursive watchers");
    t.put("/w/c", "3").expect("set");
    assert_eq!(exact.events.try_recv().expect("exact").node.key, "/w/c");
    assert_eq!(parent.events.try_recv().expect("recursive").node.key, "/w/c");
    assert!(shallow.events.try_recv().is_err());
    // Removing a directory tells watchers of keys inside it.
    let mut inside = t.store.watch("/w/a", false, false, 0, t.index).expect("watch");
    t.apply(V2Write { recursive: true, ..V2Write::new(Method::Delete, "/w") }).expect("rm");
    let e = inside.events.try_recv().expect("parent removal");
    assert_eq!((e.action, e.node.key.as_str()), (Action::Delete, "/w"));
    assert_eq!(shallow.events.try_recv().expect("dir removal").action, Action::Delete);
}

#[test]
fn watcher_count_leaves_out_answered_and_abandoned_watches() {
    let mut t = t();
    let answered = t.store.watch("/c/a", false, false, 0, t.index).expect("watch");
    let abandoned = t.store.watch("/c/b", false, false, 0, t.index).expect("watch");
    let _waiting = t.store.watch("/c", true, true, 0, t.index).expect("watch");
    assert_eq!(t.store.watcher_count(), 3);
    drop(abandoned);
    assert_eq!(t.store.watcher_count(), 2, "a watch whose client left is not counted");
    t.put("/c/a", "1").expect("set");
    drop(answered);
    assert_eq!(t.store.watcher_count(), 1, "a plain watch ends with its event; a stream stays");
}

#[test]
fn watch_before_the_history_is_cleared() {
    let mut t = t();
    for i in 0..(HISTORY_CAPACITY + 5) {
        t.put("/k", &i.to_string()).expect("set");
    }
    let e = t.store.watch("/k", false, false, 3, t.index).expect_err("cleared");
    assert_eq!(e.code.number(), 401);
    assert_eq!(e.cause, "the requested history has been cleared [6/3]");
    assert_eq!(e.index, t.index);
}

/// How many events are saved.
fn saved_events(backend: &SledBackend) -> usize {
    let mut count = 0;
    backend
        .scan(Tree::V2History, .., &mut |_, _| {
            count += 1;
            Ok(true)
        })
        .expect("scan");
    count
}

#[test]
fn the_history_survives_a_restart() {
    let mut t = t();
    let mut last = None;
    for i in 0..(HISTORY_CAPACITY + 5) {
        last = Some(t.put("/k", &i.to_string()).expect("set"));
    }
    // Each event took the place of the one the history dropped for it.
    assert_eq!(saved_events(&t.backend), HISTORY_CAPACITY);
    let r = t.reopen();
    let e = r.watch("/k", false, false, 3, t.index).expect_err("cleared before the restart");
    assert_eq!((e.code.number(), e.cause.as_str()), (401, "the requested history has been cleared [6/3]"));
    let mut w = r.watch("/k", false, false, 6, t.index).expect("the oldest kept event");
    let e = w.events.try_recv().expect("replayed");
    assert_eq!((e.index, e.node.value), (6, Some(b"5".to_vec())));
    let mut w = r.watch("/", true, false, t.index, t.index).expect("the newest event");
    assert_eq!(Some(w.events.try_recv().expect("replayed")), last, "the event as it was first sent");
    // The restarted store goes on around the ring where the first one stopped.
    t.store = r;
    for i in 0..10 {
        last = Some(t.put("/k", &format!("after {i}")).expect("set"));
    }
    assert_eq!(saved_events(&t.backend), HISTORY_CAPACITY);
    let r = t.reopen();
    let e = r.watch("/k", false, false, 15, t.index).expect_err("cleared since");
    assert_eq!(e.cause, "the requested history has been cleared [16/15]");
    let mut w = r.watch("/k", false, false, 16, t.index).expect("the oldest kept event");
    assert_eq!(w.events.try_recv().expect("replayed").index, 16);
    let mut w = r.watch("/k", false, false, t.index, t.index).expect("the newest event");
    assert_eq!(Some(w.events.try_recv().expect("replayed")), last);
}

#[test]
fn a_snapshot_file_without_a_history_restarts_it() {
    let mut t = t();
    t.put("/a", "1").expect("set");
    t.put("/b", "2").expect("set");
    let records = t.store.export();
    t.index += 10;
    let mut batch = WriteBatch::default();
    t.store.import(&t.backend, records, None, t.index, &mut batch).expect("import");
    t.backend.write_in_order(batch).expect("write");
    assert_eq!(saved_events(&t.backend), 0);
    for s in [&t.store, &t.reopen()] {
        assert_eq!(s.watch("/a", false, false, 1, t.index).expect_err("before the snapshot").code.number(), 401);
        let mut w = s.watch("/a", false, false, t.index + 1, t.index).expect("after it");
        assert!(w.events.try_recv().is_err(), "nothing to replay yet");
    }
    t.put("/a", "3").expect("set");
    let mut w = t.reopen().watch("/a", false, false, t.index, t.index).expect("watch");
    assert_eq!(w.events.try_recv().expect("replayed").node.value, Some(b"3".to_vec()));
}

/// A member that installs a snapshot (a follower far behind) answers watches from the
/// same indexes as the member that took it, as etcd's followers do: etcd's v2 snapshot
/// holds its event history.
#[test]
fn a_snapshot_carries_the_history() {
    let mut leader = t();
    for i in 0..(HISTORY_CAPACITY + 5) {
        leader.put("/k", &i.to_string()).expect("set");
    }
    let last = leader.put("/d/e", "x").expect("set");
    // A follower with a store of its own, older, installs the leader's snapshot.
    let mut follower = t();
    follower.put("/old", "gone").expect("set");
    follower.index = leader.index;
    let mut batch = WriteBatch::default();
    let copy = leader.store.export_history();
    follower
        .store
        .import(&follower.backend, leader.store.export(), Some(&copy), follower.index, &mut batch)
        .expect("import");
    follower.backend.write_in_order(batch).expect("write");
    assert_eq!(saved_events(&follower.backend), HISTORY_CAPACITY);
    for s in [&follower.store, &follower.reopen()] {
        let cleared = |s: &V2Store| s.watch("/k", false, false, 6, leader.index).map(|_| ()).map_err(|e| e.cause);
        assert_eq!(cleared(s), cleared(&leader.store), "the same indexes are cleared");
        assert_eq!(cleared(s), Err("the requested history has been cleared [7/6]".to_string()));
        let mut w = s.watch("/k", false, false, 7, leader.index).expect("the oldest event kept");
        let e = w.events.try_recv().expect("replayed");
        assert_eq!((e.index, e.node.value), (7, Some(b"6".to_vec())));
        let mut w = s.watch("/d", true, false, 8, leader.index).expect("a recursive watch");
        assert_eq!(Some(w.events.try_recv().expect("replayed")), Some(last.clone()));
        assert!(s.watch("/old", false, false, 1, leader.index).is_err(), "the follower's own events are gone");
    }
    // The follower goes on around the ring from the snapshot's events.
    follower.store = follower.reopen();
    let next = follower.put("/k", "after").expect("set");
    assert_eq!(saved_events(&follower.backend), HISTORY_CAPACITY);
    let r = follower.reopen();
    assert_eq!(
        r.watch("/k", false, false, 7, follower.index).expect_err("dropped for the new event").code.number(),
        401
    );
    let mut w = r.watch("/k", false, false, 8, follower.index).expect("kept");
    assert_eq!(w.events.try_recv().expect("replayed").index, 8);
    let mut w = r.watch("/k", false, false, follower.index, follower.index).expect("the new event");
    assert_eq!(w.events.try_recv().expect("replayed"), next);
}

#[test]
fn clean_paths_like_go() {
    assert_eq!(clean_path(""), "/");
    assert_eq!(clean_path("a//b/./c/"), "/a/b/c");
    assert_eq!(clean_path("/../a/../b"), "/b");
}

/// A crash keeps a prefix of an entry's writes, and the entry is applied again on top of
/// it. Whatever prefix survived, the history then holds the event of the first apply,
/// once: a replay on top of part of the change may come out otherwise (a set seeing its
/// own value as the previous one, a create failing with "Key already exists").
#[test]
fn an_entry_applied_again_after_a_crash_keeps_its_first_event() {
    let set = V2Write { value: "2".into(), ..V2Write::new(Method::Put, "/d/k") };
    let create = V2Write { value: "n".into(), prev_exist: Some(false), ..V2Write::new(Method::Put, "/d/new/n") };
    for w in [set, create] {
        for keep in 0.. {
            let mut t = t();
            t.put("/d/k", "1").expect("set");
            let mut batch = WriteBatch::default();
            let first = t.store.apply(&w, 2, &mut batch).expect("storage").expect("first apply");
            let ops = batch.into_ops();
            if keep > ops.len() {
                break;
            }
            let mut cut = WriteBatch::default();
            for op in ops.into_iter().take(keep) {
                match op {
                    WriteOp::Put(tree, k, v) => cut.put(tree, k, v),
                    WriteOp::Delete(tree, k) => cut.delete(tree, k),
                }
            }
            t.backend.write_in_order(cut).expect("write");
            // The progress marker, written after the entry's writes, still says 1.
            let mut r = V2Store::open(&t.backend, 1).expect("reopen");
            let mut batch = WriteBatch::default();
            r.apply(&w, 2, &mut batch).expect("storage").ok();
            t.backend.write_in_order(batch).expect("write");
            for s in [&r, &V2Store::open(&t.backend, 2).expect("reopen")] {
                let mut from_2 = s.watch("/d", true, false, 2, 2).expect("watch");
                assert_eq!(from_2.events.try_recv().expect("event 2"), first, "{:?} keeping {keep} writes", w.method);
                assert!(s.watch("/d", true, false, 3, 2).expect("watch").events.try_recv().is_err(), "one event");
            }
            assert_eq!(saved_events(&t.backend), 2, "keeping {keep} writes");
        }
    }
}
