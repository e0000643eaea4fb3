# shellcheck shell=bash
# members: 3
# server-flags: --enable-v2
# Scenario cluster: membership and cluster views of a 3-member cluster
# (m0, m1, m2) through etcdctl 3.4 (and v2's /v2/members for removed members,
# hence --enable-v2): member list/add/promote/update/remove,
# learners, move-leader, endpoint status/health --cluster, and replication of
# writes between members. Both sides start with a fresh cluster whose store is
# at revision 1; commands go to m0 unless shown with --endpoints.
#
# Determinism: ids, ports and leader-dependent columns are masked per member
# name (lib/mask.sh, lib/normalize.awk); outputs whose row order depends on
# random ids or timing are recorded with `sorted`; the leader is made m0
# before the membership steps (ensure_leader, not recorded) and checked with
# `check_leader`; the learner's promotion is retried until it has caught up
# and only the final attempt is recorded.

# Ports chosen at run time by alloc_port (assigned indirectly).
p_bad='' p_m2b='' p_unknown=''

section "initial cluster: member list"
sorted ctl member list
sorted ctl -w json member list
sorted ctl -w table member list
sorted ctl_at m2 member list                   # the same view from another member

section "initial cluster: endpoint status and health"
sorted ctl endpoint status --cluster
sorted ctl -w table endpoint status --cluster
sorted ctl -w json endpoint status --cluster
sorted ctl endpoint health --cluster            # simple format: etcdctl prints it on stderr
sorted ctl -w table endpoint health --cluster
sorted ctl -w json endpoint health --cluster
check_one_leader                                # which member won the election is random

section "replication: write through one member, read through another"
ctl_at m1 put shared v1                         # rev 2
ctl_at m2 get shared
ctl_at m0 -w json get shared
ctl_at m2 put shared v2 --prev-kv               # rev 3
ctl_at m0 get shared
ctl_at m1 -w json get shared
ctl_at m0 del shared --prev-kv                  # rev 4
ctl_at m2 -w json get shared
ctl_at m2 put shared v3                         # rev 5
retry_until_output 15 '^v3$' ctl_at m1 get shared --consistency=s --print-value-only

section "leadership: make m0 the leader (move-leader, not recorded)"
ensure_leader m0
check_leader

section "the leader's traffic with its peers in /metrics"
# etcd_network_peer_{sent,received}_bytes_total{To|From=<member id>}: the leader
# sends every other member heartbeats and entries and hears their answers, so it
# has a series above zero for each, each way.
curl -s --max-time 5 "http://$(ep m0)/metrics" >"$SCRATCH/m0.metrics"
check "m0 sent bytes to $(awk '/^etcd_network_peer_sent_bytes_total\{To="[0-9a-f]+"\} / && $2 > 0' "$SCRATCH/m0.metrics" | wc -l) members"
# (etcd counts its stream links' own heartbeats under From="0", not a member.)
check "m0 received bytes from $(awk '/^etcd_network_peer_received_bytes_total\{From="[0-9a-f]+"\} / && !/From="0"/ && $2 > 0' "$SCRATCH/m0.metrics" | wc -l) members"

section "member add: errors"
settle_cluster 6                                # etcd: "unhealthy cluster" until peers are connected for 5 s
alloc_port p_bad PPORT:bad
ctl member add                                  # member name not provided
ctl member add bad                              # member peer urls not provided
ctl member add bad --peer-urls=foo              # rejected by the client (URL scheme)
ctl member add bad --peer-urls="127.0.0.1:$p_bad"        # rejected by the client (URL parse)
ctl member add dup --peer-urls="http://127.0.0.1:${PPORT[m1]}"   # Peer URLs already exists
ctl member add dup --peer-urls="http://127.0.0.1:${PPORT[m1]}" --learner
sorted ctl member list                          # unchanged

section "member add --learner (not started yet)"
alloc_member newm
ctl member add newm --peer-urls="http://127.0.0.1:${PPORT[newm]}" --learner
initial_cluster=$(last_stdout | sed -nE 's/^ETCD_INITIAL_CLUSTER="(.*)"$/\1/p')
register_member newm
sorted ctl member list
sorted ctl -w json member list
sorted ctl -w table member list
alloc_member newm2
ctl member add newm2 --peer-urls="http://127.0.0.1:${PPORT[newm2]}" --learner   # too many learner members
register_member newm2 2>/dev/null || true       # (only if it was added anyway: stable id placeholder)
ctl member promote "$(member_hex newm)"         # not started: not in sync with the leader
ctl_at "$(leader_name)" move-leader "$(member_hex newm)"   # a learner cannot lead
sorted ctl endpoint health --cluster            # the unstarted learner has no client URL
sorted ctl member list                          # still one learner

