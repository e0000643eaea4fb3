//! `ETCDCTL_API=2`: etcdctl 3.4's v2 tool (`ls`, `get`, `set`, `mk`, `mkdir`, `setdir`,
//! `update`, `updatedir`, `rm`, `rmdir`, `watch`, `exec-watch`, `member list`,
//! `cluster-health`) over the v2 HTTP API, with its output formats, messages and exit
//! codes. Like etcdctl, it first syncs its endpoints from `/v2/members`.

mod http;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use output::{Format, Response};

/// etcdctl v2's exit codes.
const EXIT_BAD_ARGS: u8 = 1;
const EXIT_BAD_CONNECTION: u8 = 2;
const EXIT_SERVER_ERROR: u8 = 4;
const EXIT_CLUSTER_NOT_HEALTHY: u8 = 5;

/// The v2 command line.
#[derive(Debug, Parser)]
#[command(name = "etcdctl", about = "A simple command line client for etcd (API version 2).")]
struct Cli {
    /// a comma-delimited list of machine addresses in the cluster
    #[arg(
        long,
        alias = "endpoint",
        alias = "peers",
        global = true,
        default_value = "http://127.0.0.1:2379,http://127.0.0.1:4001"
    )]
    endpoints: String,
    /// output response in the given format (`simple`, `extended` or `json`)
    #[arg(short = 'o', long, global = true, default_value = "simple")]
    output: String,
    /// don't synchronize cluster information before sending request
    #[arg(long, global = true)]
    no_sync: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Ttl {
    /// key time-to-live in seconds
    #[arg(long, default_value_t = 0)]
    ttl: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// retrieve a directory
    Ls {
        /// returns result in sorted order
        #[arg(long)]
        sort: bool,
        /// returns all key names recursively for the given path
        #[arg(short, long)]
        recursive: bool,
        /// append slash (/) to directories
        #[arg(short = 'p', long)]
        dir_indicator: bool,
        /// require quorum for get request
        #[arg(short, long)]
        quorum: bool,
        key: Option<String>,
    },
    /// retrieve the value of a key
    Get {
        /// returns result in sorted order
        #[arg(long)]
        sort: bool,
        /// require quorum for get request
        #[arg(short, long)]
        quorum: bool,
        key: Option<String>,
    },
    /// set the value of a key
    Set {
        #[command(flatten)]
        ttl: Ttl,
        /// previous value
        #[arg(long, default_value = "")]
        swap_with_value: String,
        /// previous index
        #[arg(long, default_value_t = 0)]
        swap_with_index: u64,
        args: Vec<String>,
    },
    /// make a new key with a given value
    Mk {
        /// create in-order key under directory
        #[arg(long)]
        in_order: bool,
        #[command(flatten)]
        ttl: Ttl,
        args: Vec<String>,
    },
    /// make a new directory
    Mkdir {
        #[command(flatten)]
        ttl: Ttl,
        key: Option<String>,
    },
    /// create a new directory or update an existing directory TTL
    Setdir {
        #[command(flatten)]
        ttl: Ttl,
        key: Option<String>,
    },
    /// update an existing key with a given value
    Update {
        #[command(flatten)]
        ttl: Ttl,
        args: Vec<String>,
    },
    /// update an existing directory
    Updatedir {
        #[command(flatten)]
        ttl: Ttl,
        key: Option<String>,
    },
    /// remove a key or a directory
    Rm {
        /// removes the key if it is an empty directory or a key-value pair
        #[arg(long)]
        dir: bool,
        /// removes the key and all child keys (if it is a directory)
        #[arg(short, long)]
        recursive: bool,
        /// previous value
        #[arg(long, default_value = "")]
        with_value: String,
        /// previous index
        #[arg(long, default_value_t = 0)]
        with_index: u64,
        key: Option<String>,
    },
    /// removes the key if it is an empty directory or a key-value pair
    Rmdir { key: Option<String> },
    /// watch a key for changes
    Watch {
        /// forever watch a key until CTRL+C
        #[arg(short, long)]
        forever: bool,
        /// watch after the given index
        #[arg(long, default_value_t = 0)]
        after_index: u64,
        /// returns all values for key and child keys
        #[arg(short, long)]
        recursive: bool,
        key: Option<String>,
    },
    /// watch a key for changes and exec an executable
    ExecWatch {
        /// watch after the given index
        #[arg(long, default_value_t = 0)]
        after_index: u64,
        /// watch all values for key and child keys
        #[arg(short, long)]
        recursive: bool,
        /// `<key> -- <command> [args...]`
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// member add, remove and list subcommands
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// check the health of the etcd cluster
    ClusterHealth,
}

#[derive(Debug, Subcommand)]
enum MemberCommand {
    /// enumerate existing cluster members
    List,
}

/// Why a command failed: text for stderr and the exit code.
struct Failure(u8, String);

type Outcome = Result<(), Failure>;

/// Runs the v2 tool on the process's arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_BAD_ARGS } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error:  {e}");
            return ExitCode::from(EXIT_BAD_CONNECTION);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, text)) => {
            eprint!("{text}");
            ExitCode::from(code)
        }
    }
}

