# shellcheck shell=bash
# Scenario v3-lease: leases through etcdctl: grant (with etcd's minimum TTL),
# put --lease, timetolive --keys, list, keep-alive --once, revoke (deleting
# the attached keys in one revision), expiry, and the error paths. Lease ids
# are random on both sides; lib/mask.sh masks them.

section "grant, attach, inspect"
ctl lease grant 100
L=$(ctl_quiet lease grant 200 | awk '{print $2}')
ctl put --lease="$L" k1 v1
ctl put --lease="$L" k2 v2
ctl put k3 plain
ctl lease timetolive "$L"
# etcd lists a lease's keys in map order: --keys is checked on a lease with one key.
O=$(ctl_quiet lease grant 300 | awk '{print $2}')
ctl put --lease="$O" solo s
ctl lease timetolive "$O" --keys
ctl -w json lease timetolive "$O" --keys
ctl -w fields lease timetolive "$O" --keys
ctl get k --prefix -w json
ctl lease revoke "$O"
sorted ctl lease list
ctl lease keep-alive --once "$L"
ctl -w json lease keep-alive --once "$L"

section "revoke deletes the keys in one revision"
ctl lease revoke "$L"
ctl get k --prefix
ctl -w json get k3
ctl lease revoke "$L"
ctl lease timetolive "$L"
ctl lease keep-alive --once "$L"
ctl put --lease="$L" k4 v

section "errors and limits"
ctl put --lease=1234 k5 v
ctl lease grant 9000000001
ctl lease grant 1
ctl lease revoke 1234
ctl lease timetolive 1234

section "expiry"
S=$(ctl_quiet lease grant 2 | awk '{print $2}')
ctl put --lease="$S" short v
ctl get short
sleep 5
ctl get short
ctl lease timetolive "$S"
