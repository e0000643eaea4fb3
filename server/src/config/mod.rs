//! Server configuration with etcd's names and precedence: a YAML file given with
//! `--config-file` replaces flags and environment; otherwise flags win over `ETCD_*`
//! variables, which win over defaults.
//!
//! Every source is reduced to `(key, value)` text pairs first, so one parser (and one set
//! of error messages naming the key) serves all of them.

mod cli;
mod keys;
mod urls;
mod yaml;

use std::path::PathBuf;

pub use crate::compactor::AutoCompaction;

pub use cli::{CliError, Invocation, parse_args};
pub use urls::ListenUrl;

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid value for '{key}': {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An etcd key that etcd-rs cannot honour yet.
    #[error("'{key}' is not supported by etcd-rs yet")]
    Unsupported {
        /// The key.
        key: String,
    },
    /// A key etcd does not have either.
    #[error("unknown configuration key '{key}'")]
    Unknown {
        /// The key.
        key: String,
    },
    /// The config file cannot be read or is not a YAML mapping.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), reason: reason.into() }
}

/// `initial-cluster-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// Bootstrap a new cluster.
    New,
    /// Join an existing cluster.
    Existing,
}

/// Where and how logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `log-level`: debug, info, warn, error, panic or fatal.
    pub level: String,
    /// `logger: zap` writes JSON lines, `capnslog` plain text.
    pub json: bool,
    /// `log-outputs: stdout` instead of stderr.
    pub stdout: bool,
}

/// A member's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `name`.
    pub name: String,
    /// `data-dir` (default `<name>.etcd`).
    pub data_dir: PathBuf,
    /// `listen-client-urls`.
    pub listen_client_urls: Vec<ListenUrl>,
    /// `advertise-client-urls`.
    pub advertise_client_urls: Vec<String>,
    /// `listen-peer-urls`.
    pub listen_peer_urls: Vec<ListenUrl>,
    /// `initial-advertise-peer-urls`.
    pub initial_advertise_peer_urls: Vec<String>,
    /// `initial-cluster`: member name → peer URLs, in the order given.
    pub initial_cluster: Vec<(String, Vec<String>)>,
    /// `initial-cluster-state`.
    pub initial_cluster_state: ClusterState,
    /// `initial-cluster-token`.
    pub initial_cluster_token: String,
    /// `max-request-bytes`.
    pub max_request_bytes: usize,
    /// `max-txn-ops`.
    pub max_txn_ops: usize,
    /// `heartbeat-interval`, ms.
    pub heartbeat_interval_ms: u64,
    /// `election-timeout`, ms.
    pub election_timeout_ms: u64,
    /// `snapshot-count`.
    pub snapshot_count: u64,
    /// `enable-v2`: serve the v2 HTTP API (on by default, unlike etcd 3.4).
    pub enable_v2: bool,
    /// `experimental-watch-progress-notify-interval`: how often idle watchers that asked
    /// for progress notifications get one (etcd's default 10 minutes).
    pub watch_progress_notify_interval: std::time::Duration,
    /// `quota-backend-bytes`: 0 is etcd's default (2 GiB), negative means no quota.
    pub quota_backend_bytes: i64,
    /// `auto-compaction-mode` with `auto-compaction-retention`; `None` when off.
    pub auto_compaction: Option<AutoCompaction>,
    /// `experimental-corrupt-check-time`: how often the leader compares members' KV
    /// hashes; `None` (etcd's default, 0) turns the check off.
    pub corrupt_check_interval: Option<std::time::Duration>,
    /// `force-new-cluster`: restart as the only member of the cluster, keeping the data.
    pub force_new_cluster: bool,
    /// `cors`: the origins browsers may read HTTP answers from; empty or `*` is any.
    pub cors: Vec<String>,
    /// Logging.
    pub log: LogConfig,
    /// Keys that were given but have no effect yet, to be reported once logging is up.
    pub unused_keys: Vec<String>,
}

