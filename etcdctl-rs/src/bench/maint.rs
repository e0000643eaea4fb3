//! Maintenance benchmarks: snapshot download throughput, the write pause a
//! defragmentation causes, and server memory while reading a huge range with Range or
//! RangeStream. Each prints one JSON object.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::{DefragmentRequest, PutRequest, RangeRequest, SnapshotRequest};
use etcd_rs_client::Client;
use serde_json::{Value, json};

use crate::cli::RangeRssArgs;
use crate::error::BenchError;
use crate::memory::{rss_kib, settled_rss_kib};

fn rpc(what: &'static str) -> impl Fn(tonic::Status) -> BenchError {
    move |status| BenchError::Rpc { what, status }
}

/// Downloads a snapshot and throws it away: bytes, seconds, MB/s.
pub async fn snapshot(client: &Client) -> Result<Value, BenchError> {
    let start = Instant::now();
    let mut stream = client.maintenance().snapshot(SnapshotRequest {}).await.map_err(rpc("snapshot"))?.into_inner();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.message().await.map_err(rpc("snapshot stream"))? {
        bytes += chunk.blob.len() as u64;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(json!({"op": "snapshot", "bytes": bytes, "seconds": seconds, "mb_per_s": bytes as f64 / 1e6 / seconds}))
}

/// Puts one small key after another while the member defragments: how long the
/// defragmentation took and the slowest put meanwhile (the pause writers saw).
pub async fn defrag_pause(client: &Client) -> Result<Value, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let slowest_us = Arc::new(AtomicU64::new(0));
    let puts = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let writer = {
        let (kv, stop, slowest_us) = (client.kv(), stop.clone(), slowest_us.clone());
        let (puts, failed) = (puts.clone(), failed.clone());
        tokio::spawn(async move {
            let mut kv = kv;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let req = PutRequest { key: b"defrag-probe".to_vec(), value: b"v".to_vec(), ..Default::default() };
                // A put that times out waited at least as long as the pause it measures.
                let counter = if kv.put(req).await.is_ok() { &puts } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
                slowest_us.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
        })
    };
    // Let the writer settle, then reset what it measured so far.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline_us = slowest_us.swap(0, Ordering::Relaxed);
    let before = puts.load(Ordering::Relaxed);
    let start = Instant::now();
    client.maintenance().defragment(DefragmentRequest {}).await.map_err(rpc("defragment"))?;
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    Ok(json!({
        "op": "defrag-pause",
        "defrag_seconds": seconds,
        "max_put_ms_during": slowest_us.load(Ordering::Relaxed) as f64 / 1000.0,
        "max_put_ms_before": baseline_us as f64 / 1000.0,
        "puts_during": puts.load(Ordering::Relaxed) - before,
        "puts_failed": failed.load(Ordering::Relaxed),
    }))
}

/// Reads every key under a prefix, with Range (one response) or RangeStream (chunks,
/// each dropped once counted), sampling the server's memory every few milliseconds.
pub async fn range_rss(client: &Client, args: &RangeRssArgs) -> Result<Value, BenchError> {
    let baseline = settled_rss_kib(args.server_pid).await?;
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler = {
        let (done, peak, pid) = (done.clone(), peak.clone(), args.server_pid);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // An empty prefix reads every key (from "\0" on, as etcdctl's --from-key).
    let (key, range_end) = match args.prefix.as_bytes() {
        [] => (vec![0], vec![0]),
        p => (p.to_vec(), etcd_rs_server::mvcc::prefix_end(p)),
    };
    let req = RangeRequest { key, range_end, ..Default::default() };
    let start = Instant::now();
    let read = async {
        if args.stream {
            let mut chunks = client.kv().range_stream(req).await?.into_inner();
            let (mut keys, mut messages) = (0usize, 0u64);
            while let Some(c) = chunks.message().await? {
                keys += c.range_response.map_or(0, |r| r.kvs.len());
                messages += 1;
            }
            Ok::<_, tonic::Status>((keys, messages))
        } else {
            let r = client.kv().range(req).await?.into_inner();
            Ok((r.kvs.len(), 1))
        }
    };
    let outcome = read.await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let (keys, messages) = outcome.map_err(rpc(if args.stream { "range stream" } else { "range" }))?;
    let peak = peak.load(Ordering::Relaxed);
    Ok(json!({
        "op": if args.stream { "range-stream-rss" } else { "range-rss" },
        "keys": keys,
        "messages": messages,
        "seconds": start.elapsed().as_secs_f64(),
        "rss_before_kib": baseline,
        "rss_peak_kib": peak,
        "rss_growth_kib": peak.saturating_sub(baseline),
    }))
}
