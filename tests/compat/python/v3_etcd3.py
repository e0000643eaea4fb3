"""python-etcd3 (PyPI `etcd3`, v3 gRPC API) as an independent client: put, get,
delete and prefixes, transactions, watches (key, prefix, history, cancel,
watch_once), leases (grant, attach, TTL, keys, keepalive, revoke, expiry) and
the lock helper.

Usage: python v3_etcd3.py PORT  (a server with the v3 gRPC API on 127.0.0.1:PORT).
Prints one line per check and exits non-zero on the first failure.

etcd3 0.12.0 ships old generated *_pb2 files (needs protobuf < 4) and its Lock
uses tenacity's old two-argument wait callback (needs tenacity < 7). On Python
3.11 this works:
    pip install etcd3==0.12.0 protobuf==3.20.3 grpcio==1.85.3 tenacity==6.3.1 six==1.17.0
"""

import queue
import sys
import threading
import time

import etcd3
import etcd3.events
import etcd3.exceptions
import grpc


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def collect(iterator, n, out, done):
    """Append events from a watch iterator to `out` until n arrived or it ends."""
    try:
        for ev in iterator:
            out.append(ev)
            if len(out) == n:
                break
    except Exception as e:  # noqa: BLE001 - reported by the caller
        out.append(e)
    done.set()


def kinds(events):
    return [
        ("put" if isinstance(e, etcd3.events.PutEvent) else
         "delete" if isinstance(e, etcd3.events.DeleteEvent) else repr(e),
         getattr(e, "key", None),
         getattr(e, "value", None) if isinstance(e, etcd3.events.PutEvent) else None)
        for e in events
    ]


