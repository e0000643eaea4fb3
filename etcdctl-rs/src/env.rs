//! etcdctl's check of `ETCDCTL_*` environment variables (pkg/flags `SetPflagsFromEnv`),
//! run when a command creates its client: an unknown variable gets a warning, and a
//! variable that duplicates a flag given on the command line is fatal.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::error::{CtlError, EXIT_ERROR};

/// Global flags read from the environment: (clap id, variable).
const ENV_FLAGS: [(&str, &str); 5] = [
    ("endpoints", "ETCDCTL_ENDPOINTS"),
    ("write_out", "ETCDCTL_WRITE_OUT"),
    ("hex", "ETCDCTL_HEX"),
    ("dial_timeout", "ETCDCTL_DIAL_TIMEOUT"),
    ("command_timeout", "ETCDCTL_COMMAND_TIMEOUT"),
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
    let mut level = Some(matches);
    while let Some(m) = level {
        if m.try_get_raw(id).ok().flatten().is_some() && m.value_source(id) == Some(ValueSource::CommandLine) {
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
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06} {level} | pkg/flags: {message}",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