impl Config {
    /// Builds a configuration from `(key, value)` pairs over etcd's defaults.
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Result<Self, ConfigError> {
        let mut raw = std::collections::BTreeMap::new();
        let mut unused_keys = Vec::new();
        for (key, value) in pairs {
            match keys::kind(&key) {
                keys::Kind::Supported => {
                    raw.insert(key, value);
                }
                keys::Kind::Unused => {
                    check_unused(&key, &value)?;
                    unused_keys.push(key);
                }
                keys::Kind::Refused => return Err(ConfigError::Unsupported { key }),
                keys::Kind::Unknown => return Err(ConfigError::Unknown { key }),
            }
        }
        let get = |k: &str| raw.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let name = get("name").unwrap_or("default").to_string();
        let listen_client_given = get("listen-client-urls").is_some();
        let listen_client_urls =
            urls::listen("listen-client-urls", get("listen-client-urls").unwrap_or("http://localhost:2379"))?;
        let advertise_client_urls = match get("advertise-client-urls") {
            Some(v) => urls::advertised("advertise-client-urls", v)?,
            None if listen_client_given => {
                return Err(invalid(
                    "advertise-client-urls",
                    "--advertise-client-urls is required when --listen-client-urls is set explicitly",
                ));
            }
            None => vec!["http://localhost:2379".to_string()],
        };
        let initial_advertise_peer_urls = urls::advertised(
            "initial-advertise-peer-urls",
            get("initial-advertise-peer-urls").unwrap_or("http://localhost:2380"),
        )?;
        let initial_cluster = match get("initial-cluster") {
            Some(v) => urls::initial_cluster(v)?,
            None => vec![(name.clone(), initial_advertise_peer_urls.clone())],
        };
        let initial_cluster_state = match get("initial-cluster-state").unwrap_or("new") {
            "new" => ClusterState::New,
            "existing" => ClusterState::Existing,
            other => {
                return Err(invalid("initial-cluster-state", format!("\"{other}\" is not \"new\" or \"existing\"")));
            }
        };
        let log = LogConfig {
            level: one_of(
                "log-level",
                get("log-level").unwrap_or("info"),
                &["debug", "info", "warn", "error", "panic", "fatal"],
            )?,
            // etcd's names (capnslog: text lines, zap: JSON lines), and the plain ones.
            json: matches!(
                one_of("logger", get("logger").unwrap_or("capnslog"), &["capnslog", "zap", "text", "json"])?.as_str(),
                "zap" | "json"
            ),
            stdout: one_of("log-outputs", get("log-outputs").unwrap_or("default"), &["default", "stderr", "stdout"])?
                == "stdout",
        };
        let cfg = Config {
            data_dir: PathBuf::from(get("data-dir").map_or_else(|| format!("{name}.etcd"), str::to_string)),
            listen_client_urls,
            advertise_client_urls,
            listen_peer_urls: urls::listen(
                "listen-peer-urls",
                get("listen-peer-urls").unwrap_or("http://localhost:2380"),
            )?,
            initial_advertise_peer_urls,
            initial_cluster,
            initial_cluster_state,
            initial_cluster_token: get("initial-cluster-token").unwrap_or("etcd-cluster").to_string(),
            max_request_bytes: number("max-request-bytes", get("max-request-bytes").unwrap_or("1572864"))?,
            max_txn_ops: number("max-txn-ops", get("max-txn-ops").unwrap_or("128"))?,
            heartbeat_interval_ms: number("heartbeat-interval", get("heartbeat-interval").unwrap_or("100"))? as u64,
            election_timeout_ms: number("election-timeout", get("election-timeout").unwrap_or("1000"))? as u64,
            snapshot_count: number("snapshot-count", get("snapshot-count").unwrap_or("100000"))? as u64,
            enable_v2: one_of("enable-v2", get("enable-v2").unwrap_or("true"), &["true", "false"])? == "true",
            watch_progress_notify_interval: duration(
                "experimental-watch-progress-notify-interval",
                get("experimental-watch-progress-notify-interval").unwrap_or("10m"),
            )?,
            quota_backend_bytes: get("quota-backend-bytes")
                .unwrap_or("0")
                .parse()
                .map_err(|_| invalid("quota-backend-bytes", "is not an integer"))?,
            auto_compaction: auto_compaction(
                get("auto-compaction-mode").unwrap_or("periodic"),
                get("auto-compaction-retention").unwrap_or("0"),
            )?,
            corrupt_check_interval: match get("experimental-corrupt-check-time").unwrap_or("0") {
                "0" | "0s" => None,
                v => Some(duration("experimental-corrupt-check-time", v)?),
            },
            force_new_cluster: one_of(
                "force-new-cluster",
                get("force-new-cluster").unwrap_or("false"),
                &["true", "false"],
            )? == "true",
            cors: get("cors")
                .unwrap_or("*")
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect(),
            log,
            unused_keys,
            name,
        };
        cfg.check_membership()?;
        cfg.check_timing()?;
        Ok(cfg)
    }

    /// etcd refuses a member whose name is missing from `initial-cluster`, or whose
    /// advertised peer URLs differ from the ones listed for it there.
    fn check_membership(&self) -> Result<(), ConfigError> {
        let Some((_, urls)) = self.initial_cluster.iter().find(|(n, _)| *n == self.name) else {
            return Err(invalid(
                "initial-cluster",
                format!("couldn't find local name \"{}\" in the initial cluster configuration", self.name),
            ));
        };
        let (mut listed, mut advertised) = (urls.clone(), self.initial_advertise_peer_urls.clone());
        listed.sort();
        advertised.sort();
        if listed != advertised {
            return Err(invalid(
                "initial-cluster",
                format!(
                    "--initial-cluster has {}={} but --initial-advertise-peer-urls is {}",
                    self.name,
                    urls.join(","),
                    self.initial_advertise_peer_urls.join(",")
                ),
            ));
        }
        Ok(())
    }
}

