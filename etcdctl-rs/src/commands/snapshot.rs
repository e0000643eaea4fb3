//! `snapshot status|restore <filename>`: offline, on a snapshot file (see
//! `etcd_rs_server::snapshot_file`).
//!
//! `snapshot save <filename>`: streams Maintenance.Snapshot from exactly one endpoint into
//! `<filename>.part`, syncs it and renames it, logging each step on stderr as etcdctl 3.4
//! does (zap JSON lines), plus a progress line when stderr is a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime};

use etcd_proto::etcdserverpb::SnapshotRequest;
use etcd_rs_client::{Client, ClientOptions, Error as ClientError};
use tokio::fs::OpenOptions;
use tokio::io::AsyncWriteExt;
use tokio::time::timeout_at;

use etcd_rs_server::restore::RestoreOptions;
use etcd_rs_server::snapshot_file;

use crate::cli::{GlobalArgs, RestoreArgs, SnapshotCommand};
use crate::error::{CtlError, EXIT_ERROR, EXIT_INTERRUPTED};
use crate::go::humanize;
use crate::go::os::{link_error, path_error};
use crate::go::zap::{self, Stamp, Value};
use crate::rpc;

/// How often the progress line is rewritten.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Runs a snapshot subcommand.
pub async fn run(g: &GlobalArgs, command: &SnapshotCommand) -> Result<(), CtlError> {
    match command {
        SnapshotCommand::Save { args } => save(g, args).await,
        SnapshotCommand::Status { args } => status(g, args).await,
        SnapshotCommand::Restore(args) => restore(g, args).await,
    }
}

/// Reads a whole snapshot file; a missing file fails as Go's `os.Stat` does.
async fn read_snapshot(path: &str) -> Result<Vec<u8>, CtlError> {
    tokio::fs::read(path).await.map_err(|e| CtlError::new(EXIT_ERROR, path_error("stat", path, &e)))
}

/// `snapshot status <filename>`: hash, revision, total keys and size of a snapshot file.
async fn status(g: &GlobalArgs, args: &[String]) -> Result<(), CtlError> {
    let [path] = args else {
        return Err(CtlError::bad_args("snapshot status requires exactly one argument"));
    };
    g.env.report()?;
    let printer = super::printer(g)?;
    let bytes = read_snapshot(path).await?;
    let st = snapshot_file::status(&bytes).map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    super::write_stdout(&printer.snapshot_status(&st)?);
    Ok(())
}

/// `snapshot restore <filename>`: a new member's data dir holding the snapshot's keys,
/// leases and revisions, to start a new cluster from (etcdctl's flags and log lines).
async fn restore(g: &GlobalArgs, r: &RestoreArgs) -> Result<(), CtlError> {
    let [path] = r.args.as_slice() else {
        return Err(CtlError::bad_args("snapshot restore requires exactly one argument"));
    };
    g.env.report()?;
    let data_dir = if r.data_dir.is_empty() { format!("{}.etcd", r.name) } else { r.data_dir.clone() };
    let bytes = read_snapshot(path).await?;
    let opts = RestoreOptions {
        name: r.name.clone(),
        initial_cluster: r.initial_cluster.clone(),
        initial_cluster_token: r.initial_cluster_token.clone(),
        initial_advertise_peer_urls: r.initial_advertise_peer_urls.clone(),
        data_dir: Some(data_dir.clone().into()),
        verify_hash: !r.skip_hash_check,
    };
    let fields = [("path", Value::Str(path)), ("data-dir", Value::Str(&data_dir))];
    log(Stamp::EpochSeconds, "restoring snapshot", &fields);
    let (_, identity) = tokio::task::spawn_blocking(move || etcd_rs_server::restore::restore(&bytes, &opts))
        .await
        .map_err(|e| CtlError::new(EXIT_ERROR, e))?
        .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    let member = format!("{:x}", identity.member_id);
    let cluster = format!("{:x}", identity.cluster_id);
    let mut done = fields.to_vec();
    done.extend([("member-id", Value::Str(&member)), ("cluster-id", Value::Str(&cluster))]);
    log(Stamp::EpochSeconds, "restored snapshot", &done);
    Ok(())
}

