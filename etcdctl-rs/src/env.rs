//! etcdctl's check of `ETCDCTL_*` environment variables (pkg/flags `SetPflagsFromEnv`),
//! run when a command creates its client: an unknown variable gets a warning, and a
//! variable that duplicates a flag given on the command line is fatal.

use std::time::SystemTime;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::error::{CtlError, EXIT_ERROR};
use crate::go::time::UtcTime;

/// Global flags read from the environment: (clap id, variable).
const ENV_FLAGS: [(&str, &str); 18] = [
    ("endpoints", "ETCDCTL_ENDPOINTS"),
    ("write_out", "ETCDCTL_WRITE_OUT"),
    ("hex", "ETCDCTL_HEX"),
    ("dial_timeout", "ETCDCTL_DIAL_TIMEOUT"),
    ("command_timeout", "ETCDCTL_COMMAND_TIMEOUT"),
    ("keepalive_time", "ETCDCTL_KEEPALIVE_TIME"),
    ("keepalive_timeout", "ETCDCTL_KEEPALIVE_TIMEOUT"),
    ("debug", "ETCDCTL_DEBUG"),
    ("insecure_transport", "ETCDCTL_INSECURE_TRANSPORT"),
    ("insecure_skip_tls_verify", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY"),
    ("cert", "ETCDCTL_CERT"),
    ("key", "ETCDCTL_KEY"),
    ("cacert", "ETCDCTL_CACERT"),
    ("user", "ETCDCTL_USER"),
    ("password", "ETCDCTL_PASSWORD"),
    ("discovery_srv", "ETCDCTL_DISCOVERY_SRV"),
    ("discovery_srv_name", "ETCDCTL_DISCOVERY_SRV_NAME"),
    ("insecure_discovery", "ETCDCTL_INSECURE_DISCOVERY"),
];

/// Findings of [`check`], reported by [`EnvCheck::report`].
#[derive(Debug, Clone, Default)]
pub struct EnvCheck {
    warnings: Vec<String>,
    conflict: Option<String>,
}

/// Looks at the environment against the flags given on the command line, in environment
/// order as Go does: warnings up to the first conflict, which stops the check.
pub fn check(matches: &ArgMatches) -> EnvCheck {
    let mut found = EnvCheck::default();
    for (key, value) in std::env::vars_os() {
        let key = key.to_string_lossy();
        // etcdctl consumes ETCDCTL_API before this check.
        if !key.starts_with("ETCDCTL_") || key == "ETCDCTL_API" {
            continue;
        }
        let flag = ENV_FLAGS.iter().find(|(_, var)| *var == key).map(|(id, _)| *id);
        match flag {
            Some(id) if from_command_line(matches, id) => {
                found.conflict = Some(format!(
                    "conflicting environment variable \"{key}\" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)"
                ));
                break;
            }
            // An empty variable is not applied, and then Go counts it as unrecognized.
            Some(_) if !value.is_empty() => {}
            _ => found.warnings.push(format!("unrecognized environment variable {key}={}", value.to_string_lossy())),
        }
    }
    found
}

/// Whether the global flag `id` was given on the command line, at any subcommand level.
fn from_command_line(matches: &ArgMatches, id: &str) -> bool {
    set_from(matches, id, &[ValueSource::CommandLine])
}

/// Whether the global flag `id` was set on the command line or by its `ETCDCTL_*` variable
/// (pflag's `Changed` once etcdctl has applied the environment).
pub fn flag_changed(matches: &ArgMatches, id: &str) -> bool {
    set_from(matches, id, &[ValueSource::CommandLine, ValueSource::EnvVariable])
}

/// Whether the global flag `id` got its value from one of `sources`, at any subcommand level.
fn set_from(matches: &ArgMatches, id: &str, sources: &[ValueSource]) -> bool {
    let mut level = Some(matches);
    while let Some(m) = level {
        if m.try_get_raw(id).ok().flatten().is_some() && m.value_source(id).is_some_and(|s| sources.contains(&s)) {
            return true;
        }
        level = m.subcommand().map(|(_, sub)| sub);
    }
    false
}

impl EnvCheck {
    /// Prints the warnings to stderr; a conflict is fatal (exit 1) like capnslog's Fatalf.
    pub fn report(&self) -> Result<(), CtlError> {
        for w in &self.warnings {
            eprintln!("{}", log_line('W', w));
        }
        match &self.conflict {
            Some(c) => {
                eprintln!("{}", log_line('C', c));
                Err(CtlError::Exit(EXIT_ERROR))
            }
            None => Ok(()),
        }
    }
}

/// A capnslog line: `2006-01-02 15:04:05.000000 W | pkg/flags: <message>` (UTC here).
fn log_line(level: char, message: &str) -> String {
    let t = UtcTime::of(SystemTime::now());
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06} {level} | pkg/flags: {message}",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros
    )
}
