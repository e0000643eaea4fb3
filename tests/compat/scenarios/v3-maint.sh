# shellcheck shell=bash
# Scenario v3-maint: maintenance commands against one member: endpoint hashkv
# in every format (hashes are masked: they depend on the storage engine), with
# --rev and --cluster, and at and after a compaction; alarm list/disarm with no alarm raised; defrag; snapshot
# save into the scratch directory and its argument and endpoint checks.
#
# Not covered: `-w fields alarm ...` (etcdctl 3.4 panics on etcd 3.4's
# header-less alarm response; the goroutine dump cannot be compared) and
# `defrag --data-dir` (offline; etcdctl panics on a missing directory).

section "endpoint hashkv"
ctl put foo bar
ctl put foo baz
ctl endpoint hashkv
ctl -w json endpoint hashkv
ctl -w fields endpoint hashkv
ctl -w table endpoint hashkv
ctl -w protobuf endpoint hashkv
rev=$(current_rev)
ctl endpoint hashkv --rev="$((rev - 1))"
ctl -w json endpoint hashkv --rev="$((rev + 100))"
ctl endpoint hashkv --cluster
ctl endpoint hashkv ignored-argument
ctl -w json endpoint hashkv --cluster
# The compaction revision itself is compacted for a hash.
ctl compaction "$((rev - 1))"
ctl endpoint hashkv --rev="$((rev - 1))"
ctl endpoint hashkv --rev="$rev"

section "alarms (none raised)"
ctl alarm list
ctl -w json alarm list
ctl -w table alarm list
ctl alarm disarm
ctl -w json alarm disarm
ctl alarm list extra
ctl alarm disarm extra

section "defrag"
ctl defrag
ctl -w json defrag
ctl -w fields defrag
ctl defrag --cluster
ctl -w bogus defrag
ctl get foo

section "snapshot save"
ctl snapshot save snap.db
if [[ -f snap.db && ! -e snap.db.part ]]; then
  check "snap.db saved with mode $(stat -c %a snap.db), no snap.db.part left"
else
  check "snap.db missing or snap.db.part left behind"
fi
ctl -w json snapshot save snap2.db
ctl -w fields snapshot save snap.db
ctl snapshot save
ctl snapshot save a.db b.db
ctl snapshot save no-such-dir/snap.db
ctl --endpoints=127.0.0.1:1 snapshot save two.db
ctl -w bogus snapshot save snap3.db
check "files: $(printf '%s ' *)"

section "metrics that dashboards and etcdctl read"
# Revisions, the quota and the versions are the same on both sides; the member id is
# masked; counters that the harness's own polling moves are left out. Values are compared
# as numbers: Go writes a float gauge of 2 GiB as 2.147483648e+09, which scrapers read as
# the 2147483648 written here.
check "$(curl -s "http://$ENDPOINT/metrics" | sed -E 's/server_id="[0-9a-f]+"/server_id="<ID>"/' |
  grep -E '^(etcd_(server_version|cluster_version|server_id|server_is_learner|server_quota_backend_bytes|debugging_mvcc_(current|compact)_revision)|process_resident_memory_bytes)[ {]' |
  awk '$1 == "process_resident_memory_bytes" { print $1, "<present>"; next } { printf "%s %.0f\n", $1, $2 }' | sort)"

section "etcdctl check datascale (it reads process_resident_memory_bytes from /metrics)"
datascale() { check "$(ctl_quiet check datascale | grep -oE '^(PASS|FAIL)[^:]*')"; }
etcdctl_only datascale
