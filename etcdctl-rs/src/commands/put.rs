//! `put [options] <key> <value>`.

use std::io::Read;

use crate::cli::{GlobalArgs, PutArgs};
use crate::error::CtlError;
use crate::{ops, rpc};

/// Puts one key; the value is read from stdin when only the key is given.
pub async fn run(g: &GlobalArgs, args: &PutArgs) -> Result<(), CtlError> {
    let req = ops::put_request(args, || {
        let mut value = Vec::new();
        std::io::stdin().read_to_end(&mut value).ok()?;
        Some(value)
    })?;
    let (client, printer) = super::client_and_printer(g).await?;
    etcd_rs_client::check_request_size(&req)?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut kv = client.kv();
        let req = req.clone();
        async move { kv.put(req).await }
    })
    .await?;
    super::write_stdout(&printer.put(&resp)?);
    Ok(())
}
