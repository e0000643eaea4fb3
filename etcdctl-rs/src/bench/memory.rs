//! Resident memory of a server process on the same machine (`/proc/<pid>/status`).

use crate::error::BenchError;

/// VmRSS of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, BenchError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| BenchError::Memory(format!("cannot read the memory of pid {pid}: {e}")))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| BenchError::Memory(format!("no VmRSS for pid {pid}")))
}
