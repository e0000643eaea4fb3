//! Prometheus metrics under etcd's names, served at `/metrics` on the client port.
//!
//! Counters and histograms are updated where things happen (proposals, fsyncs, peer
//! round trips, gRPC calls); gauges of state (leader, indexes, sizes) are sampled when
//! scraped, so they cost nothing between scrapes.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// `etcd_server_has_leader`.
    pub has_leader: IntGauge,
    /// `etcd_server_is_leader`.
    pub is_leader: IntGauge,
    /// `etcd_server_leader_changes_seen_total`.
    pub leader_changes: IntCounter,
    /// `etcd_server_proposals_committed_total` (a gauge in etcd too: the commit index).
    pub proposals_committed: IntGauge,
    /// `etcd_server_proposals_applied_total` (the applied index).
    pub proposals_applied: IntGauge,
    /// `etcd_server_proposals_pending`.
    pub proposals_pending: IntGauge,
    /// `etcd_server_proposals_failed_total`.
    pub proposals_failed: IntCounter,
    /// `etcd_mvcc_db_total_size_in_bytes`.
    pub db_size: IntGauge,
    /// `etcd_mvcc_db_total_size_in_use_in_bytes`.
    pub db_size_in_use: IntGauge,
    /// `etcd_debugging_mvcc_keys_total`.
    pub keys: IntGauge,
    /// `etcd_debugging_mvcc_watch_stream_total`: open v3 Watch streams.
    pub watch_streams: IntGauge,
    /// `etcd_debugging_mvcc_watcher_total`: v3 watchers on those streams.
    pub watchers: IntGauge,
    /// `etcd_debugging_mvcc_slow_watcher_total`: v3 watchers catching up from the history.
    pub slow_watchers: IntGauge,
    /// `etcd_debugging_mvcc_db_compaction_keys_total`: records compactions removed.
    pub compaction_keys: IntCounter,
    /// `etcd_debugging_mvcc_events_total`: events sent to v3 watchers, per watcher.
    pub watch_events: IntCounter,
    /// `etcd_debugging_store_watchers`: waiting v2 watches.
    pub store_watchers: IntGauge,
    /// `etcd_server_is_learner`.
    pub is_learner: IntGauge,
    /// `etcd_server_quota_backend_bytes`.
    pub quota_backend_bytes: IntGauge,
    /// `etcd_server_health_success`: `/health` answers that were healthy.
    pub health_success: IntCounter,
    /// `etcd_server_health_failures`: `/health` answers that were not.
    pub health_failures: IntCounter,
    /// `etcd_debugging_mvcc_current_revision`.
    pub current_revision: IntGauge,
    /// `etcd_debugging_mvcc_compact_revision`.
    pub compact_revision: IntGauge,
    /// `etcd_server_version`, `etcd_cluster_version` and `etcd_server_id`: 1 for the label
    /// that names this member's value.
    pub versions: [IntGaugeVec; 3],
    /// `etcd_disk_wal_fsync_duration_seconds`: flushes of the log.
    pub wal_fsync: Histogram,
    /// `etcd_network_peer_round_trip_time_seconds{To}`: AppendEntries round trips.
    pub peer_rtt: HistogramVec,
    /// `etcd_network_peer_sent_bytes_total{To}`: Raft messages' bytes sent to a member.
    pub peer_sent_bytes: IntCounterVec,
    /// `etcd_network_peer_received_bytes_total{From}`: Raft messages' bytes received.
    pub peer_received_bytes: IntCounterVec,
    /// `etcd_network_peer_sent_failures_total{To}`: sends to a member that failed.
    pub peer_sent_failures: IntCounterVec,
    /// `grpc_server_started_total{grpc_type,grpc_service,grpc_method}`.
    pub grpc_started: IntCounterVec,
    /// `grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}`.
    pub grpc_handled: IntCounterVec,
    /// `grpc_server_msg_received_total{grpc_type,grpc_service,grpc_method}`.
    pub grpc_msg_received: IntCounterVec,
    /// `grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}`.
    pub grpc_msg_sent: IntCounterVec,
    /// `etcd_network_client_grpc_received_bytes_total`: request messages' protobuf bytes.
    pub client_received_bytes: IntCounter,
    /// `etcd_network_client_grpc_sent_bytes_total`: response messages' protobuf bytes.
    pub client_sent_bytes: IntCounter,
    /// `etcd_server_client_requests_total{client_api_version,type}`.
    pub client_requests: IntCounterVec,
    /// `etcd_mvcc_{range,put,delete,txn}_total` and their `etcd_debugging_mvcc_` twins,
    /// brought up to the store's counts when scraped.
    pub mvcc_ops: [[IntCounter; 2]; 4],
    /// `etcd_debugging_mvcc_total_put_size_in_bytes` (a gauge in etcd).
    pub put_size: IntGauge,
    /// `etcd_debugging_mvcc_db_total_size_in_bytes`, the older name of the db size.
    pub db_size_debugging: IntGauge,
    /// `etcd_http_received_total{method}`: parsed `/v2/keys` requests but watches.
    pub http_received: IntCounterVec,
    /// `etcd_http_failed_total{code,method}`.
    pub http_failed: IntCounterVec,
    /// `etcd_http_successful_duration_seconds{method}`.
    pub http_duration: HistogramVec,
    /// `etcd_debugging_store_reads_total{action}`: v2 gets, `get` or `getRecursive`.
    pub store_reads: IntCounterVec,
    /// `etcd_debugging_store_writes_total{action}`: v2 writes by etcd's action name.
    pub store_writes: IntCounterVec,
    /// `etcd_debugging_store_expires_total`.
    pub store_expires: IntCounter,
    /// `etcd_debugging_store_watch_requests_total`.
    pub store_watch_requests: IntCounter,
    /// `etcd_debugging_lease_granted_total`.
    pub lease_granted: IntCounter,
    /// `etcd_debugging_lease_revoked_total`: revocations applied, expiries included.
    pub lease_revoked: IntCounter,
    /// `etcd_debugging_lease_renewed_total`: keep-alives the leader granted.
    pub lease_renewed: IntCounter,
    /// `etcd_debugging_server_lease_expired_total`: expiries the leader proposed.
    pub lease_expired: IntCounter,
    /// `etcd_debugging_lease_ttl_total`: TTLs granted, in seconds.
    pub lease_ttl: Histogram,
    /// `etcd_server_learner_promote_successes`.
    pub learner_promotions: IntCounter,
    /// `etcd_server_slow_apply_total`: entries that took over 100 ms to apply.
    pub slow_applies: IntCounter,
    /// `etcd_server_read_indexes_failed_total`.
    pub read_indexes_failed: IntCounter,
    /// `etcd_server_slow_read_indexes_total`: read indexes that timed out.
    pub slow_read_indexes: IntCounter,
    /// `etcd_server_snapshot_apply_in_progress_total`.
    pub snapshot_applying: IntGauge,
    /// `etcd_disk_wal_write_bytes_total` (a gauge in etcd): bytes of entries appended
    /// to the log.
    pub wal_write_bytes: IntGauge,
    /// `etcd_disk_backend_defrag_duration_seconds`.
    pub defrag_duration: Histogram,
    /// `etcd_disk_defrag_inflight`.
    pub defrag_inflight: IntGauge,
    /// `etcd_disk_backend_snapshot_duration_seconds`: Maintenance.Snapshot streams.
    pub snapshot_duration: Histogram,
    /// `etcd_mvcc_hash_duration_seconds`: Hash calls.
    pub hash_duration: Histogram,
    /// `etcd_mvcc_hash_rev_duration_seconds`: HashKV calls that succeeded.
    pub hash_rev_duration: Histogram,
    /// `os_fd_used`, sampled when scraped.
    pub fd_used: IntGauge,
    /// `os_fd_limit` (the soft limit), sampled when scraped.
    pub fd_limit: IntGauge,
    /// `process_virtual_memory_max_bytes`, which Go's process collector has and the
    /// Rust one has not.
    pub virtual_memory_max: prometheus::Gauge,
}

