//! `del [options] <key> [range_end]`.

use crate::cli::{DelArgs, GlobalArgs};
use crate::error::CtlError;
use crate::{ops, rpc};

/// Deletes a key or range and prints how many keys went.
pub async fn run(g: &GlobalArgs, args: &DelArgs) -> Result<(), CtlError> {
    let req = ops::delete_request(args)?;
    let (client, printer) = super::client_and_printer(g).await?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut kv = client.kv();
        let req = req.clone();
        async move { kv.delete_range(req).await }
    })
    .await?;
    super::write_stdout(&printer.del(&resp)?);
    Ok(())
}
