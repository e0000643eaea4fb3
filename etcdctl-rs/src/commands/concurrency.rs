//! `lock` and `elect`: etcdctl's session (a lease kept alive in the background) with the
//! Lock and Election services, which use the same keys as clientv3's recipes.

use std::ffi::OsString;

use etcd_proto::etcdserverpb::{LeaseGrantRequest, LeaseKeepAliveRequest, RangeRequest, RangeResponse};
use etcd_proto::v3electionpb::{CampaignRequest, LeaderRequest, ResignRequest};
use etcd_proto::v3lockpb::{LockRequest, UnlockRequest};
use etcd_rs_client::Client;
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cli::{ElectArgs, GlobalArgs, LockArgs};
use crate::error::{CtlError, EXIT_ERROR};
use crate::printer::Printer;

/// clientv3's default session TTL (`concurrency.NewSession`), in seconds.
const DEFAULT_SESSION_TTL: i64 = 60;

fn failed(e: impl std::fmt::Display) -> CtlError {
    CtlError::new(EXIT_ERROR, e)
}

fn grpc(s: tonic::Status) -> CtlError {
    failed(etcd_rs_client::Error::from(s))
}

/// A lease kept alive every third of its TTL until the process ends.
async fn session(client: &Client, ttl: i64) -> Result<i64, CtlError> {
    let id = client.lease().lease_grant(LeaseGrantRequest { ttl, id: 0 }).await.map_err(grpc)?.into_inner().id;
    let (tx, rx) = mpsc::channel(1);
    tx.send(LeaseKeepAliveRequest { id }).await.map_err(failed)?;
    let mut replies = client.lease().lease_keep_alive(ReceiverStream::new(rx)).await.map_err(grpc)?.into_inner();
    let pause = std::time::Duration::from_secs(u64::try_from(ttl / 3).unwrap_or(1).max(1));
    tokio::spawn(async move {
        while let Some(Ok(r)) = replies.next().await {
            if r.ttl <= 0 {
                return;
            }
            tokio::time::sleep(pause).await;
            if tx.send(LeaseKeepAliveRequest { id }).await.is_err() {
                return;
            }
        }
    });
    Ok(id)
}

/// Completes on SIGINT or SIGTERM.
async fn interrupted() {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {},
        _ = term.recv() => {},
    }
}

/// Prints `key` as `get` would (etcdctl shows the lock or leader key with `display.Get`).
async fn show(client: &Client, printer: &Printer, key: Vec<u8>) -> Result<(), CtlError> {
    let resp: RangeResponse =
        client.kv().range(RangeRequest { key, ..Default::default() }).await.map_err(grpc)?.into_inner();
    super::write_stdout(&printer.get(&resp, false)?);
    Ok(())
}

/// `lock <name> [command ...]`: holds the lock until interrupted, or while the command runs.
pub async fn lock(g: &GlobalArgs, args: LockArgs) -> Result<(), CtlError> {
    let Some((name, command)) = args.args.split_first() else {
        return Err(CtlError::bad_args("lock takes a lock name argument and an optional command to execute."));
    };
    let (client, printer) = super::client_and_printer(g).await?;
    let lease = session(&client, args.ttl).await?;
    let req = LockRequest { name: name.as_encoded_bytes().to_vec(), lease };
    let held = client.lock().lock(req).await.map_err(grpc)?.into_inner();
    let unlock = |key: Vec<u8>| {
        let mut locks = client.lock();
        async move { locks.unlock(UnlockRequest { key }).await.map(drop).map_err(grpc) }
    };
    if let Some((program, rest)) = command.split_first() {
        let revision = held.header.map_or(0, |h| h.revision);
        let status = tokio::process::Command::new(program)
            .args(rest)
            .env("ETCD_LOCK_KEY", OsString::from(String::from_utf8_lossy(&held.key).into_owned()))
            .env("ETCD_LOCK_REV", revision.to_string())
            .status()
            .await;
        unlock(held.key).await?;
        return match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(failed(format!("exit status {}", s.code().unwrap_or(-1)))),
            Err(e) => Err(failed(e)),
        };
    }
    show(&client, &printer, held.key.clone()).await?;
    interrupted().await;
    unlock(held.key).await
}

/// `elect <name> <proposal>` campaigns and leads until interrupted; `elect -l <name>`
/// prints every new leader.
pub async fn elect(g: &GlobalArgs, args: ElectArgs) -> Result<(), CtlError> {
    let (name, proposal) = match args.args.as_slice() {
        [n] => (n.as_encoded_bytes().to_vec(), None),
        [n, p] => (n.as_encoded_bytes().to_vec(), Some(p.as_encoded_bytes().to_vec())),
        _ => {
            return Err(CtlError::bad_args(
                "elect takes one election name argument and an optional proposal argument.",
            ));
        }
    };
    match (&proposal, args.listen) {
        (None, false) => return Err(CtlError::bad_args("no proposal argument but -l not set")),
        (Some(_), true) => return Err(CtlError::bad_args("proposal given but -l is set")),
        _ => {}
    }
    let (client, printer) = super::client_and_printer(g).await?;
    let lease = session(&client, DEFAULT_SESSION_TTL).await?;
    let Some(value) = proposal_or_observe(&client, &printer, name.clone(), proposal).await? else {
        return Ok(());
    };
    let req = CampaignRequest { name, lease, value };
    let won = client.election().campaign(req).await.map_err(grpc)?.into_inner();
    let leader = won.leader.ok_or_else(|| failed("campaign answered without a leader key"))?;
    show(&client, &printer, leader.key.clone()).await?;
    interrupted().await;
    client.election().resign(ResignRequest { leader: Some(leader) }).await.map_err(grpc)?;
    Ok(())
}

/// With a proposal, hands it back for the campaign; without one, observes until
/// interrupted and returns `None`.
async fn proposal_or_observe(
    client: &Client,
    printer: &Printer,
    name: Vec<u8>,
    proposal: Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, CtlError> {
    if proposal.is_some() {
        return Ok(proposal);
    }
    let mut leaders = client.election().observe(LeaderRequest { name }).await.map_err(grpc)?.into_inner();
    let watch = async {
        while let Some(Ok(r)) = leaders.next().await {
            let resp = RangeResponse { header: r.header, kvs: r.kv.into_iter().collect(), count: 1, more: false };
            super::write_stdout(&printer.get(&resp, false)?);
        }
        Err(failed("elect: observer lost"))
    };
    tokio::select! {
        out = watch => out,
        () = interrupted() => Ok(None),
    }
}
