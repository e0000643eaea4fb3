//! Command-line syntax: etcdctl 3.4's global flags and the commands etcdctl-rs implements.
//!
//! Boolean flags accept pflag's forms: `--flag`, `--flag=true`, `--flag=0`.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use etcd_rs_client::ClientOptions;

use crate::go;

/// etcdctl-rs: a command line client for etcd-rs and etcd, compatible with etcdctl 3.4.
#[derive(Debug, Parser)]
#[command(name = "etcdctl-rs", infer_subcommands = true)]
pub struct Cli {
    /// Global flags (valid before or after the command, like etcdctl's persistent flags).
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// gRPC endpoints
    #[arg(long, global = true, env = "ETCDCTL_ENDPOINTS", value_delimiter = ',', default_value = "127.0.0.1:2379")]
    pub endpoints: Vec<String>,
    /// set the output format (fields, json, protobuf, simple, table)
    #[arg(short = 'w', long = "write-out", global = true, env = "ETCDCTL_WRITE_OUT", default_value = "simple")]
    pub write_out: String,
    /// print byte strings as hex encoded strings
    #[arg(long, global = true, env = "ETCDCTL_HEX", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub hex: bool,
    /// dial timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s", value_parser = go::duration::parse)]
    pub dial_timeout: Duration,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long, global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s", value_parser = go::duration::parse)]
    pub command_timeout: Duration,
    /// keepalive time for client connections
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIME", default_value = "2s", value_parser = go::duration::parse)]
    pub keepalive_time: Duration,
    /// keepalive timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIMEOUT", default_value = "6s", value_parser = go::duration::parse)]
    pub keepalive_timeout: Duration,
    /// enable client-side debug logging
    #[arg(long, global = true, env = "ETCDCTL_DEBUG", default_value = "false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub debug: bool,
    /// disable transport security for client connections
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_TRANSPORT", default_value = "true", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub insecure_transport: bool,
    /// skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY", default_value = "false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub insecure_skip_tls_verify: bool,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true, env = "ETCDCTL_CERT", default_value = "")]
    pub cert: String,
    /// identify secure client using this TLS key file
    #[arg(long, global = true, env = "ETCDCTL_KEY", default_value = "")]
    pub key: String,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, env = "ETCDCTL_CACERT", default_value = "")]
    pub cacert: String,
    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, env = "ETCDCTL_USER", default_value = "")]
    pub user: String,
    /// password for authentication (if this option is used, --user option shouldn't include password)
    #[arg(long, global = true, env = "ETCDCTL_PASSWORD", default_value = "")]
    pub password: String,
    /// domain name to query for SRV records describing cluster endpoints
    #[arg(short = 'd', long, global = true, env = "ETCDCTL_DISCOVERY_SRV", default_value = "")]
    pub discovery_srv: String,
    /// service name to query when using DNS discovery
    #[arg(long, global = true, env = "ETCDCTL_DISCOVERY_SRV_NAME", default_value = "")]
    pub discovery_srv_name: String,
    /// accept insecure SRV records describing cluster endpoints
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_DISCOVERY", default_value = "true", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub insecure_discovery: bool,
    /// What the `ETCDCTL_*` environment check found (filled in after parsing).
    #[arg(skip)]
    pub env: crate::env::EnvCheck,
    /// Whether `--command-timeout` was given (flag or environment; filled in after parsing):
    /// `snapshot save` has no timeout otherwise, like etcdctl's.
    #[arg(skip)]
    pub command_timeout_set: bool,
    /// The client settings, worked out from the flags on first use (see
    /// `commands::client_options`): TLS files are read and a password prompted for once.
    #[arg(skip)]
    pub client_options: OnceLock<ClientOptions>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Puts the given key into the store
    Put(PutArgs),
    /// Gets the key or a range of keys
    Get(GetArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(DelArgs),
    /// Txn processes all the requests in one transaction
    Txn(TxnArgs),
    /// Compacts the event history in etcd
    Compaction(CompactionArgs),
    /// Watches events stream on keys or prefixes
    Watch(WatchArgs),
    /// Acquires a named lock
    Lock(LockArgs),
    /// Observes and participates in leader election
    Elect(ElectArgs),
    /// Lease related commands
    Lease(LeaseArgs),
    /// Membership related commands
    Member(MemberArgs),
    /// Endpoint related commands
    Endpoint(EndpointArgs),
    /// Alarm related commands
    Alarm(AlarmArgs),
    /// Defragments the storage of the etcd members with given endpoints
    Defrag(DefragArgs),
    /// Manages etcd node snapshots
    Snapshot(SnapshotArgs),
    /// commands for checking properties of the etcd cluster
    Check(CheckArgs),
    /// Generate the autocompletion script for the specified shell
    Completion {
        /// The shell to generate the script for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Transfers leadership to another etcd cluster member.
    MoveLeader {
        /// `<transferee-member-id>`
        args: Vec<String>,
    },
    /// Prints the version of etcdctl
    Version,
}

/// `put [options] <key> <value>`; the value comes from stdin when omitted.
#[derive(Debug, Default, Args)]
pub struct PutArgs {
    /// lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0")]
    pub lease: String,
    /// return the previous key-value pair before modification
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub prev_kv: bool,
    /// updates the key using its current value
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub ignore_value: bool,
    /// updates the key using its current lease
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub ignore_lease: bool,
    /// <key> <value>
    #[arg(value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `get [options] <key> [range_end]`.
#[derive(Debug, Default, Args)]
pub struct GetArgs {
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long, default_value = "")]
    pub order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long, default_value = "")]
    pub sort_by: String,
    /// Maximum number of results
    #[arg(long, default_value = "0", value_parser = go::strconv::parse_int_flag)]
    pub limit: i64,
    /// Get keys with matching prefix
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub from_key: bool,
    /// Specify the kv revision
    #[arg(long, default_value = "0", value_parser = go::strconv::parse_int_flag)]
    pub rev: i64,
    /// Get only the keys
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub keys_only: bool,
    /// Get only the count (etcdctl 3.5; needs `-w fields`)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub count_only: bool,
    /// Only write values when using the "simple" output format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub print_value_only: bool,
    /// Read with RangeStream (etcd 3.7) and merge the chunks
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub stream: bool,
    /// <key> [range_end]
    #[arg(value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `del [options] <key> [range_end]`.
