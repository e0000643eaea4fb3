//! The commands, in etcdctl's order of checks: arguments first, then the client and output
//! format (`mustClientFromCmd`), then the request, then printing.

mod alarm;
mod check;
mod compaction;
mod completion;
mod concurrency;
mod defrag;
mod del;
mod endpoint;
mod get;
mod lease;
mod member;
mod put;
mod snapshot;
mod txn;
mod version;
mod watch;

use std::future::Future;
use std::io::Write;

use etcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use etcd_rs_client::{Client, ClientOptions, Error as ClientError, Transport};
use tokio::time::Instant;

use crate::cli::{CheckCommand, Cli, Command, GlobalArgs, MemberCommand};
use crate::client_config;
use crate::error::{CtlError, EXIT_BAD_CONNECTION};
use crate::printer::{Format, Printer};
use crate::rpc;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CtlError> {
    let g = &cli.global;
    match cli.command {
        Command::Put(args) => put::run(g, &args).await,
        Command::Get(args) => get::run(g, &args).await,
        Command::Del(args) => del::run(g, &args).await,
        Command::Txn(args) => txn::run(g, &args).await,
        Command::Compaction(args) => compaction::run(g, &args).await,
        Command::Lease(l) => lease::run(g, l.command).await,
        Command::Watch(args) => watch::run(g, args).await,
        Command::Lock(args) => concurrency::lock(g, args).await,
        Command::Elect(args) => concurrency::elect(g, args).await,
        Command::Member(m) => match m.command {
            MemberCommand::List => member::list(g).await,
            MemberCommand::Add { peer_urls, learner, args } => member::add(g, &args, &peer_urls, learner).await,
            MemberCommand::Remove { args } => member::remove(g, &args).await,
            MemberCommand::Update { peer_urls, args } => member::update(g, &args, &peer_urls).await,
            MemberCommand::Promote { args } => member::promote(g, &args).await,
        },
        Command::MoveLeader { args } => member::move_leader(g, &args).await,
        Command::Endpoint(e) => endpoint::run(g, &e).await,
        Command::Alarm(a) => alarm::run(g, &a.command).await,
        Command::Defrag(args) => defrag::run(g, &args).await,
        Command::Snapshot(s) => snapshot::run(g, &s.command).await,
        Command::Completion { shell } => {
            completion::run(shell);
            Ok(())
        }
        Command::Check(c) => match &c.command {
            CheckCommand::Perf(args) => check::perf(g, args).await,
        },
        Command::Version => {
            version::run();
            Ok(())
        }
    }
}

/// The `-w`/`--hex` printer; an unknown format fails with exit 4.
fn printer(g: &GlobalArgs) -> Result<Printer, CtlError> {
    Ok(Printer::new(Format::parse(&g.write_out)?, g.hex))
}

/// The client settings from the global flags (TLS, authentication, keepalive), worked out
/// on first use and kept, so a password is prompted for at most once per command.
fn client_options(g: &GlobalArgs) -> Result<&ClientOptions, CtlError> {
    if let Some(options) = g.client_options.get() {
        return Ok(options);
    }
    let options = client_config::resolve(g)?;
    Ok(g.client_options.get_or_init(|| options))
}

/// A client for `endpoints` (exit 2 if it cannot be created, e.g. a wrong password, as
/// etcdctl's `mustClient`).
async fn client_for(g: &GlobalArgs, endpoints: Vec<String>) -> Result<Client, CtlError> {
    let options = client_options(g)?;
    Client::connect_with(endpoints, options).await.map_err(|e| CtlError::new(EXIT_BAD_CONNECTION, e))
}

/// etcdctl's `mustClientFromCmd`: the environment and the output format are checked here,
/// before any request.
async fn client_and_printer(g: &GlobalArgs) -> Result<(Client, Printer), CtlError> {
    g.env.report()?;
    let printer = printer(g)?;
    Ok((client_for(g, g.endpoints.clone()).await?, printer))
}

/// A Maintenance request to one endpoint over its own connection, within the command
/// timeout, as clientv3's `Status(ctx, ep)`, `HashKV` and `Defragment` send them.
/// `options` are [`client_options`]'s.
async fn maintenance_unary<T, F, Fut>(
    g: &GlobalArgs,
    options: &ClientOptions,
    ep: &str,
    mut send: F,
) -> Result<T, ClientError>
where
    F: FnMut(MaintenanceClient<Transport>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = command_deadline(g);
    let client = Client::connect_with(vec![ep.to_string()], options).await?;
    rpc::unary(Some(deadline), || send(client.maintenance())).await
}

/// When a short command must give up (`--command-timeout` from now).
fn command_deadline(g: &GlobalArgs) -> Instant {
    Instant::now() + g.command_timeout
}

/// Writes command output; a closed pipe (`| head`) is not an error worth reporting.
fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Writes diagnostics to stderr.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let _ = std::io::stderr().lock().write_all(bytes);
}
