//! `alarm list` and `alarm disarm`, as etcdctl 3.4 and clientv3 do them.

use etcd_proto::etcdserverpb::alarm_request::AlarmAction;
use etcd_proto::etcdserverpb::{AlarmRequest, AlarmResponse};
use etcd_rs_client::{Client, Error as ClientError};
use tokio::time::Instant;

use crate::cli::{AlarmCommand, GlobalArgs};
use crate::error::CtlError;
use crate::rpc;

/// Runs an alarm subcommand.
pub async fn run(g: &GlobalArgs, command: &AlarmCommand) -> Result<(), CtlError> {
    let (name, args) = match command {
        AlarmCommand::List { args } => ("list", args),
        AlarmCommand::Disarm { args } => ("disarm", args),
    };
    if !args.is_empty() {
        return Err(CtlError::bad_args(format!("alarm {name} command accepts no arguments")));
    }
    let (client, printer) = super::client_and_printer(g).await?;
    let deadline = super::command_deadline(g);
    let resp = match command {
        AlarmCommand::List { .. } => alarm(&client, deadline, AlarmRequest::default()).await?,
        AlarmCommand::Disarm { .. } => disarm_all(&client, deadline).await?,
    };
    super::write_stdout(&printer.alarm(&resp)?);
    Ok(())
}

/// clientv3's `AlarmDisarm` with an empty member: lists the alarms, deactivates each one,
/// and answers with the deactivated alarms (and no header).
async fn disarm_all(client: &Client, deadline: Instant) -> Result<AlarmResponse, ClientError> {
    let listed = alarm(client, deadline, AlarmRequest::default()).await?;
    let mut disarmed = AlarmResponse::default();
    for a in listed.alarms {
        let req = AlarmRequest { action: AlarmAction::Deactivate.into(), member_id: a.member_id, alarm: a.alarm };
        disarmed.alarms.extend(alarm(client, deadline, req).await?.alarms);
    }
    Ok(disarmed)
}

/// One Maintenance.Alarm request.
async fn alarm(client: &Client, deadline: Instant, req: AlarmRequest) -> Result<AlarmResponse, ClientError> {
    rpc::unary(Some(deadline), || {
        let mut m = client.maintenance();
        async move { m.alarm(req).await }
    })
    .await
}
