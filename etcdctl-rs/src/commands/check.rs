//! `check perf`: a rate-limited put load on a scratch prefix for a minute, judged as
//! etcdctl 3.4 judges it (throughput at least 90% of the load's limit, slowest request
//! under 0.5 s, standard deviation under 0.1 s), then the prefix deleted.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::{CompactionRequest, DefragmentRequest, DeleteRangeRequest, PutRequest, RangeRequest};
use etcd_rs_client::{Client, ClientOptions};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cli::{CheckPerfArgs, GlobalArgs};
use crate::error::{CtlError, EXIT_BAD_FEATURE, EXIT_ERROR, EXIT_INVALID_INPUT};
use crate::rpc;

/// etcdctl's workload models: writes per second, concurrent clients.
fn load(name: &str) -> Option<(u32, usize)> {
    match name {
        "s" | "small" => Some((150, 50)),
        "m" | "medium" => Some((1000, 200)),
        "l" | "large" => Some((8000, 500)),
        "xl" | "xLarge" => Some((15000, 1000)),
        _ => None,
    }
}

/// etcdctl's key and value sizes: the key is a random varint padded with zeros.
const KEY_SIZE: usize = 256;
const VALUE_SIZE: usize = 1024;
/// Clients share at most this many connections (etcdctl opens one per client).
const MAX_CONNECTIONS: usize = 16;

/// The latency summary etcdctl judges.
#[derive(Debug, Default, PartialEq)]
struct Stats {
    rps: f64,
    slowest: f64,
    stddev: f64,
    errors: Vec<(String, u64)>,
}

impl Stats {
    /// From request latencies (seconds) over `elapsed`.
    fn of(latencies: &[f64], errors: Vec<(String, u64)>, elapsed: Duration) -> Self {
        let n = latencies.len() as f64;
        let mean = latencies.iter().sum::<f64>() / n.max(1.0);
        let var = latencies.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / n.max(1.0);
        Stats {
            rps: n / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
            slowest: latencies.iter().copied().fold(0.0, f64::max),
            stddev: var.sqrt(),
            errors,
        }
    }

    /// etcdctl's verdict lines, and whether everything passed.
    fn verdict(&self, limit: u32) -> (String, bool) {
        let mut out = String::new();
        let mut ok = true;
        if !self.errors.is_empty() {
            out.push_str("FAIL: too many errors\n");
            for (e, n) in &self.errors {
                out.push_str(&format!("FAIL: ERROR({e}) -> {n}\n"));
            }
            ok = false;
        }
        let writes = self.rps as i64 + 1;
        if self.rps / f64::from(limit) <= 0.9 {
            out.push_str(&format!("FAIL: Throughput too low: {writes} writes/s\n"));
            ok = false;
        } else {
            out.push_str(&format!("PASS: Throughput is {writes} writes/s\n"));
        }
        // etcdctl 3.4 prints these two failures without "FAIL: ".
        if self.slowest > 0.5 {
            out.push_str(&format!("Slowest request took too long: {:.6}s\n", self.slowest));
            ok = false;
        } else {
            out.push_str(&format!("PASS: Slowest request took {:.6}s\n", self.slowest));
        }
        if self.stddev > 0.1 {
            out.push_str(&format!("Stddev too high: {:.6}s\n", self.stddev));
            ok = false;
        } else {
            out.push_str(&format!("PASS: Stddev is {:.6}s\n", self.stddev));
        }
        out.push_str(if ok { "PASS\n" } else { "FAIL\n" });
        (out, ok)
    }
}