/// The endpoints to talk to: from `/v2/members` unless `--no-sync` (etcdctl's `Sync`).
async fn endpoints(cli: &Cli) -> Result<Vec<String>, Failure> {
    let given: Vec<String> = cli.endpoints.split(',').map(|e| e.trim().to_string()).collect();
    if cli.no_sync {
        return Ok(given);
    }
    for ep in &given {
        let Ok(reply) = http::send(ep, "GET", "/v2/members", None).await else { continue };
        if reply.status != 200 {
            // Any other answer is ignored, as etcdctl does.
            return Ok(given);
        }
        let members: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let urls: Vec<String> = members["members"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| m["clientURLs"].as_array().cloned().unwrap_or_default())
            .filter_map(|u| u.as_str().map(str::to_string))
            .collect();
        if urls.is_empty() {
            return Err(Failure(EXIT_SERVER_ERROR, "etcd cluster has no published client endpoints.\n".into()));
        }
        return Ok(urls);
    }
    Err(Failure(
        EXIT_BAD_CONNECTION,
        format!(
            "Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp {}\n",
            given.join(", ")
        ),
    ))
}

/// `/v2/keys` + the key, percent-encoded as a URL path.
fn key_path(key: &str) -> String {
    let key = if key.starts_with('/') { key.to_string() } else { format!("/{key}") };
    let encoded: String = percent_encoding::utf8_percent_encode(&key, PATH).to_string();
    format!("/v2/keys{encoded}")
}

/// Characters escaped in a URL path.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%');

