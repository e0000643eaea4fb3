//! `txn [-i]`: a transaction read from stdin.

use crate::cli::{GlobalArgs, TxnArgs};
use crate::error::CtlError;
use crate::{rpc, txn_parse};

/// Reads the compares and requests from stdin, commits them and prints the result.
pub async fn run(g: &GlobalArgs, args: &TxnArgs) -> Result<(), CtlError> {
    if !args.args.is_empty() {
        return Err(CtlError::bad_args("txn command does not accept argument"));
    }
    let (client, printer) = super::client_and_printer(g).await?;
    let interactive = args.interactive;
    let req = txn_parse::read_txn(&mut std::io::stdin().lock(), &mut |prompt: &str| {
        if interactive {
            super::write_stdout(format!("{prompt}\n").as_bytes());
        }
    })?;
    etcd_rs_client::check_request_size(&req)?;
    // etcdctl 3.4 commits with context.Background(): txn has no command timeout.
    let resp = rpc::unary(None, || {
        let mut kv = client.kv();
        let req = req.clone();
        async move { kv.txn(req).await }
    })
    .await?;
    super::write_stdout(&printer.txn(&resp)?);
    Ok(())
}