/// A key under `prefix` named by a random varint, as etcdctl's `binary.PutVarint`.
fn key(prefix: &str, n: u64) -> Vec<u8> {
    let mut k = vec![0u8; KEY_SIZE];
    // Zig-zag encoding of a non-negative number, then base-128 varint.
    let mut v = n << 1;
    let mut i = 0;
    while v >= 0x80 {
        k[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    k[i] = v as u8;
    let mut out = prefix.as_bytes().to_vec();
    out.extend_from_slice(&k);
    out
}

/// Runs `check perf`.
pub async fn perf(g: &GlobalArgs, args: &CheckPerfArgs) -> Result<(), CtlError> {
    let Some((limit, clients)) = load(&args.load) else {
        return Err(CtlError::new(EXIT_BAD_FEATURE, format!("unknown load option {}", args.load)));
    };
    g.env.report()?;
    let duration = Duration::from_secs(args.duration.max(1));
    let mut conns = Vec::new();
    for _ in 0..clients.min(MAX_CONNECTIONS) {
        conns.push(super::client_for(g, g.endpoints.clone()).await?);
    }
    let first = conns[0].clone();
    let prefix = args.prefix.clone();
    let range_end = etcd_rs_server::mvcc::prefix_end(prefix.as_bytes());
    let probe =
        RangeRequest { key: prefix.clone().into_bytes(), range_end: range_end.clone(), limit: 1, ..Default::default() };
    let existing = rpc::unary(Some(tokio::time::Instant::now() + duration), || {
        let mut kv = first.kv();
        let probe = probe.clone();
        async move { kv.range(probe).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    if !existing.kvs.is_empty() {
        return Err(CtlError::new(
            EXIT_INVALID_INPUT,
            format!("prefix {prefix:?} has keys. Delete with etcdctl del --prefix {prefix} first."),
        ));
    }
    let (latencies, errors, elapsed) = run_load(&conns, &prefix, limit, clients, duration).await;
    let stats = Stats::of(&latencies, errors, elapsed);
    let del = DeleteRangeRequest { key: prefix.clone().into_bytes(), range_end, prev_kv: false };
    let deleted = rpc::unary(Some(tokio::time::Instant::now() + Duration::from_secs(30)), || {
        let mut kv = first.kv();
        let del = del.clone();
        async move { kv.delete_range(del).await }
    })
    .await
    .map_err(|e| CtlError::new(EXIT_ERROR, e))?;
    if args.auto_compact {
        let revision = deleted.header.map_or(0, |h| h.revision);
        compact(&first, revision).await?;
    }
    if args.auto_defrag {
        let options = super::client_options(g)?;
        for ep in first.endpoints() {
            defrag(g, options, ep).await;
        }
    }
    let (text, ok) = stats.verdict(limit);
    super::write_stdout(text.as_bytes());
    if ok { Ok(()) } else { Err(CtlError::Exit(EXIT_ERROR)) }
}

/// Puts at `limit` per second, at most `clients` in flight, for `duration`; the latencies
/// in seconds, the errors by message, and the time it took.
async fn run_load(
    conns: &[Client],
    prefix: &str,
    limit: u32,
    clients: usize,
    duration: Duration,
) -> (Vec<f64>, Vec<(String, u64)>, Duration) {
    // A permit per client: when all are busy the pacing waits, as etcdctl's queue does.
    let in_flight = Arc::new(Semaphore::new(clients.max(1)));
    let mut puts = JoinSet::new();
    let progress = Progress::new(duration);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(limit)));
    let mut n: u64 = 0x5eed;
    let start = Instant::now();
    while start.elapsed() < duration {
        tick.tick().await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        // xorshift: spread keys like etcdctl's random ones, without a dependency.
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        let req = PutRequest { key: key(prefix, n >> 1), value: vec![0; VALUE_SIZE], ..Default::default() };
        let mut kv = conns[n as usize % conns.len()].kv();
        puts.spawn(async move {
            let started = Instant::now();
            let outcome = kv.put(req).await.map(|_| started.elapsed().as_secs_f64());
            drop(permit);
            outcome.map_err(|e| e.message().to_string())
        });
        progress.draw(start.elapsed());
    }
    let (mut latencies, mut errors) = (Vec::new(), BTreeMap::<String, u64>::new());
    while let Some(done) = puts.join_next().await {
        match done {
            Ok(Ok(latency)) => latencies.push(latency),
            Ok(Err(message)) => *errors.entry(message).or_default() += 1,
            Err(e) => *errors.entry(e.to_string()).or_default() += 1,
        }
    }
    progress.finish();
    (latencies, errors.into_iter().collect(), start.elapsed())
}

async fn compact(client: &Client, revision: i64) -> Result<(), CtlError> {
    let req = CompactionRequest { revision, physical: true };
    client.kv().compact(req).await.map_err(|e| CtlError::new(EXIT_ERROR, e.message().to_string()))?;
    super::write_stdout(format!("Compacted with revision {revision}\n").as_bytes());
    Ok(())
}

async fn defrag(g: &GlobalArgs, options: &ClientOptions, ep: &str) {
    let done =
        super::maintenance_unary(g, options, ep, |mut m| async move { m.defragment(DefragmentRequest {}).await }).await;
    match done {
        Ok(_) => super::write_stdout(format!("Defragmented {ep:?}\n").as_bytes()),
        Err(e) => super::write_stderr(format!("Failed to defragment etcd member[{ep}] ({e})\n").as_bytes()),
    }
}

/// The progress line (etcdctl-rs draws it on stderr, and only on a terminal).
struct Progress {
    enabled: bool,
    total: Duration,
}

impl Progress {
    fn new(total: Duration) -> Self {
        Self { enabled: std::io::stderr().is_terminal(), total }
    }

    fn draw(&self, elapsed: Duration) {
        if self.enabled {
            let (done, total) = (elapsed.as_secs().min(self.total.as_secs()), self.total.as_secs());
            let pct = 100.0 * elapsed.as_secs_f64() / self.total.as_secs_f64();
            super::write_stderr(format!("\r {done} / {total} {:.2}% ", pct.min(100.0)).as_bytes());
        }
    }

    fn finish(&self) {
        if self.enabled {
            super::write_stderr(format!("\r {0} / {0} 100.00% \n", self.total.as_secs()).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_as_etcdctl_prints_them() {
        let good = Stats { rps: 149.5, slowest: 0.087240, stddev: 0.003186, errors: Vec::new() };
        assert_eq!(
            good.verdict(150),
            (
                "PASS: Throughput is 150 writes/s\nPASS: Slowest request took 0.087240s\nPASS: Stddev is 0.003186s\nPASS\n"
                    .to_string(),
                true
            )
        );
        let bad = Stats { rps: 6490.2, slowest: 0.786915, stddev: 0.2, errors: vec![("boom".into(), 2)] };
        let (text, ok) = bad.verdict(8000);
        assert!(!ok);
        assert_eq!(
            text,
            "FAIL: too many errors\nFAIL: ERROR(boom) -> 2\nFAIL: Throughput too low: 6491 writes/s\n\
             Slowest request took too long: 0.786915s\nStddev too high: 0.200000s\nFAIL\n"
        );
    }

    #[test]
    fn stats_and_keys() {
        let s = Stats::of(&[0.1, 0.3], Vec::new(), Duration::from_secs(1));
        assert_eq!((s.rps, s.slowest), (2.0, 0.3));
        assert!((s.stddev - 0.1).abs() < 1e-9);
        let k = key("/p/", 1);
        assert_eq!(k.len(), 3 + KEY_SIZE);
        assert_eq!(&k[..5], b"/p/\x02\x00", "varint of 1 is zig-zagged to 2");
        assert_eq!(load("xLarge"), Some((15000, 1000)));
        assert_eq!(load("huge"), None);
    }
}
