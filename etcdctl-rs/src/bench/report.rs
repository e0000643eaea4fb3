//! The benchmark report: one JSON object on stdout (and in `--output`), plus a human
//! summary on stderr.

use serde::Serialize;

use crate::runner::Outcome;

/// The JSON report; field order is the documented output order.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `put` or `range`.
    pub op: &'static str,
    /// The endpoints as given.
    pub endpoints: Vec<String>,
    /// gRPC connections used.
    pub conns: u32,
    /// Concurrent clients.
    pub clients: u32,
    /// Requests sent.
    pub total: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Seconds from the first request to the last response.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Latency of successful requests, in milliseconds.
    pub latency_ms: Latency,
    /// `watch-idle`: growth of the server's resident memory per watcher, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_watcher: Option<f64>,
}

/// Latency statistics in milliseconds (0 when no request succeeded).
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Slowest.
    pub max: f64,
}

const NANOS_PER_MS: f64 = 1_000_000.0;

impl Report {
    /// Builds the report of a finished run.
    pub fn new(
        op: &'static str,
        endpoints: Vec<String>,
        conns: u32,
        clients: u32,
        total: u64,
        outcome: &Outcome,
    ) -> Self {
        let h = &outcome.latencies;
        let ms = |nanos: u64| nanos as f64 / NANOS_PER_MS;
        let elapsed_s = outcome.elapsed.as_secs_f64();
        let latency_ms = if h.is_empty() {
            Latency { mean: 0.0, p50: 0.0, p90: 0.0, p99: 0.0, p99_9: 0.0, max: 0.0 }
        } else {
            Latency {
                mean: h.mean() / NANOS_PER_MS,
                p50: ms(h.value_at_quantile(0.5)),
                p90: ms(h.value_at_quantile(0.9)),
                p99: ms(h.value_at_quantile(0.99)),
                p99_9: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
            }
        };
        Report {
            op,
            endpoints,
            conns,
            clients,
            total,
            errors: outcome.error_counts.values().sum(),
            elapsed_s,
            throughput: if elapsed_s > 0.0 { h.len() as f64 / elapsed_s } else { 0.0 },
            latency_ms,
            bytes_per_watcher: None,
        }
    }

    /// A one-line summary for people.
    pub fn summary(&self) -> String {
        let l = &self.latency_ms;
        format!(
            "{}: {} requests ({} errors) in {:.3}s = {:.1} ops/s; latency ms mean {:.3} p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}",
            self.op,
            self.total,
            self.errors,
            self.elapsed_s,
            self.throughput,
            l.mean,
            l.p50,
            l.p90,
            l.p99,
            l.p99_9,
            l.max
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use hdrhistogram::Histogram;

    use super::*;

    #[test]
    fn report_fields_and_order() {
        let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3) else {
            panic!("histogram");
        };
        for ms in 1..=100u64 {
            h.saturating_record(ms * 1_000_000);
        }
        let outcome = Outcome {
            latencies: h,
            error_counts: BTreeMap::from([("etcdserver: request timed out".to_string(), 2)]),
            elapsed: Duration::from_secs(2),
        };
        let r = Report::new("put", vec!["127.0.0.1:2379".into()], 1, 4, 102, &outcome);
        assert_eq!(r.throughput, 50.0);
        assert!((r.latency_ms.p50 - 50.0).abs() < 0.1);
        assert!((r.latency_ms.max - 100.0).abs() < 0.1);
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert!(json.starts_with(
            "{\"op\":\"put\",\"endpoints\":[\"127.0.0.1:2379\"],\"conns\":1,\"clients\":4,\"total\":102,\"errors\":2,\"elapsed_s\":2.0,\"throughput\":50.0,\"latency_ms\":{\"mean\":"
        ));
        assert!(json.contains("\"p99_9\":"));
    }
}
