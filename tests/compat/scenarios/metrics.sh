# shellcheck shell=bash
# server-flags: --enable-v2
# Scenario metrics: /metrics as etcd's Grafana dashboard, its Prometheus alerts
# and etcdctl read it. First the names (and types) one member exports after a
# mixed load; then how far a fixed run of requests moves etcd's operation
# counters, which both servers must count alike.
#
# Names left out of the comparison, because etcd-rs has nothing they could
# honestly measure:
#   go_*, promhttp_*, etcd_server_go_version   Go's runtime and HTTP handler
#   etcd_debugging_disk_backend_commit_*,      bbolt's commit phases and read
#   etcd_mvcc_db_open_read_transactions        transactions
#   etcd_disk_backend_commit_duration_seconds  a backend commit apart from the
#                                              log's fsync (sled has one flush)
#   etcd_snap_*, etcd_debugging_snap_save_*    snapshot files (etcd-rs keeps none)
#   etcd_grpc_proxy_*                          etcd's gRPC proxy
#   etcd_debugging_auth_revision               the auth store (auth is not kept)
#   etcd_debugging_mvcc_db_compaction_{pause,total}_duration_milliseconds,
#   etcd_debugging_mvcc_index_compaction_*     bbolt compaction batches and pauses
#   etcd_debugging_mvcc_pending_events_total   events queued for watchers (etcd-rs
#                                              reads them from the store when sending)
#   etcd_server_heartbeat_send_failures_total  a late Raft heartbeat tick
#   process_* beyond etcd's seven              (the Rust collector adds threads)

NOT_SERVED='^(go_|promhttp_|etcd_server_go_version|etcd_debugging_disk_backend_commit_|etcd_mvcc_db_open_read_transactions|etcd_disk_backend_commit_duration_seconds|etcd_snap_|etcd_debugging_snap_save_|etcd_grpc_proxy_|etcd_debugging_auth_revision|etcd_debugging_mvcc_db_compaction_(pause|total)_duration_milliseconds|etcd_debugging_mvcc_index_compaction_|etcd_debugging_mvcc_pending_events_total|etcd_server_heartbeat_send_failures_total|process_threads)'

scrape() { curl -s --max-time 5 "http://$ENDPOINT/metrics"; }

# sample FILE SERIES: the value of SERIES (name and labels as exported) in a
# scrape saved to FILE, 0 when it is absent.
sample() { awk -v s="$2" '$1 == s { v = $2 } END { printf "%.0f", v + 0 }' "$1"; }

section "the load"
ctl put m1 v1
ctl put m2 value-two
ctl get m1
ctl del m1
ctl_in $'\nput m3 a\nput m4 b\n\n\n' txn
lease=$(ctl_quiet lease grant 60 | awk '{print $2}')
ctl_quiet lease keep-alive --once "$lease" >/dev/null
ctl_quiet lease revoke "$lease" >/dev/null
http PUT /v2/keys/m5 -d value=five
http GET /v2/keys/m5
ctl_quiet defrag >/dev/null
ctl_quiet endpoint hashkv >/dev/null
ctl_quiet snapshot save "$SCRATCH/m.db" >/dev/null

section "metric names and types (less those listed at the top)"
check "$(scrape | awk '$1 == "#" && $2 == "TYPE" { print $3, $4 }' | grep -vE "$NOT_SERVED" | sort)"

section "how far a fixed run of requests moves the counters"
# Each counter as etcd counts it: a put, delete or range call each; a change of
# more than one call is also a txn (the first txn below: two puts, one txn);
# leases granted, renewed and revoked; v2 requests by method (and failures by
# status), writes by action and recursive gets; gRPC calls by kind, their
# messages and the messages' protobuf bytes (both sides hear the same client).
# The bytes are taken before the lease requests, whose lease ids (and so their
# encoded sizes) differ between the servers. Not v2 plain gets: etcd also counts
# the read of its v2 auth flag that each /v2/keys request makes (+1 per
# request), which etcd-rs, keeping no v2 auth, does not make.
scrape >"$SCRATCH/before"
ctl put d1 one
ctl put d2 two
ctl get d1
ctl get d --prefix
ctl del d1
ctl_in $'\nput d3 a\nput d4 b\n\n\n' txn
# Compares are ranges, read apart from the change (a txn of their own when more
# than one); a txn that only reads is one read, compares included.
ctl_in $'value("d2") = "two"\nver("d2") = "1"\n\nput d6 x\n\n\n' txn
ctl_in $'value("d2") = "two"\n\nget d2\n\n\n' txn
scrape >"$SCRATCH/middle"
lease=$(ctl_quiet lease grant 600 | awk '{print $2}')
ctl_quiet lease keep-alive --once "$lease" >/dev/null
ctl_quiet lease revoke "$lease" >/dev/null
http PUT /v2/keys/d5 -d value=five
http PUT /v2/keys/d5 -d value=six -d prevValue=five
http GET /v2/keys/d5
http GET '/v2/keys/?recursive=true&sorted=true'
http PUT /v2/keys/d5 -d value=seven -d prevValue=wrong
http GET /v2/keys/missing
http GET '/v2/keys/d5?quorum=true'
http HEAD /v2/keys/d5
scrape >"$SCRATCH/after"

# moved FROM TO SERIES: how far SERIES moved between two scrapes.
moved() { check "$3 moved by $(($(sample "$SCRATCH/$2" "$3") - $(sample "$SCRATCH/$1" "$3")))"; }
# moved_calls FROM TO KIND: how far etcd_server_client_requests_total of one type
# moved, summed over client versions (etcdctl 3.4 says 3.4, etcdctl-rs nothing).
moved_calls() {
  local sum='$1 ~ /^etcd_server_client_requests_total\{/ && $1 ~ "type=\"" k "\"" { v += $2 } END { printf "%.0f", v + 0 }'
  check "$3 calls moved by $(($(awk -v k="$3" "$sum" "$SCRATCH/$2") - $(awk -v k="$3" "$sum" "$SCRATCH/$1")))"
}
for series in \
  etcd_mvcc_put_total etcd_mvcc_range_total etcd_mvcc_delete_total etcd_mvcc_txn_total \
  etcd_debugging_mvcc_put_total etcd_debugging_mvcc_total_put_size_in_bytes \
  etcd_debugging_lease_granted_total etcd_debugging_lease_renewed_total etcd_debugging_lease_revoked_total \
  'etcd_debugging_store_writes_total{action="set"}' \
  'etcd_debugging_store_writes_total{action="compareAndSwap"}' \
  'etcd_debugging_store_reads_total{action="getRecursive"}' \
  'etcd_http_received_total{method="PUT"}' 'etcd_http_received_total{method="GET"}' \
  'etcd_http_received_total{method="QGET"}' 'etcd_http_received_total{method="HEAD"}' \
  'etcd_http_failed_total{code="412",method="PUT"}' 'etcd_http_failed_total{code="404",method="GET"}' \
  'etcd_http_successful_duration_seconds_count{method="PUT"}' \
  'grpc_server_msg_received_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"}' \
  'grpc_server_msg_sent_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"}'; do
  moved before after "$series"
done
moved_calls before after unary
moved_calls before after stream
for series in \
  etcd_network_client_grpc_received_bytes_total \
  'grpc_server_msg_received_total{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}' \
  'grpc_server_msg_sent_total{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}' \
  'grpc_server_msg_received_total{grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"}'; do
  moved before middle "$series"
done