fn form(pairs: &[(&str, String)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// Sends a key request to the first endpoint that answers; a server error becomes
/// etcdctl's `Error:  <code>: <message> (<cause>) [<index>]`, exit 4.
async fn keys(
    eps: &[String],
    method: &str,
    key: &str,
    query: &[(&str, String)],
    body: Option<String>,
) -> Result<Response, Failure> {
    let path = if query.is_empty() { key_path(key) } else { format!("{}?{}", key_path(key), form(query)) };
    let mut last = String::new();
    for ep in eps {
        match http::send(ep, method, &path, body.clone()).await {
            Ok(reply) => return output::response(reply).map_err(|e| Failure(EXIT_SERVER_ERROR, e)),
            Err(e) => last = e,
        }
    }
    Err(Failure(
        EXIT_BAD_CONNECTION,
        format!("Error:  client: etcd cluster is unavailable or misconfigured; error #0: {last}\n"),
    ))
}

fn need(key: Option<String>) -> Result<String, Failure> {
    key.ok_or_else(|| Failure(EXIT_BAD_ARGS, "Error:  Key required\n".into()))
}

fn key_value(args: &[String]) -> Result<(String, String), Failure> {
    match args {
        [k, v, ..] => Ok((k.clone(), v.clone())),
        [_] => Err(Failure(EXIT_BAD_ARGS, "Error:  Value required\n".into())),
        [] => Err(Failure(EXIT_BAD_ARGS, "Error:  Key required\n".into())),
    }
}

fn ttl_pair(ttl: &Ttl) -> Vec<(&'static str, String)> {
    if ttl.ttl > 0 { vec![("ttl", ttl.ttl.to_string())] } else { Vec::new() }
}

fn bool_str(b: bool) -> String {
    b.to_string()
}

async fn run(cli: Cli) -> Outcome {
    let format = Format::parse(&cli.output);
    if let Command::ClusterHealth = cli.command {
        return cluster_health(&cli).await;
    }
    let eps = endpoints(&cli).await?;
    match cli.command {
        Command::Ls { sort, recursive, dir_indicator, quorum, key } => {
            let query = [("quorum", bool_str(quorum)), ("recursive", bool_str(recursive)), ("sorted", bool_str(sort))];
            let r = keys(&eps, "GET", &key.unwrap_or_else(|| "/".into()), &query, None).await?;
            output::ls(&r, format, dir_indicator);
        }
        Command::Get { sort, quorum, key } => {
            let key = need(key)?;
            let query = [("quorum", bool_str(quorum)), ("recursive", bool_str(false)), ("sorted", bool_str(sort))];
            let r = keys(&eps, "GET", &key, &query, None).await?;
            if r.node_bool("dir") {
                return Err(Failure(EXIT_BAD_ARGS, format!("{}: is a directory\n", r.node_str("key"))));
            }
            output::print(&r, format);
        }
        Command::Set { ttl, swap_with_value, swap_with_index, args } => {
            let (key, value) = key_value(&args)?;
            let mut query = Vec::new();
            if swap_with_index > 0 {
                query.push(("prevIndex", swap_with_index.to_string()));
            }
            if !swap_with_value.is_empty() {
                query.push(("prevValue", swap_with_value));
            }
            let mut body = ttl_pair(&ttl);
            body.push(("value", value));
            output::print(&keys(&eps, "PUT", &key, &query, Some(form(&body))).await?, format);
        }
        Command::Mk { in_order, ttl, args } => {
            let (key, value) = key_value(&args)?;
            let mut body = ttl_pair(&ttl);
            body.push(("value", value));
            let r = if in_order {
                keys(&eps, "POST", &key, &[], Some(form(&body))).await?
            } else {
                keys(&eps, "PUT", &key, &[("prevExist", "false".into())], Some(form(&body))).await?
            };
            output::print(&r, format);
        }
        Command::Mkdir { ttl, key } => dir(&eps, need(key)?, &ttl, Some(false), format).await?,
        Command::Setdir { ttl, key } => dir(&eps, need(key)?, &ttl, None, format).await?,
        Command::Updatedir { ttl, key } => dir(&eps, need(key)?, &ttl, Some(true), format).await?,
        Command::Update { ttl, args } => {
            let (key, value) = key_value(&args)?;
            let mut body = ttl_pair(&ttl);
            body.push(("value", value));
            let r = keys(&eps, "PUT", &key, &[("prevExist", "true".into())], Some(form(&body))).await?;
            output::print(&r, format);
        }
        Command::Rm { dir, recursive, with_value, with_index, key } => {
            let mut query = Vec::new();
            if dir {
                query.push(("dir", "true".to_string()));
            }
            if with_index > 0 {
                query.push(("prevIndex", with_index.to_string()));
            }
            if !with_value.is_empty() {
                query.push(("prevValue", with_value));
            }
            if recursive {
                query.push(("recursive", "true".into()));
            }
            let r = keys(&eps, "DELETE", &need(key)?, &query, None).await?;
            if !r.node_bool("dir") || format != Format::Simple {
                output::print(&r, format);
            }
        }
        Command::Rmdir { key } => {
            let r = keys(&eps, "DELETE", &need(key)?, &[("dir", "true".into())], None).await?;
            if !r.node_bool("dir") || format != Format::Simple {
                output::print(&r, format);
            }
        }
        Command::Watch { forever, after_index, recursive, key } => {
            let key = need(key)?;
            let mut index = if after_index > 0 { after_index + 1 } else { 0 };
            loop {
                let r = wait(&eps, &key, recursive, index).await?;
                index = r.modified_index() + 1;
                if r.node_bool("dir") {
                    continue;
                }
                if recursive {
                    println!("[{}] {}", r.action(), r.node_str("key"));
                }
                output::print(&r, format);
                if !forever {
                    return Ok(());
                }
            }
        }
        Command::ExecWatch { after_index, recursive, args } => {
            let split = args.iter().position(|a| a == "--");
            let (key, command) = match (split, args.first()) {
                (Some(i), Some(k)) if i >= 1 && args.len() > i + 1 => (k.clone(), args[i + 1..].to_vec()),
                _ => return Err(Failure(EXIT_BAD_ARGS, "Error:  key and command to exec required\n".into())),
            };
            let mut index = if after_index > 0 { after_index + 1 } else { 0 };
            loop {
                let r = wait(&eps, &key, recursive, index).await?;
                index = r.modified_index() + 1;
                let mut cmd = tokio::process::Command::new(&command[0]);
                cmd.args(&command[1..])
                    .env("ETCD_WATCH_ACTION", r.action())
                    .env("ETCD_WATCH_MODIFIED_INDEX", r.modified_index().to_string())
                    .env("ETCD_WATCH_KEY", r.node_str("key"))
                    .env("ETCD_WATCH_VALUE", r.node_str("value"));
                // etcdctl starts each command without waiting for it.
                tokio::spawn(async move { cmd.status().await.ok() });
            }
        }
        Command::Member { command: MemberCommand::List } => member_list(&eps).await?,
        Command::ClusterHealth => {}
    }
    Ok(())
}

/// `mkdir`, `setdir`, `updatedir`: a directory write, printed only in the other formats.
async fn dir(eps: &[String], key: String, ttl: &Ttl, prev_exist: Option<bool>, format: Format) -> Outcome {
    let mut query = vec![("dir", "true".to_string())];
    if let Some(p) = prev_exist {
        query.push(("prevExist", p.to_string()));
    }
    let body = ttl_pair(ttl);
    let r = keys(eps, "PUT", &key, &query, Some(form(&body))).await?;
    if format != Format::Simple {
        output::print(&r, format);
    }
    Ok(())
}

/// One long-poll: the next event at or after `index` (0 = the next change); empty answers
/// are retried as the Go client does.
async fn wait(eps: &[String], key: &str, recursive: bool, index: u64) -> Result<Response, Failure> {
    let query = [("recursive", bool_str(recursive)), ("wait", "true".into()), ("waitIndex", index.to_string())];
    loop {
        match keys(eps, "GET", key, &query, None).await {
            Err(Failure(_, e)) if e.is_empty() => tokio::time::sleep(Duration::from_millis(100)).await,
            other => return other,
        }
    }
}

async fn get_json(eps: &[String], path: &str) -> Result<(u16, Value), Failure> {
    let mut last = String::new();
    for ep in eps {
        match http::send(ep, "GET", path, None).await {
            Ok(r) => return Ok((r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))),
            Err(e) => last = e,
        }
    }
    Err(Failure(
        EXIT_BAD_CONNECTION,
        format!("Error:  client: etcd cluster is unavailable or misconfigured; error #0: {last}\n"),
    ))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

async fn member_list(eps: &[String]) -> Outcome {
    let (_, members) = get_json(eps, "/v2/members").await?;
    let (status, leader) = get_json(eps, "/v2/members/leader").await?;
    if status != 200 {
        let message = leader["message"].as_str().unwrap_or_default().to_string();
        return Err(Failure(1, format!("Failed to get leader:  {message}\n")));
    }
    let leader_id = leader["id"].as_str().unwrap_or_default().to_string();
    for m in members["members"].as_array().into_iter().flatten() {
        let id = m["id"].as_str().unwrap_or_default();
        let name = m["name"].as_str().unwrap_or_default();
        let peers = strings(&m["peerURLs"]).join(",");
        if name.is_empty() {
            println!("{id}[unstarted]: peerURLs={peers}");
        } else {
            let clients = strings(&m["clientURLs"]).join(",");
            println!("{id}: name={name} peerURLs={peers} clientURLs={clients} isLeader={}", id == leader_id);
        }
    }
    Ok(())
}

/// `cluster-health`: every member's `/health` through its client URLs (no sync first).
async fn cluster_health(cli: &Cli) -> Outcome {
    let given: Vec<String> = cli.endpoints.split(',').map(|e| e.trim().to_string()).collect();
    let (_, members) = get_json(&given, "/v2/members").await?;
    let list = members["members"].as_array().cloned().unwrap_or_default();
    let mut healthy = 0;
    for m in &list {
        let id = m["id"].as_str().unwrap_or_default();
        let urls = strings(&m["clientURLs"]);
        let mut checked = false;
        for url in &urls {
            let Ok(reply) = http::send(url, "GET", "/health", None).await else {
                println!("failed to check the health of member {id} on {url}");
                continue;
            };
            let result: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let ok = result["health"] == "true" || result["health"] == true;
            if ok {
                println!("member {id} is healthy: got healthy result from {url}");
                healthy += 1;
            } else {
                println!("member {id} is unhealthy: got unhealthy result from {url}");
            }
            checked = true;
            break;
        }
        if !checked {
            println!("member {id} is unreachable: [{}] are all unreachable", urls.join(" "));
        }
    }
    match healthy {
        n if n == list.len() && n > 0 => {
            println!("cluster is healthy");
            Ok(())
        }
        0 => {
            println!("cluster is unavailable");
            Err(Failure(EXIT_CLUSTER_NOT_HEALTHY, String::new()))
        }
        _ => {
            println!("cluster is degraded");
            Err(Failure(EXIT_CLUSTER_NOT_HEALTHY, String::new()))
        }
    }
}
