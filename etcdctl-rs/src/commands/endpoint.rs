//! `endpoint health` and `endpoint status` (with `--cluster`: every member's client URLs).

use std::time::Instant;

use etcd_proto::etcdserverpb::{MemberListRequest, RangeRequest, StatusRequest};
use etcd_rs_client::{Client, Error as ClientError};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::cli::{EndpointArgs, EndpointCommand, GlobalArgs};
use crate::error::{CtlError, EXIT_ERROR};
use crate::go::duration;
use crate::printer::{EpHealth, EpStatus, Stream};
use crate::rpc;

/// Runs an endpoint subcommand.
pub async fn run(g: &GlobalArgs, args: &EndpointArgs) -> Result<(), CtlError> {
    match args.command {
        EndpointCommand::Health => health(g, args.cluster).await,
        EndpointCommand::Status => status(g, args.cluster).await,
    }
}

/// The endpoints to check: as given, or with `--cluster` the client URLs of every member.
async fn endpoints(g: &GlobalArgs, cluster: bool) -> Result<Vec<String>, CtlError> {
    if !cluster {
        return Ok(g.endpoints.clone());
    }
    let client =
        Client::connect(g.endpoints.clone(), g.dial_timeout).await.map_err(|e| CtlError::new(EXIT_ERROR, e))?;
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
    let mut probes: FuturesUnordered<_> = endpoints(g, cluster).await?.into_iter().map(|ep| probe(g, ep)).collect();
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

async fn probe(g: &GlobalArgs, ep: String) -> EpHealth {
    let client = match Client::connect(vec![ep.clone()], g.dial_timeout).await {
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
/// command exit 1 after printing the others.
async fn status(g: &GlobalArgs, cluster: bool) -> Result<(), CtlError> {
    let (_, printer) = super::client_and_printer(g).await?;
    let mut list = Vec::new();
    let mut failed = false;
    for ep in endpoints(g, cluster).await? {
        match endpoint_status(g, &ep).await {
            Ok(resp) => list.push(EpStatus { ep, resp }),
            Err(e) => {
                failed = true;
                super::write_stderr(format!("Failed to get the status of endpoint {ep} ({e})\n").as_bytes());
            }
        }
    }
    super::write_stdout(&printer.endpoint_status(&list)?);
    if failed {
        return Err(CtlError::Exit(EXIT_ERROR));
    }
    Ok(())
}

/// Maintenance.Status on one endpoint over its own connection, as clientv3's `Status(ctx, ep)`.
async fn endpoint_status(g: &GlobalArgs, ep: &str) -> Result<etcd_proto::etcdserverpb::StatusResponse, ClientError> {
    let deadline = super::command_deadline(g);
    let client = Client::connect(vec![ep.to_string()], g.dial_timeout).await?;
    rpc::unary(Some(deadline), || {
        let mut m = client.maintenance();
        async move { m.status(StatusRequest {}).await }
    })
    .await
}