impl Config {
    /// etcd's rules: a heartbeat of at least 1 ms, and an election timeout of at least five
    /// heartbeats and at most 50 s.
    fn check_timing(&self) -> Result<(), ConfigError> {
        if self.heartbeat_interval_ms == 0 {
            return Err(invalid("heartbeat-interval", "must be at least 1 (ms)"));
        }
        if self.election_timeout_ms < 5 * self.heartbeat_interval_ms {
            return Err(invalid(
                "election-timeout",
                format!(
                    "{} ms should be at least 5 times heartbeat-interval ({} ms)",
                    self.election_timeout_ms, self.heartbeat_interval_ms
                ),
            ));
        }
        if self.election_timeout_ms > 50_000 {
            return Err(invalid("election-timeout", "is too long, and should be set less than 50 seconds"));
        }
        Ok(())
    }
}

fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<String, ConfigError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(invalid(key, format!("\"{value}\" is not one of {}", allowed.join(", "))))
    }
}

/// A Go duration (`10m`, `1m30s`, `500ms`, `1.5h`; a bare integer is nanoseconds, as a
/// YAML config written from etcd's struct has it). Zero is refused: it would notify
/// without pause.
fn duration(key: &str, value: &str) -> Result<std::time::Duration, ConfigError> {
    let bad = || invalid(key, format!("\"{value}\" is not a duration such as 10m, 30s or 500ms"));
    // Go's time.Duration is an int64 of nanoseconds.
    if let Ok(ns) = value.parse::<i64>() {
        return u64::try_from(ns).ok().filter(|&ns| ns > 0).map(std::time::Duration::from_nanos).ok_or_else(bad);
    }
    let mut total = 0f64;
    let mut rest = value;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let number: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    if total <= 0.0 {
        return Err(bad());
    }
    go_duration(total).ok_or_else(bad)
}

/// `seconds` as a duration, if Go's `time.Duration` (int64 nanoseconds, about 292 years)
/// holds it, as etcd's flags must.
fn go_duration(seconds: f64) -> Option<std::time::Duration> {
    const GO_MAX_SECONDS: f64 = i64::MAX as f64 / 1e9;
    // `i64::MAX as f64` rounds up to 2^63, one past the largest duration.
    if !(seconds.is_finite() && seconds < GO_MAX_SECONDS) {
        return None;
    }
    std::time::Duration::try_from_secs_f64(seconds).ok()
}

/// etcd's reading of the auto-compaction flags: in periodic mode the retention is a Go
/// duration or a bare number of hours, in revision mode a number of revisions; zero
/// turns auto-compaction off.
fn auto_compaction(mode: &str, retention: &str) -> Result<Option<AutoCompaction>, ConfigError> {
    let key = "auto-compaction-retention";
    match one_of("auto-compaction-mode", mode, &["periodic", "revision"])?.as_str() {
        "revision" => {
            let revisions: i64 =
                retention.parse().map_err(|_| invalid(key, format!("\"{retention}\" is not a number of revisions")))?;
            Ok((revisions > 0).then_some(AutoCompaction::Revision(revisions)))
        }
        _ => {
            if let Ok(hours) = retention.parse::<f64>() {
                let not_duration = || invalid(key, format!("\"{retention}\" is not a duration"));
                if hours.is_nan() || hours < 0.0 {
                    return Err(not_duration());
                }
                if hours == 0.0 {
                    return Ok(None);
                }
                return go_duration(hours * 3600.0).map(|d| Some(AutoCompaction::Periodic(d))).ok_or_else(not_duration);
            }
            Ok(Some(AutoCompaction::Periodic(duration(key, retention)?)))
        }
    }
}

fn number(key: &str, value: &str) -> Result<usize, ConfigError> {
    value.parse().map_err(|_| invalid(key, format!("\"{value}\" is not a non-negative integer")))
}

/// Keys without effect are still checked, so a typo'd value fails now, not when the key
/// starts to matter.
fn check_unused(key: &str, value: &str) -> Result<(), ConfigError> {
    const BOOLS: &[&str] = &[
        "initial-election-tick-advance",
        "strict-reconfig-check",
        "pre-vote",
        "enable-pprof",
        "enable-grpc-gateway",
        "debug",
        "experimental-initial-corrupt-check",
        "experimental-enable-lease-checkpoint",
    ];
    const NUMBERS: &[&str] = &[
        "quota-backend-bytes",
        "max-snapshots",
        "max-wals",
        "max-concurrent-streams",
        "backend-batch-limit",
        "bcrypt-cost",
        "auth-token-ttl",
        "experimental-compaction-batch-limit",
    ];
    if BOOLS.contains(&key) {
        one_of(key, value, &["true", "false"])?;
    } else if NUMBERS.contains(&key) {
        value.parse::<u64>().map_err(|_| invalid(key, format!("\"{value}\" is not a non-negative integer")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