def main(port):
    c = etcd3.client(host="127.0.0.1", port=port, timeout=10)
    c.delete_prefix("/e3/")
    c.delete_prefix("/locks/e3")

    # Put, get, delete, prefixes.
    r = c.put("/e3/k", "v1")
    rev1 = r.header.revision
    check("put returns a header with a revision", rev1 > 0, r)
    value, meta = c.get("/e3/k")
    check("get returns the value", value == b"v1", value)
    check("get metadata: key, version 1, create == mod revision",
          meta.key == b"/e3/k" and meta.version == 1
          and meta.create_revision == meta.mod_revision == rev1,
          (meta.key, meta.version, meta.create_revision, meta.mod_revision, rev1))
    check("get response header revision", meta.response_header.revision >= rev1)
    r = c.put("/e3/k", "v2", prev_kv=True)
    check("put prev_kv returns the old value", r.prev_kv.value == b"v1", r.prev_kv)
    value, meta = c.get("/e3/k")
    check("overwrite bumps version and mod_revision, keeps create_revision",
          value == b"v2" and meta.version == 2 and meta.create_revision == rev1
          and meta.mod_revision == r.header.revision > rev1,
          (value, meta.version, meta.create_revision, meta.mod_revision))
    check("get of a missing key", c.get("/e3/missing") == (None, None))
    check("put_if_not_exists on an existing key fails", c.put_if_not_exists("/e3/k", "x") is False)
    check("put_if_not_exists on a new key succeeds", c.put_if_not_exists("/e3/new", "n") is True)
    check("replace with the wrong value fails", c.replace("/e3/k", "nope", "v3") is False)
    check("replace with the right value succeeds", c.replace("/e3/k", "v2", "v3") is True)
    check("replace took effect", c.get("/e3/k")[0] == b"v3")
    for name in ("c", "a", "b"):
        c.put(f"/e3/p/{name}", f"val-{name}")
    c.put("/e3/pz", "outside")  # shares "/e3/p" but not "/e3/p/"
    got = [(m.key, v) for v, m in c.get_prefix("/e3/p/")]
    check("get_prefix returns the prefix, sorted by key",
          got == [(b"/e3/p/a", b"val-a"), (b"/e3/p/b", b"val-b"), (b"/e3/p/c", b"val-c")], got)
    got = [m.key for v, m in c.get_prefix("/e3/p/", sort_order="descend")]
    check("get_prefix descending", got == [b"/e3/p/c", b"/e3/p/b", b"/e3/p/a"], got)
    got = [(m.key, v) for v, m in c.get_prefix("/e3/p/", keys_only=True)]
    check("get_prefix keys_only", [k for k, _ in got] == [b"/e3/p/a", b"/e3/p/b", b"/e3/p/c"]
          and all(v == b"" for _, v in got), got)
    # etcd3 0.12 accepts but drops limit/revision/count_only: use its raw stub for those.
    rpc = etcd3.etcdrpc
    resp = c.kvstub.Range(rpc.RangeRequest(key=b"/e3/p/", range_end=b"/e3/p0", limit=2), 10)
    check("range limit: two keys, more, full count",
          [kv.key for kv in resp.kvs] == [b"/e3/p/a", b"/e3/p/b"] and resp.more and resp.count == 3,
          (resp.kvs, resp.more, resp.count))
    resp = c.kvstub.Range(rpc.RangeRequest(key=b"/e3/p/", range_end=b"/e3/p0", count_only=True), 10)
    check("range count_only", resp.count == 3 and len(resp.kvs) == 0, (resp.count, len(resp.kvs)))
    got = [m.key for v, m in c.get_range("/e3/p/a", "/e3/p/c")]
    check("get_range is half-open", got == [b"/e3/p/a", b"/e3/p/b"], got)
    resp = c.kvstub.Range(rpc.RangeRequest(key=b"/e3/k", revision=rev1), 10)
    check("read at an old revision", resp.kvs[0].value == b"v1", resp.kvs)
    check("delete an existing key", c.delete("/e3/new") is True)
    check("delete a missing key", c.delete("/e3/new") is False)
    check("deleted key is gone", c.get("/e3/new") == (None, None))
    resp = c.delete("/e3/k", prev_kv=True, return_response=True)
    check("delete prev_kv", resp.deleted == 1 and resp.prev_kvs[0].value == b"v3", resp)
    resp = c.delete_prefix("/e3/p/")
    check("delete_prefix counts deleted keys", resp.deleted == 3, resp.deleted)
    check("delete_prefix leaves keys outside the prefix", c.get("/e3/pz")[0] == b"outside")
    check("prefix is empty", list(c.get_prefix("/e3/p/")) == [])

    # Status and members (status() looks the leader up in the member list).
    members = list(c.members)
    check("one member with client URLs", len(members) == 1 and members[0].client_urls,
          [(m.id, m.name, m.client_urls) for m in members])
    st = c.status()
    check("status: version 3.x, leader is the member",
          st.version.startswith("3.") and st.leader is not None and st.leader.id == members[0].id,
          (st.version, st.leader))
    check("status: raft index and term", st.raft_index > 0 and st.raft_term > 0,
          (st.raft_index, st.raft_term))

    # Transactions.
    c.put("/e3/tx", "a")
    t = c.transactions
    ok, resps = c.transaction(
        compare=[t.value("/e3/tx") == "a", t.version("/e3/tx") > 0],
        success=[t.put("/e3/tx", "b"), t.put("/e3/tx2", "b2"), t.get("/e3/tx")],
        failure=[t.put("/e3/tx", "failed")],
    )
    check("txn: true compares run the success ops", ok is True, (ok, resps))
    check("txn: get inside the txn sees the txn's own put",
          len(resps) == 3 and resps[2][0][0] == b"b", resps)
    check("txn: success writes applied", c.get("/e3/tx")[0] == b"b" and c.get("/e3/tx2")[0] == b"b2")
    _, meta = c.get("/e3/tx")
    _, meta2 = c.get("/e3/tx2")
    check("txn: all writes share one revision", meta.mod_revision == meta2.mod_revision,
          (meta.mod_revision, meta2.mod_revision))
    ok, resps = c.transaction(
        compare=[t.value("/e3/tx") == "a"],
        success=[t.put("/e3/tx", "wrong")],
        failure=[t.get("/e3/tx"), t.delete("/e3/tx2")],
    )
    check("txn: a false compare runs the failure ops", ok is False and resps[0][0][0] == b"b",
          (ok, resps))
    check("txn: failure delete applied", c.get("/e3/tx2") == (None, None))
    ok, _ = c.transaction(compare=[t.mod("/e3/tx") == meta.mod_revision],
                          success=[t.put("/e3/tx", "c")], failure=[])
    check("txn: mod revision compare", ok is True and c.get("/e3/tx")[0] == b"c")
    ok, _ = c.transaction(compare=[t.create("/e3/tx") < meta.create_revision],
                          success=[t.put("/e3/tx", "bad")], failure=[])
    check("txn: create revision compare (false)", ok is False and c.get("/e3/tx")[0] == b"c")
    ok, _ = c.transaction(compare=[t.version("/e3/tx") != 3],
                          success=[t.put("/e3/tx", "bad")], failure=[])
    check("txn: version != compare (false)", ok is False)
    ok, _ = c.transaction(compare=[t.create("/e3/absent") == 0],
                          success=[t.put("/e3/absent", "made")], failure=[])
    check("txn: create == 0 on a missing key", ok is True and c.get("/e3/absent")[0] == b"made")
    ok, resps = c.transaction(
        compare=[],
        success=[t.txn(compare=[t.value("/e3/tx") == "c"],
                       success=[t.put("/e3/nested", "yes")],
                       failure=[t.put("/e3/nested", "no")])],
        failure=[],
    )
    check("txn: nested txn", ok is True and resps[0].response_txn.succeeded
          and c.get("/e3/nested")[0] == b"yes", resps)
    try:
        c.transaction(compare=[], success=[t.put("/e3/dup", "1"), t.put("/e3/dup", "2")], failure=[])
        check("txn: duplicate key in one txn is rejected", False)
    except grpc.RpcError as e:
        check("txn: duplicate key in one txn is rejected (InvalidArgument)",
              e.code() == grpc.StatusCode.INVALID_ARGUMENT, (e.code(), e.details()))

    # Request size: etcd's own limit (max-request-bytes, 1.5 MiB) on a put, and its gRPC
    # server's (2 MiB) on any message, which grpc-go reports in its own words.
    try:
        c.put("/e3/big", "x" * 1_600_000)
        check("put: 1.6 MB is refused", False)
    except grpc.RpcError as e:
        check("put: 1.6 MB is refused as too large (InvalidArgument)",
              (e.code(), e.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large"),
              (e.code(), e.details()))
    try:
        c.put("/e3/big", "x" * 3_000_000)
        check("put: 3 MB is refused", False)
    except grpc.RpcError as e:
        check("put: 3 MB is refused by the gRPC server (ResourceExhausted, grpc-go's message)",
              e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
              and e.details().startswith("grpc: received message larger than max (300")
              and e.details().endswith(" vs. 2097152)"), (e.code(), e.details()))
    check("put: nothing of the refused puts was stored", c.get("/e3/big")[0] is None)

    # Watch a key: events from a background writer arrive in order.
    events, done = [], threading.Event()
    it, cancel = c.watch("/e3/w")
    threading.Thread(target=collect, args=(it, 6, events, done), daemon=True).start()

    def writer():
        for i in range(5):
            c.put("/e3/w", f"w{i}")
            c.put("/e3/w-other", "noise")  # a different key: not seen
        c.delete("/e3/w")

    threading.Thread(target=writer, daemon=True).start()
    done.wait(10)
    cancel()
    want = [("put", b"/e3/w", f"w{i}".encode()) for i in range(5)] + [("delete", b"/e3/w", None)]
    check("watch key: puts then delete, in order", kinds(events) == want, kinds(events))
    revs = [e.mod_revision for e in events]
    check("watch key: mod revisions increase", revs == sorted(revs) and len(set(revs)) == 6, revs)
    check("watch key: versions count up", [e.version for e in events[:5]] == [1, 2, 3, 4, 5],
          [e.version for e in events])

    # Watch a prefix.
    events, done = [], threading.Event()
    it, cancel = c.watch_prefix("/e3/wp/")
    threading.Thread(target=collect, args=(it, 5, events, done), daemon=True).start()

    def prefix_writer():
        c.put("/e3/wp/a", "1")
        c.put("/e3/wpx", "outside")
        c.put("/e3/wp/b", "2")
        c.put("/e3/wp/a", "3")
        c.delete_prefix("/e3/wp/")  # two deletes in one revision

    threading.Thread(target=prefix_writer, daemon=True).start()
    done.wait(10)
    cancel()
    live = kinds(events)
    check("watch prefix: in order, nothing outside the prefix",
          live[:3] == [("put", b"/e3/wp/a", b"1"), ("put", b"/e3/wp/b", b"2"), ("put", b"/e3/wp/a", b"3")]
          and sorted(live[3:]) == [("delete", b"/e3/wp/a", None), ("delete", b"/e3/wp/b", None)], live)
    check("watch prefix: one delete_prefix is one revision",
          len(events) == 5 and events[3].mod_revision == events[4].mod_revision
          and events[2].mod_revision < events[3].mod_revision,
          [getattr(e, "mod_revision", e) for e in events])
    start = events[0].mod_revision
    events, done = [], threading.Event()
    it, cancel = c.watch_prefix("/e3/wp/", start_revision=start)
    threading.Thread(target=collect, args=(it, 5, events, done), daemon=True).start()
    done.wait(10)
    cancel()
    check("watch prefix with start_revision replays the same events", kinds(events) == live,
          kinds(events))

    # Watch with start_revision replays the history, then goes on live.
    r1 = c.put("/e3/h", "h1").header.revision
    c.put("/e3/h", "h2")
    c.put("/e3/h", "h3")
    events, done = [], threading.Event()
    it, cancel = c.watch("/e3/h", start_revision=r1, prev_kv=True)
    threading.Thread(target=collect, args=(it, 4, events, done), daemon=True).start()
    time.sleep(0.3)
    c.put("/e3/h", "h4")
    done.wait(10)
    cancel()
    check("watch start_revision: history then live",
          [e.value for e in events] == [b"h1", b"h2", b"h3", b"h4"], kinds(events))
    check("watch prev_kv: previous values",
          [e.prev_value for e in events] == [b"", b"h1", b"h2", b"h3"],
          [e.prev_value for e in events])
    check("watch start_revision: first event at that revision", events[0].mod_revision == r1,
          (events[0].mod_revision, r1))

    # Cancel: the iterator ends and later writes are not delivered.
    events, done = [], threading.Event()
    it, cancel = c.watch("/e3/c")
    th = threading.Thread(target=collect, args=(it, 100, events, done), daemon=True)
    th.start()
    c.put("/e3/c", "before")
    deadline = time.time() + 5
    while not events and time.time() < deadline:
        time.sleep(0.05)
    cancel()
    th.join(5)
    check("cancel ends the watch iterator", not th.is_alive())
    c.put("/e3/c", "after")
    time.sleep(0.5)
    check("cancelled watch saw only the write before cancel",
          kinds(events) == [("put", b"/e3/c", b"before")], kinds(events))
    # Cancel through the watch id of a callback watch.
    calls = queue.Queue()
    wid = c.add_watch_callback("/e3/cb", calls.put)
    c.put("/e3/cb", "1")
    first = calls.get(timeout=5)
    check("callback watch delivers", first.events[0].value == b"1", first)
    c.cancel_watch(wid)
    time.sleep(0.3)
    c.put("/e3/cb", "2")
    time.sleep(0.7)
    check("cancel_watch stops the callbacks", calls.empty(),
          calls.queue and [e.value for e in calls.queue[0].events])

    # watch_once with a timeout.
    t0 = time.time()
    try:
        c.watch_once("/e3/once", timeout=1)
        check("watch_once without a write times out", False)
    except etcd3.exceptions.WatchTimedOut:
        check("watch_once without a write times out", 0.9 <= time.time() - t0 < 5, time.time() - t0)
    threading.Timer(0.5, lambda: c.put("/e3/once", "now")).start()
    ev = c.watch_once("/e3/once", timeout=5)
    check("watch_once returns the next event", isinstance(ev, etcd3.events.PutEvent)
          and ev.value == b"now", ev)
    threading.Timer(0.5, lambda: c.put("/e3/oncep/x", "px")).start()
    ev = c.watch_prefix_once("/e3/oncep/", timeout=5)
    check("watch_prefix_once returns the next event", ev.key == b"/e3/oncep/x", ev)

    # Compaction: watching from a compacted revision fails.
    c.put("/e3/cmp", "1")
    old_rev = c.put("/e3/cmp", "2").header.revision
    now_rev = c.put("/e3/cmp", "3").header.revision
    c.compact(now_rev)
    try:
        c.kvstub.Range(rpc.RangeRequest(key=b"/e3/cmp", revision=old_rev), 10)
        check("range at a compacted revision fails", False)
    except grpc.RpcError as e:
        check("range at a compacted revision fails (OutOfRange)",
              e.code() == grpc.StatusCode.OUT_OF_RANGE, (e.code(), e.details()))
    events, done = [], threading.Event()
    it, cancel = c.watch("/e3/cmp", start_revision=old_rev)
    threading.Thread(target=collect, args=(it, 1, events, done), daemon=True).start()
    done.wait(5)
    cancel()
    check("watch from a compacted revision raises RevisionCompactedError",
          len(events) == 1 and isinstance(events[0], etcd3.exceptions.RevisionCompactedError)
          and events[0].compacted_revision == now_rev,
          [(type(e).__name__, getattr(e, "compacted_revision", None)) for e in events])

    # Leases.
    lease = c.lease(30)
    check("lease grant", lease.id > 0 and lease.ttl == 30, (lease.id, lease.ttl))
    c.put("/e3/l/a", "1", lease=lease)
    c.put("/e3/l/b", "2", lease=lease.id)
    _, meta = c.get("/e3/l/a")
    check("key carries the lease id", meta.lease_id == lease.id, (meta.lease_id, lease.id))
    check("lease remaining_ttl", 28 <= lease.remaining_ttl <= 30, lease.remaining_ttl)
    check("lease granted_ttl", lease.granted_ttl == 30, lease.granted_ttl)
    check("lease keys", sorted(lease.keys) == [b"/e3/l/a", b"/e3/l/b"], lease.keys)
    time.sleep(1.2)
    before = lease.remaining_ttl
    ka = lease.refresh()
    check("refresh (keepalive) answers with the id and full ttl",
          len(ka) == 1 and ka[0].ID == lease.id and ka[0].TTL == 30, ka)
    check("refresh resets the remaining ttl", before < 30 and lease.remaining_ttl >= 29,
          (before, lease.remaining_ttl))
    lease.revoke()
    check("revoke deletes the lease's keys",
          c.get("/e3/l/a") == (None, None) and c.get("/e3/l/b") == (None, None))
    check("a revoked lease has ttl -1", lease.remaining_ttl == -1, lease.remaining_ttl)
    ka = lease.refresh()
    check("keepalive of a revoked lease answers ttl 0", len(ka) == 1 and ka[0].TTL == 0, ka)
    try:
        c.put("/e3/l/c", "x", lease=lease)
        check("put with a revoked lease fails", False)
    except grpc.RpcError as e:
        check("put with a revoked lease fails (NotFound)",
              e.code() == grpc.StatusCode.NOT_FOUND, (e.code(), e.details()))
    try:
        c.revoke_lease(lease.id)
        check("revoke of a revoked lease fails", False)
    except grpc.RpcError as e:
        check("revoke of a revoked lease fails (NotFound)",
              e.code() == grpc.StatusCode.NOT_FOUND, (e.code(), e.details()))
    lease_fixed = c.lease(40, lease_id=0x3e3e3)
    check("lease grant with a chosen id", lease_fixed.id == 0x3e3e3, lease_fixed.id)
    try:
        c.lease(40, lease_id=0x3e3e3)
        check("lease grant with a taken id fails", False)
    except grpc.RpcError as e:
        check("lease grant with a taken id fails (FailedPrecondition)",
              e.code() == grpc.StatusCode.FAILED_PRECONDITION, (e.code(), e.details()))
    except etcd3.exceptions.PreconditionFailedError:
        check("lease grant with a taken id fails (FailedPrecondition)", True)
    lease_fixed.revoke()

    # A short lease expires and takes its key along (etcd raises TTLs below 2s to 2s).
    short = c.lease(1)
    check("a ttl below the minimum is raised to 2", short.ttl == 2, short.ttl)
    c.put("/e3/l/short", "soon gone", lease=short)
    deletes = queue.Queue()
    wid = c.add_watch_callback("/e3/l/short", deletes.put)
    t0 = time.time()
    gone = False
    while time.time() < t0 + 6 and not gone:
        time.sleep(0.2)
        gone = c.get("/e3/l/short") == (None, None)
    check("short lease expires and its key disappears within 6s", gone, time.time() - t0)
    check("expiry took at least ~2s", time.time() - t0 >= 1.5, time.time() - t0)
    resp = deletes.get(timeout=5)
    c.cancel_watch(wid)
    check("expiry is seen by a watch as a delete",
          isinstance(resp.events[0], etcd3.events.DeleteEvent), resp.events)
    check("expired lease has ttl -1", short.remaining_ttl == -1, short.remaining_ttl)

    # Locks.
    lock = c.lock("e3lock", ttl=10)
    check("lock acquire", lock.acquire(timeout=5) is True)
    check("lock is_acquired", lock.is_acquired())
    value, meta = c.get("/locks/e3lock")
    check("lock key holds the lock's uuid under its lease",
          value == lock.uuid and meta.lease_id == lock.lease.id, (value, meta and meta.lease_id))
    other = c.lock("e3lock", ttl=10)
    t0 = time.time()
    check("a second lock cannot acquire while held", other.acquire(timeout=1) is False)
    check("the failed acquire waited for its timeout", 0.9 <= time.time() - t0 < 5, time.time() - t0)
    check("second lock is not acquired", not other.is_acquired())
    ka = lock.refresh()
    check("lock refresh keeps its lease alive", ka[0].TTL == 10, ka)
    check("lock release", lock.release() is True)
    check("released lock is not held", not lock.is_acquired())
    check("release of a lock not held is False", lock.release() is False)
    check("second lock acquires after release", other.acquire(timeout=5) is True)
    # A waiter blocked in acquire wakes up when the holder releases.
    result = {}

    def waiter():
        start = time.time()
        result["ok"] = lock.acquire(timeout=10)
        result["t"] = time.time() - start

    th = threading.Thread(target=waiter, daemon=True)
    th.start()
    time.sleep(0.8)
    check("waiter is still blocked", th.is_alive() and "ok" not in result)
    other.release()
    th.join(10)
    check("waiter acquires soon after the release", result.get("ok") is True and result["t"] < 5,
          result)
    lock.release()
    with c.lock("e3ctx", ttl=10) as held:
        check("with lock: acquired inside the block", held.is_acquired())
        check("with lock: others are kept out", c.lock("e3ctx", ttl=10).acquire(timeout=0.5) is False)
    check("with lock: released on exit", c.get("/locks/e3ctx") == (None, None))
    # A lock whose holder stops refreshing is freed when its lease expires.
    dead = c.lock("e3exp", ttl=2)
    check("short lock acquire", dead.acquire(timeout=5))
    t0 = time.time()
    heir = c.lock("e3exp", ttl=10)
    check("an expired lock can be taken over", heir.acquire(timeout=8) is True, time.time() - t0)
    check("takeover waited for the lease to run out", time.time() - t0 >= 1, time.time() - t0)
    check("the old holder lost the lock", not dead.is_acquired() and heir.is_acquired())
    heir.release()

    c.delete_prefix("/e3/")
    # No c.close(): etcd3's watcher thread would retry on the closed channel and print a
    # traceback; the process exit ends it.
    print("etcd3: PASS")


if __name__ == "__main__":
    main(int(sys.argv[1]))
