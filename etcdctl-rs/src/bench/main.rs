//! etcd-rs-bench: a load generator for etcd-rs and etcd in the spirit of etcd's `benchmark`
//! tool (`put` and `range`), printing one JSON report on stdout.

mod cli;
mod error;
mod http;
mod maint;
mod memory;
mod report;
mod rng;
mod runner;
mod watch;
mod workload;

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use etcd_rs_client::Client;

use crate::cli::{BenchCommand, Cli};
use crate::error::BenchError;
use crate::http::HttpConn;
use crate::report::Report;
use crate::rng::Rng;
use crate::runner::Transport;
use crate::workload::Workload;

/// TCP connect timeout for each connection.
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), BenchError> {
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut rng = Rng::new(seed);
    let (op, total, workload) = match &cli.command {
        BenchCommand::Put(args) => ("put", args.total, Workload::put(args, &mut rng)?),
        BenchCommand::Range(args) => ("range", args.total, Workload::range(args)),
        BenchCommand::V2Set(args) => ("v2-set", args.total, Workload::v2_set(args, &mut rng)),
        BenchCommand::V2Get(args) => ("v2-get", args.total, Workload::v2_get(args)),
        BenchCommand::LeaseCycle(args) => ("lease-cycle", args.total, Workload::lease_cycle(args, &mut rng)),
        BenchCommand::LeaseKeepalive(args) => ("lease-keepalive", args.total, Workload::KeepAlive),
        BenchCommand::WatchFanout(args) => {
            let conns = connect_all(&cli).await?;
            let outcome = watch::fanout(&conns, args, &mut rng).await?;
            let total = u64::from(args.watchers) * args.puts;
            return emit(
                &cli,
                Report::new("watch-fanout", cli.endpoints.clone(), cli.conns, args.watchers, total, &outcome),
                &outcome,
            );
        }
        BenchCommand::Snapshot => return print_value(maint::snapshot(&connect_one(&cli).await?).await?),
        BenchCommand::DefragPause => return print_value(maint::defrag_pause(&connect_one(&cli).await?).await?),
        BenchCommand::RangeRss(args) => {
            return print_value(maint::range_rss(&connect_one(&cli).await?, args).await?);
        }
        BenchCommand::WatchIdle(args) => {
            let conns = connect_all(&cli).await?;
            let (outcome, bytes) = watch::idle(&conns, args).await?;
            let mut report = Report::new(
                "watch-idle",
                cli.endpoints.clone(),
                cli.conns,
                args.watchers,
                u64::from(args.watchers),
                &outcome,
            );
            report.bytes_per_watcher = Some(bytes);
            return emit(&cli, report, &outcome);
        }
    };
    let mut transports = Vec::with_capacity(cli.clients as usize);
    let mut idle_watchers = None;
    if workload.is_http() {
        // HTTP/1.1 has no multiplexing: each client has its own connection, and the
        // clients are spread over the endpoints.
        for w in 0..cli.clients as usize {
            transports.push(Transport::Http(HttpConn::connect(&cli.endpoints[w % cli.endpoints.len()]).await?));
        }
    } else {
        let conns = connect_all(&cli).await?;
        if let BenchCommand::Put(args) = &cli.command
            && args.idle_watchers > 0
        {
            idle_watchers = Some(watch::open_idle(&conns, args.idle_watchers).await?);
        }
        for w in 0..cli.clients as usize {
            transports.push(Transport::Grpc(conns[w % conns.len()].clone()));
        }
    }
    let outcome = runner::run(transports, total, workload, rng.next_u64()).await?;
    drop(idle_watchers);
    let report = Report::new(op, cli.endpoints.clone(), cli.conns, cli.clients, total, &outcome);
    emit(&cli, report, &outcome)
}

/// One client over every endpoint.
async fn connect_one(cli: &Cli) -> Result<Client, BenchError> {
    Ok(Client::connect(cli.endpoints.clone(), DIAL_TIMEOUT).await?)
}

/// A maintenance report: on stderr for people, on stdout for the harness.
fn print_value(report: serde_json::Value) -> Result<(), BenchError> {
    eprintln!("{report}");
    println!("{report}");
    Ok(())
}

/// `--conns` clients; each owns its own HTTP/2 connection(s).
async fn connect_all(cli: &Cli) -> Result<Vec<Client>, BenchError> {
    let mut conns = Vec::with_capacity(cli.conns as usize);
    for _ in 0..cli.conns {
        conns.push(Client::connect(cli.endpoints.clone(), DIAL_TIMEOUT).await?);
    }
    Ok(conns)
}

/// Prints the summary and errors on stderr, the JSON on stdout (and to `--output`).
fn emit(cli: &Cli, report: Report, outcome: &runner::Outcome) -> Result<(), BenchError> {
    eprintln!("{}", report.summary());
    for (message, n) in &outcome.error_counts {
        eprintln!("  {n} x {message}");
    }
    let json = serde_json::to_string(&report)? + "\n";
    if let Some(path) = &cli.output {
        std::fs::write(path, &json)
            .map_err(|source| BenchError::Output { path: path.display().to_string(), source })?;
    }
    print!("{json}");
    Ok(())
}
