//! `member list`.

use etcd_proto::etcdserverpb::MemberListRequest;

use crate::cli::GlobalArgs;
use crate::error::CtlError;
use crate::rpc;

/// Lists the cluster's members.
pub async fn list(g: &GlobalArgs) -> Result<(), CtlError> {
    let (client, printer) = super::client_and_printer(g).await?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut cluster = client.cluster();
        async move { cluster.member_list(MemberListRequest {}).await }
    })
    .await?;
    super::write_stdout(&printer.member_list(&resp)?);
    Ok(())
}
