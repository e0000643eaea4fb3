//! How etcdctl-rs fails: etcdctl's exit codes and its `Error: <message>` line.

use std::fmt;

use etcd_rs_client::Error as ClientError;

/// Server or RPC error, timeout (`cobrautl.ExitError`).
pub const EXIT_ERROR: i32 = 1;
/// The client could not be created (`ExitBadConnection`).
pub const EXIT_BAD_CONNECTION: i32 = 2;
/// Unparsable txn input (`ExitInvalidInput`).
pub const EXIT_INVALID_INPUT: i32 = 3;
/// Unsupported output format or option value (`ExitBadFeature`).
pub const EXIT_BAD_FEATURE: i32 = 4;
/// A long-running command failed, e.g. `snapshot save` (`ExitInterrupted`).
pub const EXIT_INTERRUPTED: i32 = 5;
/// Bad command-line arguments (`ExitBadArgs`).
pub const EXIT_BAD_ARGS: i32 = 128;
/// What a Go program exits with when it panics.
const EXIT_GO_PANIC: i32 = 2;

/// A failure that ends the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtlError {
    /// Prints `Error: <message>` on stderr and exits with `code`.
    Fatal {
        /// Process exit code.
        code: i32,
        /// Text after `Error: `.
        message: String,
    },
    /// Prints a command's usage text on stderr, then fails like [`CtlError::Fatal`]
    /// (cobra does this for flag errors inside `txn` request lines).
    Usage {
        /// The usage block, ending in a blank line.
        usage: &'static str,
        /// Process exit code.
        code: i32,
        /// Text after `Error: `.
        message: String,
    },
    /// Exits with the code; whatever explains it was printed already.
    Exit(i32),
    /// Where etcdctl 3.4 panics (`panic: <message>`, exit 2): reproduced so scripts see the
    /// same failure.
    Panic(String),
}

impl CtlError {
    /// A [`CtlError::Fatal`] with `code` and `message`.
    pub fn new(code: i32, message: impl fmt::Display) -> Self {
        CtlError::Fatal { code, message: message.to_string() }
    }

    /// An argument error (exit 128).
    pub fn bad_args(message: impl fmt::Display) -> Self {
        Self::new(EXIT_BAD_ARGS, message)
    }

    /// `<format> not supported as output format` (exit 4).
    pub fn unsupported_format(format: &str) -> Self {
        Self::new(EXIT_BAD_FEATURE, format!("{format} not supported as output format"))
    }

    /// The process exit code.
    pub fn code(&self) -> i32 {
        match self {
            CtlError::Fatal { code, .. } | CtlError::Usage { code, .. } | CtlError::Exit(code) => *code,
            CtlError::Panic(_) => EXIT_GO_PANIC,
        }
    }

    /// What to print on stderr before exiting.
    pub fn stderr_text(&self) -> String {
        match self {
            CtlError::Fatal { message, .. } => format!("Error: {message}\n"),
            CtlError::Usage { usage, message, .. } => format!("{usage}Error: {message}\n"),
            CtlError::Exit(_) => String::new(),
            CtlError::Panic(message) => format!("panic: {message}\n"),
        }
    }
}

impl From<ClientError> for CtlError {
    /// A failed RPC: exit 1 with the error as clientv3 words it.
    fn from(err: ClientError) -> Self {
        CtlError::new(EXIT_ERROR, err)
    }
}
