//! `completion <shell>`: a shell completion script generated from the command-line syntax.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn run(shell: Shell) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "etcdctl-rs", &mut script);
    super::write_stdout(&script);
}
