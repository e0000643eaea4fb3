//! Command-line flags and `ETCD_*` variables, built from the key table so every etcd key
//! is a flag named as in etcd.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, Command};

use super::{Config, ConfigError, keys, yaml};

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Run a member.
    Run {
        /// Its configuration.
        config: Box<Config>,
        /// Things to log once logging is set up (sources used, ignored inputs).
        notes: Vec<String>,
    },
    /// Print the version and exit.
    Version,
}

/// Failure to read the configuration.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage; clap renders it (and `--help`).
    #[error(transparent)]
    Usage(#[from] clap::Error),
    /// A bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn env_name(key: &str) -> String {
    format!("ETCD_{}", key.to_uppercase().replace('-', "_"))
}

fn command() -> Command {
    let mut cmd = Command::new("etcd-rs")
        .about("An etcd-compatible key-value store. Flags, ETCD_* variables and config keys are etcd's.")
        .disable_version_flag(true)
        .arg(Arg::new("version").long("version").action(ArgAction::SetTrue).help("Print the version and exit"))
        .arg(
            Arg::new("config-file")
                .long("config-file")
                .env("ETCD_CONFIG_FILE")
                .help("Path to a YAML config file; when given, other flags and ETCD_* variables are ignored"),
        );
    let groups = [
        (keys::SUPPORTED, "etcd flag"),
        (keys::ACCEPTED_UNUSED, "accepted, no effect yet"),
        (keys::REFUSED, "not supported yet: refused"),
    ];
    for (list, help) in groups {
        for key in list {
            cmd = cmd.arg(
                Arg::new(*key)
                    .long(*key)
                    .env(env_name(key))
                    .num_args(0..=1)
                    // `--enable-v2` alone means true, as with etcd's boolean flags.
                    .default_missing_value("true")
                    .help(help)
                    .hide(!std::ptr::eq(list, keys::SUPPORTED)),
            );
        }
    }
    cmd
}

/// Parses `args` (including the program name) and the environment.
pub fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Invocation, CliError> {
    let m = command().try_get_matches_from(args)?;
    if m.get_flag("version") {
        return Ok(Invocation::Version);
    }
    let mut notes = Vec::new();
    let all_keys = keys::SUPPORTED.iter().chain(keys::ACCEPTED_UNUSED).chain(keys::REFUSED);
    let pairs: Vec<(String, String)> = if let Some(path) = m.get_one::<String>("config-file") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File { path: path.clone(), reason: e.to_string() })?;
        notes.push(format!(
            "loaded server configuration from {path}; other command line flags and environment variables are ignored"
        ));
        yaml::pairs(path, &text)?
    } else {
        let mut pairs = Vec::new();
        for key in all_keys {
            let Some(value) = m.get_one::<String>(key) else {
                continue;
            };
            if m.value_source(key) == Some(ValueSource::EnvVariable) {
                notes.push(format!("recognized and used environment variable {}={value}", env_name(key)));
            }
            pairs.push((key.to_string(), value.clone()));
        }
        pairs
    };
    let known: Vec<String> = keys::SUPPORTED
        .iter()
        .chain(keys::ACCEPTED_UNUSED)
        .chain(keys::REFUSED)
        .map(|k| env_name(k))
        .chain(["ETCD_CONFIG_FILE".to_string()])
        .collect();
    for (name, value) in std::env::vars() {
        if name.starts_with("ETCD_") && !known.contains(&name) {
            notes.push(format!("unrecognized environment variable {name}={value}"));
        }
    }
    let config = Config::from_pairs(pairs)?;
    Ok(Invocation::Run { config: Box::new(config), notes })
}
