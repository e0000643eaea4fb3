//! `get [options] <key> [range_end]`.

use crate::cli::{GetArgs, GlobalArgs};
use crate::error::CtlError;
use crate::printer::Format;
use crate::{ops, rpc};

/// Reads a key or range and prints it.
pub async fn run(g: &GlobalArgs, args: &GetArgs) -> Result<(), CtlError> {
    let req = ops::range_request(args)?;
    let (client, printer) = super::client_and_printer(g).await?;
    let resp = rpc::unary(Some(super::command_deadline(g)), || {
        let mut kv = client.kv();
        let req = req.clone();
        async move { kv.range(req).await }
    })
    .await?;
    // etcdctl checks these only after the request has succeeded.
    if args.count_only && printer.format() != Format::Fields {
        return Err(CtlError::bad_args("--count-only is only for `--write-out=fields`"));
    }
    if args.print_value_only && printer.format() != Format::Simple {
        return Err(CtlError::bad_args("print-value-only is only for `--write-out=simple`"));
    }
    super::write_stdout(&printer.get(&resp, args.print_value_only)?);
    Ok(())
}
