//! `lease grant|revoke|timetolive|list|keep-alive`, with etcdctl 3.4's messages and exit
//! codes.

use std::time::Duration;

use etcd_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseLeasesRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cli::{GlobalArgs, LeaseCommand};
use crate::error::{CtlError, EXIT_BAD_CONNECTION, EXIT_ERROR};
use crate::go::strconv::parse_int;
use crate::printer::Format;
use crate::rpc;

/// The one argument a lease command takes, or etcdctl's usage error.
fn one<'a>(args: &'a [String], missing: &str) -> Result<&'a str, CtlError> {
    match args {
        [a] => Ok(a),
        _ => Err(CtlError::bad_args(missing)),
    }
}

/// A lease id given in hex, as `leaseFromArgs` reads it.
fn lease_id(arg: &str) -> Result<i64, CtlError> {
    parse_int(arg, 16).map_err(|e| CtlError::bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

/// Runs a lease subcommand.
pub async fn run(g: &GlobalArgs, command: LeaseCommand) -> Result<(), CtlError> {
    match command {
        LeaseCommand::Grant { args } => {
            let ttl = one(&args, "lease grant command needs TTL argument")?;
            let ttl = parse_int(ttl, 10).map_err(|e| CtlError::bad_args(format!("bad TTL ({e})")))?;
            let (client, printer) = super::client_and_printer(g).await?;
            let resp = rpc::unary(Some(super::command_deadline(g)), || {
                let mut lease = client.lease();
                async move { lease.lease_grant(LeaseGrantRequest { ttl, id: 0 }).await }
            })
            .await
            .map_err(|e| CtlError::new(EXIT_ERROR, format!("failed to grant lease ({e})")))?;
            super::write_stdout(&printer.lease_grant(&resp)?);
        }
        LeaseCommand::Revoke { args } => {
            let id = lease_id(one(&args, "lease revoke command needs 1 argument")?)?;
            let (client, printer) = super::client_and_printer(g).await?;
            let resp = rpc::unary(Some(super::command_deadline(g)), || {
                let mut lease = client.lease();
                async move { lease.lease_revoke(LeaseRevokeRequest { id }).await }
            })
            .await
            .map_err(|e| CtlError::new(EXIT_ERROR, format!("failed to revoke lease ({e})")))?;
            super::write_stdout(&printer.lease_revoke(id, &resp)?);
        }
        LeaseCommand::Timetolive { keys, args } => {
            let id = lease_id(one(&args, "lease timetolive command needs lease ID as argument")?)?;
            let (client, printer) = super::client_and_printer(g).await?;
            let resp = rpc::unary(Some(super::command_deadline(g)), || {
                let mut lease = client.lease();
                async move { lease.lease_time_to_live(LeaseTimeToLiveRequest { id, keys }).await }
            })
            .await
            .map_err(|e| CtlError::new(EXIT_BAD_CONNECTION, e))?;
            super::write_stdout(&printer.lease_time_to_live(&resp, keys)?);
        }
        LeaseCommand::List => {
            let (client, printer) = super::client_and_printer(g).await?;
            let deadline = super::command_deadline(g);
            let resp = rpc::unary(Some(deadline), || {
                let mut lease = client.lease();
                async move { lease.lease_leases(LeaseLeasesRequest {}).await }
            })
            .await
            .map_err(|e| CtlError::new(EXIT_BAD_CONNECTION, e))?;
            // The table (etcdctl-rs only) shows each lease's TTLs.
            let mut ttls = Vec::new();
            if printer.format() == Format::Table {
                for l in &resp.leases {
                    let req = LeaseTimeToLiveRequest { id: l.id, keys: false };
                    let ttl = rpc::unary(Some(deadline), || {
                        let mut lease = client.lease();
                        async move { lease.lease_time_to_live(req).await }
                    })
                    .await
                    .map_err(|e| CtlError::new(EXIT_BAD_CONNECTION, e))?;
                    ttls.push(ttl);
                }
            }
            super::write_stdout(&printer.lease_leases(&resp, &ttls)?);
        }
        LeaseCommand::KeepAlive { once, args } => {
            let id = lease_id(one(&args, "lease keep-alive command needs lease ID as argument")?)?;
            let (client, printer) = super::client_and_printer(g).await?;
            keep_alive(&client, &printer, id, once).await?;
        }
    }
    Ok(())
}

/// Renews `id` once, or (as clientv3 does) every third of its TTL until it is gone.
async fn keep_alive(
    client: &etcd_rs_client::Client,
    printer: &crate::printer::Printer,
    id: i64,
    once: bool,
) -> Result<(), CtlError> {
    let (tx, rx) = mpsc::channel(1);
    let failed = |e: String| CtlError::new(EXIT_BAD_CONNECTION, e);
    // Queued before the call: etcd answers the headers only with a first message.
    tx.send(LeaseKeepAliveRequest { id }).await.map_err(|e| failed(e.to_string()))?;
    let mut replies = client
        .lease()
        .lease_keep_alive(ReceiverStream::new(rx))
        .await
        .map_err(|s| failed(etcd_rs_client::Error::from(s).to_string()))?
        .into_inner();
    loop {
        let resp = match replies.next().await {
            Some(Ok(r)) => r,
            Some(Err(s)) => return Err(failed(etcd_rs_client::Error::from(s).to_string())),
            None => break,
        };
        if resp.ttl <= 0 {
            if once {
                return Err(failed("etcdserver: requested lease not found".into()));
            }
            break;
        }
        super::write_stdout(&printer.lease_keep_alive(&resp)?);
        if once {
            return Ok(());
        }
        let pause = Duration::from_secs(u64::try_from(resp.ttl / 3).unwrap_or(0).max(1));
        tokio::time::sleep(pause).await;
        if tx.send(LeaseKeepAliveRequest { id }).await.is_err() {
            break;
        }
    }
    if printer.format() == Format::Simple {
        super::write_stdout(format!("lease {id:016x} expired or revoked.\n").as_bytes());
    }
    Ok(())
}
