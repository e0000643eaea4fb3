//! Command line of `etcd-rs-bench`, modelled on etcd's `benchmark` tool.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Load generator for etcd-rs and etcd: sends a fixed number of requests from concurrent
/// clients and reports throughput and latency percentiles as one JSON object on stdout.
#[derive(Debug, Parser)]
#[command(name = "etcd-rs-bench")]
pub struct Cli {
    /// Comma-separated gRPC endpoints (`host:port` or `http://host:port`)
    #[arg(long, global = true, value_delimiter = ',', default_value = "127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// Number of gRPC connections (clients are spread over them)
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub conns: u32,
    /// Number of concurrent clients sending requests
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,
    /// Also write the JSON report to this file
    #[arg(long, global = true)]
    pub output: Option<PathBuf>,
    /// The benchmark to run.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Benchmark put
    Put(PutArgs),
    /// Benchmark range
    Range(RangeArgs),
    /// Lease grant, put with the lease, revoke: one cycle per request
    LeaseCycle(LeaseCycleArgs),
    /// Lease keep-alives: each client keeps its own lease alive over its own stream
    LeaseKeepalive(TotalArgs),
    /// Watch fan-out: watchers on one key (spread over --conns streams), puts from one
    /// client; reports events per second and put-to-event latency
    WatchFanout(WatchFanoutArgs),
    /// Memory per idle watcher: reads the server's RSS (--server-pid, same machine)
    /// before and after creating the watchers
    WatchIdle(WatchIdleArgs),
    /// Benchmark v2 set (`PUT /v2/keys/...`; one HTTP/1.1 connection per client)
    V2Set(V2SetArgs),
    /// Benchmark v2 get (`GET /v2/keys/...`; one HTTP/1.1 connection per client)
    V2Get(V2GetArgs),
    /// Download a snapshot (Maintenance.Snapshot) and report MB/s
    Snapshot,
    /// Defragment while one client puts: the defragmentation time and the slowest put
    DefragPause,
    /// Server memory (--server-pid, same machine) while reading every key under a prefix
    RangeRss(RangeRssArgs),
}

/// `range-rss` arguments.
#[derive(Debug, Args)]
pub struct RangeRssArgs {
    /// The prefix to read (empty: every key).
    pub prefix: String,
    /// The server's process id.
    #[arg(long)]
    pub server_pid: u32,
    /// Read with RangeStream (etcd 3.7) instead of Range.
    #[arg(long)]
    pub stream: bool,
}

/// `v2-set` options.
#[derive(Debug, Args)]
pub struct V2SetArgs {
    /// Total number of set requests
    #[arg(long, default_value_t = 10000)]
    pub total: u64,
    /// Value size of set request
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
    /// Maximum possible keys (named /bench/<n>)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space_size: u64,
}

/// `v2-get` options.
#[derive(Debug, Args)]
pub struct V2GetArgs {
    /// The key to read (e.g. /bench/0)
    pub key: String,
    /// Total number of get requests
    #[arg(long, default_value_t = 10000)]
    pub total: u64,
    /// Read through the leader (`quorum=true`)
    #[arg(long)]
    pub quorum: bool,
}

/// `put` options.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Total number of put requests
    #[arg(long, default_value_t = 10000)]
    pub total: u64,
    /// Key size of put request
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size of put request
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
    /// Maximum possible keys
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub key_space_size: u64,
    /// Use sequential keys instead of random ones
    #[arg(long)]
    pub sequential_keys: bool,
    /// Idle watchers (on keys nobody writes, one stream per connection) held open while
    /// the puts run: what a put costs a server that also serves them
    #[arg(long, default_value_t = 0)]
    pub idle_watchers: u32,
}

/// `range` options.
#[derive(Debug, Args)]
pub struct RangeArgs {
    /// First key of the range
    pub key: String,
    /// End of the range (exclusive); a single key when omitted
    pub end: Option<String>,
    /// Total number of range requests
    #[arg(long, default_value_t = 10000)]
    pub total: u64,
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l", value_parser = ["l", "s"])]
    pub consistency: String,
}

/// `lease-cycle` options.
#[derive(Debug, Args)]
pub struct LeaseCycleArgs {
    /// Total number of grant+put+revoke cycles
    #[arg(long, default_value_t = 10000)]
    pub total: u64,
    /// Value size of the put
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
}

/// Options of loads that only have a total.
#[derive(Debug, Args)]
pub struct TotalArgs {
    /// Total number of requests
    #[arg(long, default_value_t = 10000)]
    pub total: u64,
}

/// `watch-fanout` options.
#[derive(Debug, Args)]
pub struct WatchFanoutArgs {
    /// Watchers on the key
    #[arg(long, default_value_t = 200)]
    pub watchers: u32,
    /// Puts to the watched key
    #[arg(long, default_value_t = 2000)]
    pub puts: u64,
    /// Value size of the puts
    #[arg(long, default_value_t = 8)]
    pub val_size: usize,
}

/// `watch-idle` options.
#[derive(Debug, Args)]
pub struct WatchIdleArgs {
    /// Watchers to create (spread over --conns streams)
    #[arg(long, default_value_t = 10000)]
    pub watchers: u32,
    /// Process id of the server (it must run on this machine)
    #[arg(long)]
    pub server_pid: u32,
}
