//! `etcd-rs`: runs one member. Flags, `ETCD_*` variables and `--config-file` as etcd's.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use etcd_rs_server::config::{Invocation, LogConfig, parse_args};
use etcd_rs_server::{ETCD_VERSION, VERSION, server};
use tracing_subscriber::EnvFilter;

/// jemalloc: glibc's malloc and free took an eighth of the server's CPU under load.
/// Built with one arena and small thread caches (`.cargo/config.toml`): lower resident memory.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How long the runtime's blocking tasks may take to finish once the member has stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(10);

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
    let runtime = match runtime_builder().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("etcd-rs: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Signals are caught from here on: one that arrives while the member is still starting
    // stops it cleanly once it has started, instead of killing it.
    let shutdown = {
        let _entered = runtime.enter();
        shutdown_signal()
    };
    let outcome = runtime.block_on(server::run(*config, shutdown));
    // Bounded: after a storage failure a blocking task may wait on the disk for ever.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match outcome {
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

/// The server's runtime: tokio's multi-threaded scheduler, without its LIFO slot where
/// the build allows.
///
/// With the LIFO slot, a connection woken by one finished request runs before the other
/// requests that the same Raft batch finished, so hyper writes every response with a
/// syscall of its own. Without it, a connection sends the responses that are ready in one
/// write: 64-client puts on one member made 0.9 writev calls per put before and 0.17
/// after, and 64-client puts, v2 sets, v2 gets and ranges took 11-25% less server CPU each
/// (interleaved A/B starts). Single-client requests pay for it: a task woken on a busy
/// worker now also wakes a parked one (if none is searching already), which may steal
/// it: 2 more futex calls per put and 2-5% fewer puts. The option needs `--cfg tokio_unstable`, which
/// .cargo/config.toml sets; a build without it keeps tokio's default.
fn runtime_builder() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    builder
}

/// Registers for SIGINT and SIGTERM at once (inside the runtime) and returns what
/// completes on the first of them. Registering only when first polled, as an `async fn`
/// would, left a window after the listeners opened in which SIGTERM still killed the
/// process.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        async move {
            match streams {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    tokio::signal::ctrl_c().await.ok();
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        tokio::signal::ctrl_c().await.ok();
    }
}

#[cfg(test)]
mod tests {
    /// Tasks run in the order they were woken: no LIFO slot lets the last one jump the
    /// queue, so the requests that one Raft batch finished all hand their responses to
    /// their connection before the connection writes.
    #[test]
    fn woken_tasks_run_in_the_order_they_were_woken() -> Result<(), Box<dyn std::error::Error>> {
        // One worker: which task runs next is then up to the scheduler alone.
        let runtime = super::runtime_builder().worker_threads(1).build()?;
        let order = runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(async move {
                for name in ["first", "second", "third"] {
                    let tx = tx.clone();
                    tokio::spawn(async move { tx.send(name).unwrap_or(()) });
                }
            });
            let mut order = Vec::new();
            while let Some(name) = rx.recv().await {
                order.push(name);
            }
            order
        });
        assert_eq!(
            order,
            ["first", "second", "third"],
            "built without --cfg tokio_unstable? A RUSTFLAGS variable replaces .cargo/config.toml's rustflags"
        );
        Ok(())
    }
}
