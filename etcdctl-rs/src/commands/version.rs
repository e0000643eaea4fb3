//! `version`.

/// The etcdctl release whose behaviour etcdctl-rs reproduces; scripts parse this line, so
/// it names the compatible etcdctl version rather than this crate's.
const ETCDCTL_VERSION: &str = "3.4.23";
/// The API version etcdctl 3.4 reports.
const API_VERSION: &str = "3.4";

/// Prints the version lines (whatever `-w` says, like etcdctl).
pub fn run() {
    super::write_stdout(format!("etcdctl version: {ETCDCTL_VERSION}\nAPI version: {API_VERSION}\n").as_bytes());
}
