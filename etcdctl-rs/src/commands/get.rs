//! `get [options] <key> [range_end]`.

use etcd_proto::etcdserverpb::{RangeRequest, RangeResponse};
use etcd_rs_client::Error as ClientError;

use crate::cli::{GetArgs, GlobalArgs};
use crate::error::CtlError;
use crate::printer::Format;
use crate::{ops, rpc};

/// `--stream`: RangeStream's chunks merged into one response, as clientv3 3.7 does.
async fn streamed(
    client: &etcd_rs_client::Client,
    req: RangeRequest,
    deadline: tokio::time::Instant,
) -> Result<RangeResponse, ClientError> {
    let read = async {
        let mut chunks = client.kv().range_stream(req).await?.into_inner();
        let mut merged = RangeResponse::default();
        while let Some(chunk) = chunks.message().await? {
            let Some(part) = chunk.range_response else { continue };
            merged.kvs.extend(part.kvs);
            if part.header.is_some() {
                (merged.header, merged.count, merged.more) = (part.header, part.count, part.more);
            }
        }
        Ok::<_, tonic::Status>(merged)
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(r) => r.map_err(ClientError::from),
        Err(_) => Err(ClientError::DeadlineExceeded),
    }
}

/// Reads a key or range and prints it.
pub async fn run(g: &GlobalArgs, args: &GetArgs) -> Result<(), CtlError> {
    let req = ops::range_request(args)?;
    let (client, printer) = super::client_and_printer(g).await?;
    let deadline = super::command_deadline(g);
    let resp = if args.stream {
        streamed(&client, req, deadline).await?
    } else {
        rpc::unary(Some(deadline), || {
            let mut kv = client.kv();
            let req = req.clone();
            async move { kv.range(req).await }
        })
        .await?
    };
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