/// Held while a scrape brings counters up to totals kept elsewhere ([`catch_up`]).
pub static SAMPLING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The v2 write actions as `etcd_debugging_store_writes_total` labels them.
pub const STORE_WRITE_ACTIONS: [&str; 6] = ["set", "create", "update", "compareAndSwap", "delete", "compareAndDelete"];

/// Brings a counter of a total kept elsewhere up to `total`. Callers hold
/// [`SAMPLING`]: two scrapes adding the same gap would leave the counter ahead for good.
pub fn catch_up(counter: &IntCounter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Registers a metric built from constant, valid options. Registration fails only for a
/// name registered twice, which this module never does, so a failure is logged.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: M) -> M {
    if let Err(e) = registry.register(Box::new(m.clone())) {
        tracing::error!(error = %e, "registering a metric");
    }
    m
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(registry, IntGauge::new(name, help).unwrap_or_else(|_| unreachable_metric(name)))
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    register(registry, IntCounter::new(name, help).unwrap_or_else(|_| unreachable_metric(name)))
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable_metric(name)))
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    register(
        registry,
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
            .unwrap_or_else(|_| unreachable_metric(name)),
    )
}

fn histogram_vec(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]) -> HistogramVec {
    register(
        registry,
        HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .unwrap_or_else(|_| unreachable_metric(name)),
    )
}

