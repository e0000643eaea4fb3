//! Resident memory of a server process on the same machine (`/proc/<pid>/status`).

use std::time::{Duration, Instant};

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

/// Most a settled RSS moves between two samples, in KiB.
const SETTLED_KIB: u64 = 64;
/// Time between samples while waiting for the RSS to settle.
const SETTLE_STEP: Duration = Duration::from_millis(500);
/// Longest wait for it; after that the last sample counts.
const SETTLE_LIMIT: Duration = Duration::from_secs(15);

/// VmRSS of `pid` once it stops moving: two samples half a second apart within 64 KiB of
/// each other, or the last one after 15 seconds. Allocators hand freed pages back to the
/// system in the background (jemalloc within a second or so, Go's scavenger over minutes);
/// a baseline read while they do so would hide the growth it is compared with.
pub async fn settled_rss_kib(pid: u32) -> Result<u64, BenchError> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    let mut last = rss_kib(pid)?;
    loop {
        tokio::time::sleep(SETTLE_STEP).await;
        let now = rss_kib(pid)?;
        if now.abs_diff(last) <= SETTLED_KIB || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}
