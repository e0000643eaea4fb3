//! etcdctl-rs: etcdctl 3.4's command line (flags, output formats, errors and exit codes)
//! for etcd-rs and etcd.

mod cli;
mod client_config;
mod commands;
mod env;
mod error;
mod go;
mod ops;
mod printer;
mod rpc;
mod txn_parse;
mod v2;

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::error::EXIT_ERROR;

fn main() -> ExitCode {
    // etcdctl 3.4 runs its v2 tool for ETCDCTL_API=2.
    if std::env::var_os("ETCDCTL_API").is_some_and(|api| api == "2") {
        return v2::main();
    }
    if let Some(api) = std::env::var_os("ETCDCTL_API")
        && api != "3"
    {
        eprintln!("unsupported API version {}", api.to_string_lossy());
        return ExitCode::from(EXIT_ERROR as u8);
    }
    let parsed = Cli::command().try_get_matches().and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            cli.global.env = env::check(&matches);
            cli.global.command_timeout_set = env::flag_changed(&matches, "command_timeout");
            cli
        }
        Err(err) => return usage_error(err),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(EXIT_ERROR as u8);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprint!("{}", err.stderr_text());
            ExitCode::from(err.code() as u8)
        }
    }
}

/// Reports a command-line syntax error the way cobra and etcdctl do (`Error: ...` twice on
/// stderr, exit 1), with pflag's wording for the common cases; help goes to stdout as usual.
fn usage_error(err: clap::Error) -> ExitCode {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let message = match err.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg);
            match arg.strip_prefix("--") {
                Some(_) => format!("unknown flag: {arg}"),
                None => {
                    let flag = arg.trim_start_matches('-').chars().next().unwrap_or('-');
                    format!("unknown shorthand flag: '{flag}' in {arg}")
                }
            }
        }
        ErrorKind::InvalidSubcommand => {
            let cmd = context(ContextKind::InvalidSubcommand);
            let message = format!("unknown command \"{cmd}\" for \"etcdctl\"");
            eprint!("Error: {message}\nRun 'etcdctl --help' for usage.\nError: {message}\n");
            return ExitCode::from(EXIT_ERROR as u8);
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let flag = context(ContextKind::InvalidArg);
            // clap names the flag with its value syntax (`--limit <LIMIT>`, `--hex[=<HEX>]`).
            let flag = flag.split([' ', '[', '=']).next().unwrap_or_default();
            let value = context(ContextKind::InvalidValue);
            let why = std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default();
            format!("invalid argument \"{value}\" for \"{flag}\" flag: {why}")
        }
        _ => err.render().to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string(),
    };
    eprint!("Error: {message}\n\nError: {message}\n");
    ExitCode::from(EXIT_ERROR as u8)
}