#[derive(Debug, Default, Args)]
pub struct DelArgs {
    /// delete keys with matching prefix
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub prefix: bool,
    /// return deleted key-value pairs
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub prev_kv: bool,
    /// delete keys that are greater than or equal to the given key using byte compare
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub from_key: bool,
    /// <key> [range_end]
    #[arg(value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `txn [options]`: compares, success and failure requests are read from stdin.
#[derive(Debug, Args)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
    #[arg(short, long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub interactive: bool,
    /// etcdctl rejects any argument; accepted here only to print its error.
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<OsString>,
}

/// `compaction [options] <revision>`.
#[derive(Debug, Args)]
pub struct CompactionArgs {
    /// Wait for the compaction to be physically applied
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub physical: bool,
    /// <revision>
    #[arg(value_name = "REVISION")]
    pub args: Vec<String>,
}

/// `member <subcommand>`.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// The member subcommand.
    #[command(subcommand)]
    pub command: MemberCommand,
}

/// Member subcommands (arguments are checked by the commands, with etcdctl's messages).
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Lists all members in the cluster
    List,
    /// Adds a member into the cluster
    Add {
        /// comma separated peer URLs for the new member.
        #[arg(long, default_value = "")]
        peer_urls: String,
        /// indicates if the new member is raft learner
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
        learner: bool,
        /// `<memberName>`
        args: Vec<String>,
    },
    /// Removes a member from the cluster
    Remove {
        /// `<memberID>`
        args: Vec<String>,
    },
    /// Updates a member in the cluster
    Update {
        /// comma separated peer URLs for the updated member.
        #[arg(long, default_value = "")]
        peer_urls: String,
        /// `<memberID>`
        args: Vec<String>,
    },
    /// Promotes a non-voting member in the cluster
    Promote {
        /// `<memberID>`
        args: Vec<String>,
    },
}

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`, also
/// the syntax of each line of `watch -i`.
#[derive(Debug, Default, Args)]
pub struct WatchArgs {
    /// Interactive mode
    #[arg(short = 'i', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub interactive: bool,
    /// Watch on a prefix if prefix is set
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub prefix: bool,
    /// Revision to start watching
    #[arg(long, default_value = "0", value_parser = go::strconv::parse_int_flag)]
    pub rev: i64,
    /// get the previous key-value pair before the event happens
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub prev_kv: bool,
    /// <key> [range_end] [-- command ...]
    #[arg(value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `lock <lockname> [exec-command arg1 arg2 ...]`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// timeout for session
    #[arg(long, default_value = "10", value_parser = go::strconv::parse_int_flag)]
    pub ttl: i64,
    /// <lockname> [command ...] (flags of the command after `--`)
    #[arg(value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `elect <election-name> [proposal]`.
#[derive(Debug, Args)]
pub struct ElectArgs {
    /// observation mode
    #[arg(short = 'l', long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub listen: bool,
    /// <election-name> [proposal]
    #[arg(value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `lease <subcommand>`.
#[derive(Debug, Args)]
pub struct LeaseArgs {
    /// The lease subcommand.
    #[command(subcommand)]
    pub command: LeaseCommand,
}

/// Lease subcommands (arguments are checked by the commands, with etcdctl's messages).
#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Creates leases
    Grant {
        /// `<ttl>`
        args: Vec<String>,
    },
    /// Revokes leases
    Revoke {
        /// `<leaseID>`
        args: Vec<String>,
    },
    /// Get lease information
    Timetolive {
        /// Get keys attached to this lease
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
        keys: bool,
        /// `<leaseID>`
        args: Vec<String>,
    },
    /// List all active leases
    List,
    /// Keeps leases alive (renew)
    KeepAlive {
        /// Resets the keep-alive time to its original value and exits immediately
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
        once: bool,
        /// `<leaseID>`
        args: Vec<String>,
    },
}

/// `endpoint <subcommand>`.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub cluster: bool,
    /// The endpoint subcommand.
    #[command(subcommand)]
    pub command: EndpointCommand,
}

/// Endpoint subcommands.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health,
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status {
        /// redraw the status every second until interrupted (etcdctl-rs only)
        #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
        watch: bool,
    },
    /// Prints the KV history hash for each endpoint in --endpoints
    #[command(name = "hashkv")]
    HashKv {
        /// maximum revision to hash (default: all revisions)
        #[arg(long, default_value = "0", value_parser = go::strconv::parse_int_flag)]
        rev: i64,
        /// etcdctl ignores arguments; so does etcdctl-rs.
        #[arg(hide = true)]
        args: Vec<String>,
    },
}

/// `alarm <subcommand>`.
#[derive(Debug, Args)]
pub struct AlarmArgs {
    /// The alarm subcommand.
    #[command(subcommand)]
    pub command: AlarmCommand,
}

/// Alarm subcommands (etcdctl rejects arguments with its own message, hence `args`).
#[derive(Debug, Subcommand)]
pub enum AlarmCommand {
    /// Disarms all alarms
    Disarm {
        /// etcdctl rejects any argument; accepted here only to print its error.
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// Lists all alarms
    List {
        /// etcdctl rejects any argument; accepted here only to print its error.
        #[arg(hide = true)]
        args: Vec<String>,
    },
}

/// `defrag [--cluster] [--data-dir DIR]`.
#[derive(Debug, Args)]
pub struct DefragArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = go::strconv::parse_bool)]
    pub cluster: bool,
    /// Optional. If present, defragments a data directory not in use by etcd (not supported by etcdctl-rs).
    #[arg(long, default_value = "")]
    pub data_dir: String,
    /// etcdctl ignores arguments; so does etcdctl-rs.
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// `snapshot <subcommand>`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The snapshot subcommand.
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

/// Snapshot subcommands: `save` talks to a member, `status` and `restore` work offline on
/// a snapshot file.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file
    Save {
        /// `<filename>`
        args: Vec<String>,
    },
    /// Gets backend snapshot status of a given file
    Status {
        /// `<filename>`
        args: Vec<String>,
    },
    /// Restores an etcd member snapshot to an etcd directory
    Restore(RestoreArgs),
}

/// `check` subcommands.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The check.
    #[command(subcommand)]
    pub command: CheckCommand,
}

/// The checks.
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Check the performance of the etcd cluster
    Perf(CheckPerfArgs),
}

/// `check perf` flags, with etcdctl's defaults.
#[derive(Debug, clap::Args)]
pub struct CheckPerfArgs {
    /// The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s")]
    pub load: String,
    /// The prefix for writing the performance check's keys.
    #[arg(long, default_value = "/etcdctl-check-perf/")]
    pub prefix: String,
    /// Compact storage with last revision after test is finished.
    #[arg(long)]
    pub auto_compact: bool,
    /// Defragment storage after test is finished.
    #[arg(long)]
    pub auto_defrag: bool,
    /// Seconds the load runs (etcdctl-rs only; etcdctl always runs 60)
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
}

/// `snapshot restore` flags, with etcdctl's defaults.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// `<filename>`
    pub args: Vec<String>,
    /// Path to the data directory
    #[arg(long, default_value = "")]
    pub data_dir: String,
    /// Initial cluster configuration for restore bootstrap
    #[arg(long, default_value = "default=http://localhost:2380")]
    pub initial_cluster: String,
    /// Initial cluster token for the etcd cluster during restore bootstrap
    #[arg(long, default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster
    #[arg(long, default_value = "http://localhost:2380")]
    pub initial_advertise_peer_urls: String,
    /// Human-readable name for this member
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Ignore snapshot integrity hash value (required if copied from data directory)
    #[arg(long)]
    pub skip_hash_check: bool,
}

/// One request line of `txn` input: the `put`, `get` and `del` commands with their own flags
/// (and no global ones), parsed like etcdctl does with a throwaway cobra command.
#[derive(Debug, Parser)]
#[command(no_binary_name = true, infer_subcommands = true, disable_help_subcommand = true)]
pub enum TxnOpLine {
    /// A put request.
    Put(PutArgs),
    /// A range request.
    Get(GetArgs),
    /// A delete-range request.
    Del(DelArgs),
}
