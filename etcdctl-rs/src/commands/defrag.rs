//! `defrag [--cluster]`: Maintenance.Defragment on each endpoint in turn.

use etcd_proto::etcdserverpb::DefragmentRequest;

use crate::cli::{DefragArgs, GlobalArgs};
use crate::error::{CtlError, EXIT_ERROR};

/// Defragments every endpoint (or with `--cluster` every member), reporting each; any
/// failure makes the command exit 1 after trying the others. Offline defragmentation of a
/// data directory (`--data-dir`) is not supported and fails the way etcdctl reports its
/// failure.
pub async fn run(g: &GlobalArgs, args: &DefragArgs) -> Result<(), CtlError> {
    if !args.data_dir.is_empty() {
        super::write_stderr(
            format!(
                "Failed to defragment etcd data[{}] (offline defragmentation is not supported by etcdctl-rs; defragment the running member instead)\n",
                args.data_dir
            )
            .as_bytes(),
        );
        return Err(CtlError::Exit(EXIT_ERROR));
    }
    // etcdctl creates its client (checking the environment and `-w`) before anything else.
    super::client_and_printer(g).await?;
    let options = super::client_options(g)?;
    let mut failed = false;
    for ep in super::endpoint::endpoints(g, args.cluster).await? {
        match super::maintenance_unary(g, options, &ep, |mut m| async move { m.defragment(DefragmentRequest {}).await })
            .await
        {
            Ok(_) => super::write_stdout(format!("Finished defragmenting etcd member[{ep}]\n").as_bytes()),
            Err(e) => {
                failed = true;
                super::write_stderr(format!("Failed to defragment etcd member[{ep}] ({e})\n").as_bytes());
            }
        }
    }
    if failed {
        return Err(CtlError::Exit(EXIT_ERROR));
    }
    Ok(())
}
