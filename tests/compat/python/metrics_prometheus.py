"""/metrics read by Prometheus's own Python text parser (prometheus_client).

Checks that the metrics operators alert on exist under etcd's names and types and
carry sensible values after a little traffic (made with the etcd3 client).
Usage: metrics_prometheus.py CLIENT_PORT
"""
import sys
import urllib.request

import etcd3
from prometheus_client.parser import text_string_to_metric_families

port = int(sys.argv[1])
client = etcd3.client(host="127.0.0.1", port=port)
for i in range(5):
    client.put("metrics/%d" % i, "v")
client.get("metrics/0")
try:
    client.get_prefix("metrics/", sort_order="bogus")
except Exception:
    pass

with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port) as resp:
    assert resp.status == 200, resp.status
    text = resp.read().decode()

families = {f.name: f for f in text_string_to_metric_families(text)}

# Family names as the parser reports them (counters lose their _total suffix).
EXPECTED = {
    "etcd_server_has_leader": "gauge",
    "etcd_server_leader_changes_seen": "counter",
    "etcd_server_proposals_committed_total": "gauge",
    "etcd_server_proposals_applied_total": "gauge",
    "etcd_server_proposals_pending": "gauge",
    "etcd_server_proposals_failed": "counter",
    "etcd_mvcc_db_total_size_in_bytes": "gauge",
    "etcd_debugging_mvcc_keys_total": "gauge",
    "etcd_disk_wal_fsync_duration_seconds": "histogram",
    "grpc_server_started": "counter",
    "grpc_server_handled": "counter",
}
for name, kind in sorted(EXPECTED.items()):
    assert name in families, "missing metric family %s" % name
    assert families[name].type == kind, "%s is a %s, not a %s" % (name, families[name].type, kind)
    print("ok", name, kind)


def value(name, sample=None, **labels):
    for s in families[name].samples:
        if s.name == (sample or name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError("no sample %s %s" % (sample or name, labels))


assert value("etcd_server_has_leader") == 1
assert value("etcd_server_leader_changes_seen", "etcd_server_leader_changes_seen_total") >= 1
applied = value("etcd_server_proposals_applied_total")
committed = value("etcd_server_proposals_committed_total")
assert 5 <= applied <= committed, (applied, committed)
assert value("etcd_server_proposals_pending") == 0
assert value("etcd_debugging_mvcc_keys_total") >= 5
assert value("etcd_mvcc_db_total_size_in_bytes") > 0
assert value("etcd_disk_wal_fsync_duration_seconds", "etcd_disk_wal_fsync_duration_seconds_count") > 0
put = dict(grpc_service="etcdserverpb.KV", grpc_method="Put", grpc_type="unary")
assert value("grpc_server_started", "grpc_server_started_total", **put) >= 5
assert value("grpc_server_handled", "grpc_server_handled_total", grpc_code="OK", **put) >= 5
print("metrics scraped and parsed: %d families" % len(families))