section "start the learner (--initial-cluster-state existing) and promote it"
start_joining_member newm "$initial_cluster"
wait_member_status newm 60
wait_member_started newm 60
sorted ctl -w table endpoint status --cluster   # newm: IS LEARNER true
sorted ctl -w table member list
ctl_at newm del nosuchkey                       # a learner serves no writes (a write that would not change the store either way)
retry_until_output 30 '^v3$' ctl_at newm get shared --consistency=s --print-value-only
retry_until_ok 60 ctl member promote "$(member_hex newm)"
sorted ctl member list
sorted ctl -w json member list
sorted ctl -w table member list
sorted ctl -w table endpoint status --cluster
sorted ctl -w json endpoint health --cluster
ctl_at newm put fromnewm v                      # rev 6: now a voter
ctl_at m1 -w json get fromnewm
check_leader

section "member promote: errors"
ctl member promote "$(member_hex m1)"           # a voter
ctl member promote "$(member_hex newm)"         # promoted already
ctl member promote 1234abcd                     # unknown id: member not found
ctl member promote zzz                          # not hex (client)
ctl member promote                              # no id (client)

section "member update"
alloc_port p_m2b PPORT:m2-second
alloc_port p_unknown PPORT:unknown
ctl member update "$(member_hex m2)" --peer-urls="http://127.0.0.1:${PPORT[m2]},http://127.0.0.1:$p_m2b"
sorted ctl member list
sorted ctl -w json member list
sorted ctl -w table member list
ctl member update 1234abcd --peer-urls="http://127.0.0.1:$p_unknown"   # member not found
ctl member update "$(member_hex m2)" --peer-urls="http://127.0.0.1:${PPORT[m1]}"   # Peer URLs already exists
ctl member update "$(member_hex m2)" --peer-urls=foo   # rejected by the client
ctl member update "$(member_hex m2)"            # member peer urls not provided
ctl member update zz --peer-urls="http://127.0.0.1:$p_unknown"   # not hex (client)

section "move-leader"
ctl_at "$(leader_name)" move-leader "$(member_hex m1)"   # sent to the leader (m0)
check_leader                                    # m1
ctl_at m2 move-leader "$(member_hex m0)"        # sent to a follower only: etcdctl finds no leader
ctl_at m0 move-leader "$(member_hex m2)"        # m0 is a follower now
ctl_at "$(leader_name)" move-leader 1234abcd    # unknown id: bad leader transferee
ctl_at "$(leader_name)" move-leader zz          # not hex (client)
ctl_at "$(leader_name)" move-leader             # no id (client)
all_endpoints="$(ep m0),$(ep m1),$(ep m2)"
_ctl_ep=$all_endpoints ctl move-leader "$(member_hex m0)"   # etcdctl picks the leader (m1) among the endpoints
check_leader                                    # m0

section "member remove"
ctl member remove "$(member_hex m2)"            # a follower
check_removed_exits m2 30
sorted ctl member list
sorted ctl -w json member list
sorted ctl -w table member list
ctl member remove "$(member_hex m2)"            # removed already: member not found
http DELETE "/v2/members/$(member_hex m2)"      # removed already, through v2: 410 Gone
http PUT "/v2/members/$(member_hex m2)" -H 'Content-Type: application/json' \
  -d "{\"peerURLs\":[\"http://127.0.0.1:$p_unknown\"]}"   # update of a removed member: a bare 500
http DELETE /v2/members/1234abcd                # unknown id: 404
ctl member remove 1234abcd                      # unknown id: member not found
ctl member remove zz                            # not hex (client)
ctl member remove                               # no id (client)

section "final cluster (m0, m1, newm)"
sorted ctl endpoint status --cluster
sorted ctl -w table endpoint status --cluster
sorted ctl -w json endpoint status --cluster
sorted ctl endpoint health --cluster
sorted ctl -w table endpoint health --cluster
sorted ctl -w json endpoint health --cluster
check_leader
ctl_at newm put final x                         # rev 7
# Within a second of a write, /v2/stats/self rates the appends: sent on the leader,
# received on a follower (etcd leaves a rate out once no append came for a second).
for m in m0 m1; do
  check "$m /v2/stats/self fields after a write: $(curl -s "http://$(ep $m)/v2/stats/self" | python3 -c 'import json, sys
print(list(json.load(sys.stdin)))')"
done
ctl_at m1 -w json get '' --prefix
ctl_at m0 get '' --prefix --keys-only
