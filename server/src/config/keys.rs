//! The configuration keys etcd 3.4 knows, sorted by what etcd-rs does with them.

/// Keys etcd-rs reads, with their meaning identical to etcd's.
pub const SUPPORTED: &[&str] = &[
    "name",
    "data-dir",
    "listen-client-urls",
    "advertise-client-urls",
    "listen-peer-urls",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
    "max-request-bytes",
    "max-txn-ops",
    "log-level",
    "logger",
    "log-outputs",
    "heartbeat-interval",
    "election-timeout",
    "snapshot-count",
    "enable-v2",
    "experimental-watch-progress-notify-interval",
    "quota-backend-bytes",
    "cors",
    "auto-compaction-mode",
    "auto-compaction-retention",
    "force-new-cluster",
    "experimental-corrupt-check-time",
];

/// Keys accepted and validated but without effect yet; a warning says so at startup.
pub const ACCEPTED_UNUSED: &[&str] = &[
    "initial-election-tick-advance",
    "strict-reconfig-check",
    "pre-vote",
    "max-snapshots",
    "max-wals",
    "host-whitelist",
    "metrics",
    "enable-pprof",
    "enable-grpc-gateway",
    "grpc-keepalive-min-time",
    "grpc-keepalive-interval",
    "grpc-keepalive-timeout",
    "max-concurrent-streams",
    "backend-batch-interval",
    "backend-batch-limit",
    "auth-token",
    "bcrypt-cost",
    "auth-token-ttl",
    "experimental-initial-corrupt-check",
    "experimental-enable-lease-checkpoint",
    "experimental-compaction-batch-limit",
    "experimental-warning-apply-duration",
    "debug",
    "log-package-levels",
];

/// Keys whose meaning etcd-rs cannot honour yet and that would change what the member is
/// (security, identity, data placement): refused with an error rather than ignored.
pub const REFUSED: &[&str] = &[
    "wal-dir",
    "discovery",
    "discovery-fallback",
    "discovery-proxy",
    "discovery-srv",
    "discovery-srv-name",
    "client-transport-security",
    "peer-transport-security",
    "cert-file",
    "key-file",
    "client-cert-auth",
    "trusted-ca-file",
    "auto-tls",
    "peer-cert-file",
    "peer-key-file",
    "peer-client-cert-auth",
    "peer-trusted-ca-file",
    "peer-auto-tls",
    "client-crl-file",
    "client-cert-allowed-hostname",
    "peer-crl-file",
    "peer-cert-allowed-cn",
    "peer-cert-allowed-hostname",
    "cipher-suites",
    "listen-metrics-urls",
    "proxy",
    "proxy-failure-wait",
    "proxy-refresh-interval",
    "proxy-dial-timeout",
    "proxy-write-timeout",
    "proxy-read-timeout",
    "unsafe-no-fsync",
    "experimental-enable-v2v3",
    "experimental-backend-bbolt-freelist-type",
    "experimental-peer-skip-client-san-verification",
];

/// What etcd-rs does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Read and honoured.
    Supported,
    /// Accepted, without effect yet.
    Unused,
    /// Refused.
    Refused,
    /// Not an etcd key at all.
    Unknown,
}

/// Classifies a key.
pub fn kind(key: &str) -> Kind {
    if SUPPORTED.contains(&key) {
        Kind::Supported
    } else if ACCEPTED_UNUSED.contains(&key) {
        Kind::Unused
    } else if REFUSED.contains(&key) {
        Kind::Refused
    } else {
        Kind::Unknown
    }
}