/// etcd's exponential buckets: `count` of them from `start`, doubling.
fn doubling(start: f64, count: usize) -> Vec<f64> {
    prometheus::exponential_buckets(start, 2.0, count).unwrap_or_default()
}

/// Metric options here are constants checked by the tests; an invalid one is a bug.
#[allow(clippy::panic)]
fn unreachable_metric(name: &str) -> ! {
    panic!("invalid metric definition {name}")
}

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let grpc = ["grpc_type", "grpc_service", "grpc_method"];
        // The process_* series every Go program exports, which etcd's users read (etcdctl
        // `check datascale` reads process_resident_memory_bytes).
        #[cfg(target_os = "linux")]
        if let Err(e) = r.register(Box::new(prometheus::process_collector::ProcessCollector::for_self())) {
            tracing::error!(error = %e, "registering the process metrics");
        }
        Self {
            has_leader: gauge(
                &r,
                "etcd_server_has_leader",
                "Whether or not a leader exists. 1 is existence, 0 is not.",
            ),
            is_leader: gauge(
                &r,
                "etcd_server_is_leader",
                "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            ),
            leader_changes: counter(&r, "etcd_server_leader_changes_seen_total", "The number of leader changes seen."),
            proposals_committed: gauge(
                &r,
                "etcd_server_proposals_committed_total",
                "The total number of consensus proposals committed.",
            ),
            proposals_applied: gauge(
                &r,
                "etcd_server_proposals_applied_total",
                "The total number of consensus proposals applied.",
            ),
            proposals_pending: gauge(
                &r,
                "etcd_server_proposals_pending",
                "The current number of pending proposals to commit.",
            ),
            proposals_failed: counter(
                &r,
                "etcd_server_proposals_failed_total",
                "The total number of failed proposals seen.",
            ),
            db_size: gauge(
                &r,
                "etcd_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.",
            ),
            db_size_in_use: gauge(
                &r,
                "etcd_mvcc_db_total_size_in_use_in_bytes",
                "Total size of the underlying database logically in use in bytes.",
            ),
            keys: gauge(&r, "etcd_debugging_mvcc_keys_total", "Total number of keys."),
            watch_streams: gauge(&r, "etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams."),
            watchers: gauge(&r, "etcd_debugging_mvcc_watcher_total", "Total number of watchers."),
            slow_watchers: gauge(
                &r,
                "etcd_debugging_mvcc_slow_watcher_total",
                "Total number of unsynced slow watchers.",
            ),
            compaction_keys: counter(
                &r,
                "etcd_debugging_mvcc_db_compaction_keys_total",
                "Total number of db keys compacted.",
            ),
            watch_events: counter(
                &r,
                "etcd_debugging_mvcc_events_total",
                "Total number of events sent by this member.",
            ),
            store_watchers: gauge(&r, "etcd_debugging_store_watchers", "Count of currently active watchers."),
            is_learner: gauge(
                &r,
                "etcd_server_is_learner",
                "Whether or not this member is a learner. 1 if is, 0 otherwise.",
            ),
            quota_backend_bytes: gauge(
                &r,
                "etcd_server_quota_backend_bytes",
                "Current backend storage quota size in bytes.",
            ),
            health_success: counter(&r, "etcd_server_health_success", "The total number of successful health checks"),
            health_failures: counter(&r, "etcd_server_health_failures", "The total number of failed health checks"),
            current_revision: gauge(&r, "etcd_debugging_mvcc_current_revision", "The current revision of store."),
            compact_revision: gauge(
                &r,
                "etcd_debugging_mvcc_compact_revision",
                "The revision of the last compaction in store.",
            ),
            versions: [
                (
                    "etcd_server_version",
                    "Which version is running. 1 for 'server_version' label with current version.",
                    "server_version",
                ),
                (
                    "etcd_cluster_version",
                    "Which version is running. 1 for 'cluster_version' label with current cluster version",
                    "cluster_version",
                ),
                (
                    "etcd_server_id",
                    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
                    "server_id",
                ),
            ]
            .map(|(name, help, label)| {
                register(
                    &r,
                    IntGaugeVec::new(Opts::new(name, help), &[label]).unwrap_or_else(|_| unreachable_metric(name)),
                )
            }),
            wal_fsync: histogram(
                &r,
                "etcd_disk_wal_fsync_duration_seconds",
                "The latency distributions of fsync called by WAL.",
                doubling(0.001, 14),
            ),
            peer_rtt: histogram_vec(
                &r,
                "etcd_network_peer_round_trip_time_seconds",
                "Round-Trip-Time histogram between peers.",
                doubling(0.0001, 16),
                &["To"],
            ),
            grpc_started: counter_vec(
                &r,
                "grpc_server_started_total",
                "Total number of RPCs started on the server.",
                &grpc,
            ),
            grpc_handled: counter_vec(
                &r,
                "grpc_server_handled_total",
                "Total number of RPCs completed on the server, regardless of success or failure.",
                &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
            ),
            peer_sent_bytes: counter_vec(
                &r,
                "etcd_network_peer_sent_bytes_total",
                "The total number of bytes sent to peers.",
                &["To"],
            ),
            peer_received_bytes: counter_vec(
                &r,
                "etcd_network_peer_received_bytes_total",
                "The total number of bytes received from peers.",
                &["From"],
            ),
            peer_sent_failures: counter_vec(
                &r,
                "etcd_network_peer_sent_failures_total",
                "The total number of send failures from peers.",
                &["To"],
            ),
            grpc_msg_received: counter_vec(
                &r,
                "grpc_server_msg_received_total",
                "Total number of RPC stream messages received on the server.",
                &grpc,
            ),
            grpc_msg_sent: counter_vec(
                &r,
                "grpc_server_msg_sent_total",
                "Total number of gRPC stream messages sent by the server.",
                &grpc,
            ),
            client_received_bytes: counter(
                &r,
                "etcd_network_client_grpc_received_bytes_total",
                "The total number of bytes received from grpc clients.",
            ),
            client_sent_bytes: counter(
                &r,
                "etcd_network_client_grpc_sent_bytes_total",
                "The total number of bytes sent to grpc clients.",
            ),
            client_requests: counter_vec(
                &r,
                "etcd_server_client_requests_total",
                "The total number of client requests per client version.",
                &["client_api_version", "type"],
            ),
            mvcc_ops: [("range", "ranges"), ("put", "puts"), ("delete", "deletes"), ("txn", "txns")].map(
                |(op, ops)| {
                    let help = format!("Total number of {ops} seen by this member.");
                    ["etcd_mvcc", "etcd_debugging_mvcc"]
                        .map(|prefix| counter(&r, &format!("{prefix}_{op}_total"), &help))
                },
            ),
            put_size: gauge(
                &r,
                "etcd_debugging_mvcc_total_put_size_in_bytes",
                "The total size of put kv pairs seen by this member.",
            ),
            db_size_debugging: gauge(
                &r,
                "etcd_debugging_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.",
            ),
            http_received: counter_vec(
                &r,
                "etcd_http_received_total",
                "Counter of requests received into the system (successfully parsed and authd).",
                &["method"],
            ),
            http_failed: counter_vec(
                &r,
                "etcd_http_failed_total",
                "Counter of handle failures of requests (non-watches), by method (GET/PUT etc.) and code (400, 500 etc.).",
                &["code", "method"],
            ),
            http_duration: histogram_vec(
                &r,
                "etcd_http_successful_duration_seconds",
                "Bucketed histogram of processing time (s) of successfully handled requests (non-watches), by method (GET/PUT etc.).",
                doubling(0.0005, 13),
                &["method"],
            ),
            store_reads: counter_vec(
                &r,
                "etcd_debugging_store_reads_total",
                "Total number of reads action by (get/getRecursive), local to this member.",
                &["action"],
            ),
            store_writes: counter_vec(
                &r,
                "etcd_debugging_store_writes_total",
                "Total number of writes (e.g. set/compareAndDelete) seen by this member.",
                &["action"],
            ),
            store_expires: counter(&r, "etcd_debugging_store_expires_total", "Total number of expired keys."),
            store_watch_requests: counter(
                &r,
                "etcd_debugging_store_watch_requests_total",
                "Total number of incoming watch requests (new or reestablished).",
            ),
            lease_granted: counter(&r, "etcd_debugging_lease_granted_total", "The total number of granted leases."),
            lease_revoked: counter(&r, "etcd_debugging_lease_revoked_total", "The total number of revoked leases."),
            lease_renewed: counter(
                &r,
                "etcd_debugging_lease_renewed_total",
                "The number of renewed leases seen by the leader.",
            ),
            lease_expired: counter(
                &r,
                "etcd_debugging_server_lease_expired_total",
                "The total number of expired leases.",
            ),
            lease_ttl: histogram(
                &r,
                "etcd_debugging_lease_ttl_total",
                "Bucketed histogram of lease TTLs.",
                doubling(1.0, 24),
            ),
            learner_promotions: counter(
                &r,
                "etcd_server_learner_promote_successes",
                "The total number of successful learner promotions while this member is leader.",
            ),
            slow_applies: counter(
                &r,
                "etcd_server_slow_apply_total",
                "The total number of slow apply requests (likely overloaded from slow disk).",
            ),
            read_indexes_failed: counter(
                &r,
                "etcd_server_read_indexes_failed_total",
                "The total number of failed read indexes seen.",
            ),
            slow_read_indexes: counter(
                &r,
                "etcd_server_slow_read_indexes_total",
                "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
            ),
            snapshot_applying: gauge(
                &r,
                "etcd_server_snapshot_apply_in_progress_total",
                "1 if the server is applying the incoming snapshot. 0 if none.",
            ),
            wal_write_bytes: gauge(&r, "etcd_disk_wal_write_bytes_total", "Total number of bytes written in WAL."),
            defrag_duration: histogram(
                &r,
                "etcd_disk_backend_defrag_duration_seconds",
                "The latency distribution of backend defragmentation.",
                doubling(0.1, 13),
            ),
            defrag_inflight: gauge(
                &r,
                "etcd_disk_defrag_inflight",
                "Whether or not defrag is active on the member. 1 means active, 0 means not.",
            ),
            snapshot_duration: histogram(
                &r,
                "etcd_disk_backend_snapshot_duration_seconds",
                "The latency distribution of backend snapshots.",
                doubling(0.01, 17),
            ),
            hash_duration: histogram(
                &r,
                "etcd_mvcc_hash_duration_seconds",
                "The latency distribution of storage hash operation.",
                doubling(0.01, 15),
            ),
            hash_rev_duration: histogram(
                &r,
                "etcd_mvcc_hash_rev_duration_seconds",
                "The latency distribution of storage hash by revision operation.",
                doubling(0.01, 15),
            ),
            fd_used: gauge(&r, "os_fd_used", "The number of used file descriptors."),
            fd_limit: gauge(&r, "os_fd_limit", "The file descriptor limit."),
            virtual_memory_max: register(
                &r,
                prometheus::Gauge::new(
                    "process_virtual_memory_max_bytes",
                    "Maximum amount of virtual memory available in bytes.",
                )
                .unwrap_or_else(|_| unreachable_metric("process_virtual_memory_max_bytes")),
            ),
            registry: r,
        }
    }

    /// Everything, in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The gRPC call kind of an etcd method, as go-grpc-prometheus labels it.
