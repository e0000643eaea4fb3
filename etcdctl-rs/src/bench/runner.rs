//! Sending the requests: `clients` concurrent workers share `conns` connections and take
//! request numbers from a shared counter until `total` have been sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseRevokeRequest, PutRequest,
};
use etcd_rs_client::Client;
use futures::StreamExt;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::BenchError;
use crate::http::HttpConn;
use crate::rng::Rng;
use crate::workload::{Request, Workload};

/// Significant figures kept by the latency histograms.
const SIGFIGS: u8 = 3;
/// Longest latency tracked (one hour, in nanoseconds); slower requests count as this.
const MAX_LATENCY_NANOS: u64 = 3_600_000_000_000;

/// What a run measured.
pub struct Outcome {
    /// Latencies of successful requests, in nanoseconds.
    pub latencies: Histogram<u64>,
    /// Failed requests by error text.
    pub error_counts: BTreeMap<String, u64>,
    /// Wall-clock time from the first request to the last response.
    pub elapsed: Duration,
}

/// An empty latency histogram with the benchmark's bounds.
pub fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NANOS, SIGFIGS).map_err(|e| BenchError::Histogram(e.to_string()))
}

/// How one worker reaches the server.
pub enum Transport {
    /// A gRPC client (on a shared HTTP/2 connection).
    Grpc(Client),
    /// Its own HTTP/1.1 connection to the v2 API.
    Http(HttpConn),
}

/// Runs `total` requests of `workload`, one worker per transport.
pub async fn run(transports: Vec<Transport>, total: u64, workload: Workload, seed: u64) -> Result<Outcome, BenchError> {
    let workload = Arc::new(workload);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(transports.len());
    for (w, transport) in transports.into_iter().enumerate() {
        let worker = Worker {
            transport,
            workload: Arc::clone(&workload),
            next: Arc::clone(&next),
            total,
            rng: Rng::new(seed.wrapping_add(w as u64)),
            latencies: new_histogram()?,
            errors: BTreeMap::new(),
            keepalive: None,
        };
        tasks.push(tokio::spawn(worker.run()));
    }
    let mut outcome = Outcome { latencies: new_histogram()?, error_counts: BTreeMap::new(), elapsed: Duration::ZERO };
    for task in tasks {
        let worker = task.await?;
        outcome.latencies.add(&worker.latencies).map_err(|e| BenchError::Histogram(e.to_string()))?;
        for (message, n) in worker.errors {
            *outcome.error_counts.entry(message).or_default() += n;
        }
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

/// One concurrent client.
struct Worker {
    transport: Transport,
    workload: Arc<Workload>,
    next: Arc<AtomicU64>,
    total: u64,
    rng: Rng,
    latencies: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    /// This worker's lease and keep-alive stream, once opened.
    keepalive: Option<KeepAliveStream>,
}

/// A lease and its keep-alive stream.
struct KeepAliveStream {
    id: i64,
    requests: mpsc::Sender<LeaseKeepAliveRequest>,
    replies: tonic::Streaming<LeaseKeepAliveResponse>,
}

/// Grants a lease, puts `key` with it, revokes it.
async fn lease_cycle(c: &Client, key: Vec<u8>, value: Vec<u8>) -> Result<(), String> {
    let lease = c.lease().lease_grant(LeaseGrantRequest { ttl: 60, id: 0 }).await.map_err(grpc_error)?.into_inner();
    c.kv().put(PutRequest { key, value, lease: lease.id, ..Default::default() }).await.map_err(grpc_error)?;
    c.lease().lease_revoke(LeaseRevokeRequest { id: lease.id }).await.map_err(grpc_error)?;
    Ok(())
}

/// One keep-alive round trip on `slot`'s stream, opening it (with a new lease) first.
async fn keep_alive(c: &Client, slot: &mut Option<KeepAliveStream>) -> Result<(), String> {
    if let Some(s) = slot.as_mut() {
        s.requests.send(LeaseKeepAliveRequest { id: s.id }).await.map_err(|e| e.to_string())?;
    } else {
        let id = c.lease().lease_grant(LeaseGrantRequest { ttl: 60, id: 0 }).await.map_err(grpc_error)?.into_inner().id;
        let (requests, rx) = mpsc::channel(1);
        // Queued before the call: etcd sends the response headers only with a first message.
        requests.send(LeaseKeepAliveRequest { id }).await.map_err(|e| e.to_string())?;
        let replies = c.lease().lease_keep_alive(ReceiverStream::new(rx)).await.map_err(grpc_error)?.into_inner();
        *slot = Some(KeepAliveStream { id, requests, replies });
    }
    let Some(s) = slot.as_mut() else { return Err("no keep-alive stream".into()) };
    match s.replies.next().await {
        Some(Ok(r)) if r.ttl > 0 => Ok(()),
        Some(Ok(_)) => Err("lease expired".into()),
        Some(Err(status)) => Err(grpc_error(status)),
        None => Err("keep-alive stream ended".into()),
    }
}

impl Worker {
    async fn run(mut self) -> Self {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.total {
                return self;
            }
            let request = self.workload.request(i, &mut self.rng);
            let sent = Instant::now();
            let result = match (&mut self.transport, request) {
                (Transport::Grpc(c), Request::Put(req)) => c.kv().put(req).await.map(drop).map_err(grpc_error),
                (Transport::Grpc(c), Request::Range(req)) => c.kv().range(req).await.map(drop).map_err(grpc_error),
                (Transport::Grpc(c), Request::LeaseCycle(key, value)) => lease_cycle(c, key, value).await,
                (Transport::Grpc(c), Request::KeepAlive) => keep_alive(c, &mut self.keepalive).await,
                (Transport::Http(conn), Request::Http(method, path, body)) => conn.send(method, &path, body).await,
                _ => Err("request and transport do not match".to_string()),
            };
            match result {
                Ok(()) => {
                    let nanos = u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    self.latencies.saturating_record(nanos.max(1));
                }
                Err(message) => *self.errors.entry(message).or_default() += 1,
            }
        }
    }
}

fn grpc_error(status: tonic::Status) -> String {
    etcd_rs_client::Error::from(status).to_string()
}