/// Why `snapshot save` failed, worded as etcdctl's snapshot manager words it.
#[derive(Debug, thiserror::Error)]
enum SaveError {
    /// The temporary file could not be created.
    #[error("could not open {part} ({reason})")]
    Open { part: String, reason: String },
    /// The request or the stream failed.
    #[error(transparent)]
    Rpc(#[from] ClientError),
    /// Writing or syncing the temporary file failed (a Go `*os.PathError` text).
    #[error("{0}")]
    File(String),
    /// The finished file could not be moved into place.
    #[error("could not rename {part} to {path} ({reason})")]
    Rename { part: String, path: String, reason: String },
}

/// `snapshot save`: etcdctl's order of checks, then the download. Without an explicit
/// `--command-timeout` the download has no deadline, as in etcdctl.
async fn save(g: &GlobalArgs, args: &[String]) -> Result<(), CtlError> {
    let [path] = args else {
        return Err(CtlError::bad_args("snapshot save expects one argument"));
    };
    g.env.report()?;
    super::printer(g)?;
    let [ep] = g.endpoints.as_slice() else {
        let message =
            format!("snapshot must be requested to one selected node, not multiple [{}]", g.endpoints.join(" "));
        return Err(CtlError::new(EXIT_INTERRUPTED, message));
    };
    let deadline = g.command_timeout_set.then(|| super::command_deadline(g));
    let part = format!("{path}.part");
    let options = super::client_options(g)?;
    if let Err(e) = download(options, ep, &part, path, deadline).await {
        // etcdctl removes the partial file whatever went wrong.
        let _ = tokio::fs::remove_file(&part).await;
        return Err(CtlError::new(EXIT_INTERRUPTED, e));
    }
    super::write_stdout(format!("Snapshot saved at {path}\n").as_bytes());
    Ok(())
}

/// Writes one of etcdctl's log lines to stderr.
fn log(stamp: Stamp, msg: &str, fields: &[(&str, Value<'_>)]) {
    let mut line = zap::info(stamp, SystemTime::now(), msg, fields);
    line.push('\n');
    super::write_stderr(line.as_bytes());
}

async fn download(
    options: &ClientOptions,
    ep: &str,
    part: &str,
    path: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<(), SaveError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(part)
        .await
        .map_err(|e| SaveError::Open { part: part.to_string(), reason: path_error("open", part, &e) })?;
    log(Stamp::EpochSeconds, "created temporary db file", &[("path", Value::Str(part))]);
    let started = Instant::now();
    let client = Client::connect_with(vec![ep.to_string()], options).await?;
    let mut stream = rpc::unary(deadline, || {
        let mut m = client.maintenance();
        async move { m.snapshot(SnapshotRequest {}).await }
    })
    .await?;
    log(Stamp::Iso8601, "opened snapshot stream; downloading", &[]);
    log(Stamp::EpochSeconds, "fetching snapshot", &[("endpoint", Value::Str(ep))]);
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    let mut size: u64 = 0;
    loop {
        let next = match deadline {
            Some(d) => timeout_at(d, stream.message()).await.map_err(|_| ClientError::DeadlineExceeded)?,
            None => stream.message().await,
        };
        let Some(chunk) = next.map_err(ClientError::from)? else { break };
        file.write_all(&chunk.blob).await.map_err(|e| SaveError::File(path_error("write", part, &e)))?;
        size += chunk.blob.len() as u64;
        progress.update(size, started);
    }
    progress.finish(size, started);
    log(Stamp::Iso8601, "completed snapshot read; closing", &[]);
    file.flush().await.map_err(|e| SaveError::File(path_error("write", part, &e)))?;
    file.sync_all().await.map_err(|e| SaveError::File(path_error("sync", part, &e)))?;
    drop(file);
    let fetched = [
        ("endpoint", Value::Str(ep)),
        ("size", Value::Str(&humanize::bytes(size))),
        ("took", Value::Seconds(started.elapsed())),
    ];
    log(Stamp::EpochSeconds, "fetched snapshot", &fetched);
    tokio::fs::rename(part, path).await.map_err(|e| SaveError::Rename {
        part: part.to_string(),
        path: path.to_string(),
        reason: link_error("rename", part, path, &e),
    })?;
    log(Stamp::EpochSeconds, "saved", &[("path", Value::Str(path))]);
    Ok(())
}

/// The progress line of a download (etcdctl-rs only), drawn on a terminal's stderr.
struct Progress {
    enabled: bool,
    drawn: Option<Instant>,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Progress { enabled, drawn: None }
    }

    /// Redraws `received 12 MB (4.5 MB/s)` at most every [`PROGRESS_INTERVAL`].
    fn update(&mut self, received: u64, started: Instant) {
        if self.enabled && self.drawn.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL) {
            self.draw(received, started);
        }
    }

    /// Shows the final count and ends the progress line, if one was drawn.
    fn finish(&mut self, received: u64, started: Instant) {
        if self.drawn.is_some() {
            self.draw(received, started);
            super::write_stderr(b"\n");
        }
    }

    fn draw(&mut self, received: u64, started: Instant) {
        let secs = started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { (received as f64 / secs) as u64 } else { 0 };
        let line = format!("\rreceived {} ({}/s)\x1b[K", humanize::bytes(received), humanize::bytes(rate));
        super::write_stderr(line.as_bytes());
        self.drawn = Some(Instant::now());
    }
}
