//! `endpoint health`, `endpoint status` and `endpoint hashkv` (with `--cluster`: every
//! member's client URLs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::{HashKvRequest, MemberListRequest, RangeRequest, StatusRequest};
use etcd_rs_client::{Client, ClientOptions};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::cli::{EndpointArgs, EndpointCommand, GlobalArgs};
use crate::error::{CtlError, EXIT_ERROR};
use crate::go::duration;
use crate::printer::{EpHashKv, EpHealth, EpStatus, Stream};
use crate::rpc;

/// How often `endpoint status --watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Moves the cursor home and clears a terminal before `--watch` redraws.
const CLEAR_SCREEN: &[u8] = b"\x1b[H\x1b[2J";

/// Runs an endpoint subcommand.
pub async fn run(g: &GlobalArgs, args: &EndpointArgs) -> Result<(), CtlError> {
    match args.command {
        EndpointCommand::Health => health(g, args.cluster).await,
        EndpointCommand::Status { watch } => status(g, args.cluster, watch).await,
        EndpointCommand::HashKv { rev, .. } => hashkv(g, args.cluster, rev).await,
    }
}

/// The endpoints to address: as given, or with `--cluster` the client URLs of every member.
pub(super) async fn endpoints(g: &GlobalArgs, cluster: bool) -> Result<Vec<String>, CtlError> {
    if !cluster {
        return Ok(g.endpoints.clone());
    }
    let client = Client::connect_with(g.endpoints.clone(), super::client_options(g)?)
        .await
        .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    let members = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        async move { cluster.member_list(MemberListRequest {}).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, format!("failed to fetch endpoints from etcd cluster member list: {e}")))?;
    Ok(members.members.into_iter().flat_map(|m| m.client_ur_ls).collect())
}

/// Probes every endpoint in parallel with a linearizable read of key `health`; results are
/// printed in completion order, as etcdctl collects them from a channel.
async fn health(g: &GlobalArgs, cluster: bool) -> Result<(), CtlError> {
    g.env.report()?;
    let printer = super::printer(g)?;
    let options = super::client_options(g)?;
    let mut probes: FuturesUnordered<_> =
        endpoints(g, cluster).await?.into_iter().map(|ep| probe(g, options, ep)).collect();
    let mut list = Vec::new();
    while let Some(h) = probes.next().await {
        list.push(h);
    }
    let (stream, bytes) = printer.endpoint_health(&list)?;
    match stream {
        Stream::Stdout => super::write_stdout(&bytes),
        Stream::Stderr => super::write_stderr(&bytes),
    }
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(CtlError::new(EXIT_ERROR, "unhealthy cluster"));
    }
    Ok(())
}

async fn probe(g: &GlobalArgs, options: &ClientOptions, ep: String) -> EpHealth {
    let client = match Client::connect_with(vec![ep.clone()], options).await {
        Ok(c) => c,
        Err(e) => {
            return EpHealth { ep, health: false, took: String::new(), error: e.to_string() };
        }
    };
    let start = Instant::now();
    let result = rpc::unary(Some(super::command_deadline(g)), || {
        let mut kv = client.kv();
        let req = RangeRequest { key: b"health".to_vec(), ..Default::default() };
        async move { kv.range(req).await }
    })
    .await;
    let took = duration::format(start.elapsed());
    // A permission error still went through consensus, so the member is healthy.
    let error = match result {
        Ok(_) => String::new(),
        Err(e) if e.etcd_message() == Some("etcdserver: permission denied") => String::new(),
        Err(e) => e.to_string(),
    };
    EpHealth { ep, health: error.is_empty(), took, error }
}

/// Asks each endpoint in turn for its status; failures are reported on stderr and make the
/// command exit 1 after printing the others. With `--watch` (etcdctl-rs only) the status is
/// printed again every second, redrawing the screen when stdout is a terminal, until the
/// command is interrupted; failures are then reported and the watch goes on.
async fn status(g: &GlobalArgs, cluster: bool, watch: bool) -> Result<(), CtlError> {
    let (_, printer) = super::client_and_printer(g).await?;
    let eps = endpoints(g, cluster).await?;
    let redraw = watch && std::io::stdout().is_terminal();
    loop {
        let next = tokio::time::Instant::now() + WATCH_INTERVAL;
        let (list, failures) = statuses(g, super::client_options(g)?, &eps).await;
        let out = printer.endpoint_status(&list)?;
        if redraw {
            super::write_stdout(CLEAR_SCREEN);
        }
        for line in &failures {
            super::write_stderr(line.as_bytes());
        }
        super::write_stdout(&out);
        if !watch {
            return if failures.is_empty() { Ok(()) } else { Err(CtlError::Exit(EXIT_ERROR)) };
        }
        tokio::time::sleep_until(next).await;
    }
}

/// The status of each endpoint that answered, and for each one that did not the line
/// etcdctl reports it with.
async fn statuses(g: &GlobalArgs, options: &ClientOptions, eps: &[String]) -> (Vec<EpStatus>, Vec<String>) {
    let mut list = Vec::new();
    let mut failures = Vec::new();
    for ep in eps {
        let resp =
            super::maintenance_unary(g, options, ep, |mut m| async move { m.status(StatusRequest {}).await }).await;
        match resp {
            Ok(resp) => list.push(EpStatus { ep: ep.clone(), resp }),
            Err(e) => failures.push(format!("Failed to get the status of endpoint {ep} ({e})\n")),
        }
    }
    (list, failures)
}

/// Asks each endpoint in turn for the hash of its KV history up to `rev` (0: all); like
/// `status`, failures are reported on stderr, and the last one is the command's error.
async fn hashkv(g: &GlobalArgs, cluster: bool, rev: i64) -> Result<(), CtlError> {
    let (_, printer) = super::client_and_printer(g).await?;
    let options = super::client_options(g)?;
    let mut list = Vec::new();
    let mut failure = None;
    for ep in endpoints(g, cluster).await? {
        let req = HashKvRequest { revision: rev };
        match super::maintenance_unary(g, options, &ep, |mut m| async move { m.hash_kv(req).await }).await {
            Ok(resp) => list.push(EpHashKv { ep, resp }),
            Err(e) => {
                super::write_stderr(format!("Failed to get the hash of endpoint {ep} ({e})\n").as_bytes());
                failure = Some(e);
            }
        }
    }
    super::write_stdout(&printer.endpoint_hashkv(&list)?);
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
