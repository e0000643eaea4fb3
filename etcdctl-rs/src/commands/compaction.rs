//! `compaction [--physical] <revision>`.

use etcd_proto::etcdserverpb::CompactionRequest;

use crate::cli::{CompactionArgs, GlobalArgs};
use crate::error::{CtlError, EXIT_ERROR};
use crate::go::strconv::parse_int;
use crate::rpc;

/// Compacts the history up to a revision; prints fixed text whatever `-w` is.
pub async fn run(g: &GlobalArgs, args: &CompactionArgs) -> Result<(), CtlError> {
    let [rev] = args.args.as_slice() else {
        return Err(CtlError::bad_args("compaction command needs 1 argument"));
    };
    let revision = parse_int(rev, 10).map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    let (client, _) = super::client_and_printer(g).await?;
    let req = CompactionRequest { revision, physical: args.physical };
    rpc::unary(Some(super::command_deadline(g)), || {
        let mut kv = client.kv();
        async move { kv.compact(req).await }
    })
    .await?;
    super::write_stdout(format!("compacted revision {revision}\n").as_bytes());
    Ok(())
}