pub fn grpc_type(method: &str) -> &'static str {
    match method {
        "Watch" | "LeaseKeepAlive" => "bidi_stream",
        "Snapshot" | "Observe" => "server_stream",
        _ => "unary",
    }
}

/// Go's name of a gRPC status code, as the `grpc_code` label has it.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_defined_and_rendered() {
        let m = metrics();
        m.proposals_failed.inc();
        m.wal_fsync.observe(0.002);
        m.peer_rtt.with_label_values(&["8e9e05c52164694d"]).observe(0.0005);
        m.grpc_started.with_label_values(&["unary", "etcdserverpb.KV", "Range"]).inc();
        let text = m.render();
        for name in [
            "etcd_server_has_leader",
            "etcd_server_leader_changes_seen_total",
            "etcd_server_proposals_committed_total",
            "etcd_server_proposals_applied_total",
            "etcd_server_proposals_pending",
            "etcd_server_proposals_failed_total",
            "etcd_mvcc_db_total_size_in_bytes",
            "etcd_debugging_mvcc_keys_total",
            "etcd_debugging_mvcc_watch_stream_total",
            "etcd_debugging_mvcc_watcher_total",
            "etcd_debugging_store_watchers",
            "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"}",
            "etcd_network_peer_round_trip_time_seconds_count{To=\"8e9e05c52164694d\"}",
            "grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}",
            "etcd_server_is_learner",
            "etcd_server_quota_backend_bytes",
            "etcd_server_health_success",
            "etcd_server_health_failures",
            "etcd_debugging_mvcc_current_revision",
            "etcd_debugging_mvcc_compact_revision",
            "etcd_mvcc_put_total",
            "etcd_debugging_mvcc_txn_total",
            "etcd_debugging_mvcc_total_put_size_in_bytes",
            "etcd_debugging_mvcc_events_total",
            "etcd_network_client_grpc_sent_bytes_total",
            "etcd_debugging_lease_ttl_total_bucket{le=\"8388608\"}",
            "etcd_debugging_server_lease_expired_total",
            "etcd_disk_wal_write_bytes_total",
            "etcd_disk_backend_defrag_duration_seconds_bucket{le=\"409.6\"}",
            "etcd_mvcc_hash_rev_duration_seconds_count",
            "etcd_server_slow_read_indexes_total",
            "os_fd_limit",
            "process_virtual_memory_max_bytes",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        #[cfg(target_os = "linux")]
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
