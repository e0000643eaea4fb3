//! `etcd-rs`: runs one member. Flags, `ETCD_*` variables and `--config-file` as etcd's.

use std::io::IsTerminal;
use std::process::ExitCode;

use etcd_rs_server::config::{Invocation, LogConfig, parse_args};
use etcd_rs_server::{ETCD_VERSION, VERSION, server};
use tracing_subscriber::EnvFilter;

/// jemalloc: glibc's malloc and free took an eighth of the server's CPU under load.
/// Built with one arena and small thread caches (`.cargo/config.toml`): lower resident memory.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let (config, notes) = match parse_args(std::env::args_os().collect()) {
        Ok(Invocation::Run { config, notes }) => (config, notes),
        Ok(Invocation::Version) => {
            println!("etcd-rs Version: {VERSION}\netcd API Version: {ETCD_VERSION}");
            return ExitCode::SUCCESS;
        }
        Err(etcd_rs_server::config::CliError::Usage(e)) => e.exit(),
        Err(e) => {
            eprintln!("etcd-rs: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config.log);
    for note in notes {
        tracing::info!("{note}");
    }
    for key in &config.unused_keys {
        tracing::warn!(key = %key, "etcd-rs accepts '{key}' but does not act on it yet");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("etcd-rs: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(*config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "etcd-rs stopped");
            eprintln!("etcd-rs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(log: &LogConfig) {
    let level = match log.level.as_str() {
        "panic" | "fatal" => "error",
        other => other,
    };
    // openraft reports every election and shutdown step at info; keep its warnings only.
    let filter =
        EnvFilter::try_from_env("ETCD_RS_LOG").unwrap_or_else(|_| EnvFilter::new(format!("{level},openraft=warn")));
    // Colour only for a person at a terminal; files and pipes get plain text.
    let ansi = if log.stdout { std::io::stdout().is_terminal() } else { std::io::stderr().is_terminal() };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi);
    // Logs go to stderr unless asked otherwise, like etcd's.
    match (log.json, log.stdout) {
        (true, true) => builder.json().with_writer(std::io::stdout).init(),
        (true, false) => builder.json().with_writer(std::io::stderr).init(),
        (false, true) => builder.with_writer(std::io::stdout).init(),
        (false, false) => builder.with_writer(std::io::stderr).init(),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                ctrl_c.await.ok();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}
