"""python-etcd (PyPI, v2 API) as an independent client: read, write, CAS, TTL expiry,
watch with waitIndex, in-order keys and the lock helper.

Usage: python v2_python_etcd.py PORT  (a server with the v2 API on 127.0.0.1:PORT).
Prints one line per check and exits non-zero on the first failure.
"""

import sys
import threading
import time

import etcd


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name} {detail}")
        sys.exit(1)
    print(f"ok   {name}")


def main(port):
    c = etcd.Client(host="127.0.0.1", port=port, read_timeout=10)

    # Read and write.
    r = c.write("/py/k", "v1")
    check("write creates (201 -> newKey)", r.newKey and r.value == "v1", r)
    check("read back", c.read("/py/k").value == "v1")
    check("etcd_index header parsed", c.read("/py/k").etcd_index >= r.modifiedIndex)
    try:
        c.read("/py/missing")
        check("missing key raises", False)
    except etcd.EtcdKeyNotFound:
        check("missing key raises EtcdKeyNotFound", True)
    c.write("/py/dir/a", "1")
    c.write("/py/dir/b", "2")
    children = sorted(ch.key for ch in c.read("/py/dir", recursive=True).children)
    check("recursive read lists children", children == ["/py/dir/a", "/py/dir/b"], children)
    try:
        c.write("/py/k", "x", prevExist=False)
        check("create on existing raises", False)
    except etcd.EtcdAlreadyExist:
        check("create on existing raises EtcdAlreadyExist", True)

    # Compare and swap / delete.
    r = c.test_and_set("/py/k", "v2", "v1")
    check("test_and_set with the right previous value", r.value == "v2")
    try:
        c.test_and_set("/py/k", "v3", "v1")
        check("test_and_set with a stale value raises", False)
    except ValueError as e:
        check("test_and_set with a stale value raises (Compare failed)", "Compare failed" in str(e), e)
    node = c.read("/py/k")
    node.value = "v4"
    check("update() uses prevIndex", c.update(node).value == "v4")
    try:
        c.delete("/py/k", prevValue="nope")
        check("compare-and-delete mismatch raises", False)
    except ValueError:
        check("compare-and-delete mismatch raises", True)
    check("compare-and-delete", c.delete("/py/k", prevValue="v4").action == "compareAndDelete")

    # TTL expiry (decided by the leader, within about a second of the deadline).
    c.write("/py/ttl", "gone soon", ttl=1)
    check("ttl visible on read", c.read("/py/ttl").ttl in (1, 2))
    deadline = time.time() + 5
    expired = False
    while time.time() < deadline and not expired:
        time.sleep(0.25)
        try:
            c.read("/py/ttl")
        except etcd.EtcdKeyNotFound:
            expired = True
    check("ttl key expires", expired)
    c.write("/py/refresh", "kept", ttl=2)
    c.refresh("/py/refresh", ttl=30)
    time.sleep(2.5)
    check("refresh extends the ttl and keeps the value", c.read("/py/refresh").value == "kept")

    # Watch with waitIndex: from the history, and waiting for a new change.
    first = c.write("/py/w", "one").modifiedIndex
    c.write("/py/w", "two")
    check("watch from history", c.watch("/py/w", index=first).value == "one")
    check("watch next from history", c.watch("/py/w", index=first + 1).value == "two")
    got = {}

    def waiter():
        got["r"] = c.watch("/py/w", index=c.read("/py/w").etcd_index + 1, timeout=10)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    c.write("/py/w", "three")
    t.join(12)
    check("watch waits for the next change", "r" in got and got["r"].value == "three")
    events = []

    def eternal():
        for ev in c.eternal_watch("/py/ew", recursive=True):
            events.append((ev.action, ev.key))
            if len(events) == 2:
                return

    t = threading.Thread(target=eternal, daemon=True)
    t.start()
    time.sleep(0.5)
    c.write("/py/ew/x", "1")
    c.delete("/py/ew/x")
    t.join(10)
    check("eternal_watch sees set then delete", events == [("set", "/py/ew/x"), ("delete", "/py/ew/x")], events)

    # In-order keys.
    keys = [c.write("/py/queue", f"job{i}", append=True).key for i in range(3)]
    check("in-order keys increase", keys == sorted(keys) and len(set(keys)) == 3, keys)
    listed = [ch.value for ch in c.read("/py/queue", sorted=True).children]
    check("in-order keys list in order", listed == ["job0", "job1", "job2"], listed)

    # Members, leader, stats, machines.
    members = c.members
    check("members", len(members) == 1 and all(m["clientURLs"] for m in members.values()), members)
    check("leader is a member", c.leader["id"] in members)
    check("store stats", "setsSuccess" in c.store_stats)
    check("version", c.version.startswith("3."))

    # The lock helper (in-order keys under the hidden /_locks, TTLs, watches).
    lock = etcd.Lock(c, "pylock")
    lock.acquire(lock_ttl=30)
    check("lock acquired", lock.is_acquired)
    other = etcd.Lock(c, "pylock")
    acquired = threading.Event()

    def contender():
        # python-etcd's own timeout only re-arms its watch, so block in a thread.
        if other.acquire(blocking=True, lock_ttl=30, timeout=1):
            acquired.set()

    t = threading.Thread(target=contender, daemon=True)
    t.start()
    check("second locker waits while the lock is held", not acquired.wait(2))
    lock.release()
    check("second locker gets the released lock", acquired.wait(10))
    other.release()
    print("python-etcd: PASS")


if __name__ == "__main__":
    main(int(sys.argv[1]))
