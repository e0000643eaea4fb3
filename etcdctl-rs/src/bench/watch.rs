//! Watch benchmarks: fan-out of one key's events to many watchers, and the server memory
//! an idle watcher costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::watch_request::RequestUnion;
use etcd_proto::etcdserverpb::{PutRequest, WatchCreateRequest, WatchRequest, WatchResponse};
use etcd_rs_client::Client;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cli::{WatchFanoutArgs, WatchIdleArgs};
use crate::error::BenchError;
use crate::rng::Rng;
use crate::runner::{Outcome, new_histogram};

/// The key `watch-fanout` writes.
const FANOUT_KEY: &[u8] = b"watch-fanout-key";
/// Digits of the put number at the start of each value.
const INDEX_DIGITS: usize = 10;

/// Opens a watch stream on `client` with `keys.len()` watchers and waits until all are
/// created. The returned sender keeps the stream open.
async fn open(
    client: &Client,
    keys: Vec<Vec<u8>>,
) -> Result<(mpsc::Sender<WatchRequest>, tonic::Streaming<WatchResponse>), BenchError> {
    let n = keys.len();
    let (tx, rx) = mpsc::channel(n.max(1));
    // Queued before the call: etcd sends the response headers only with a first message.
    for key in keys {
        let create = WatchCreateRequest { key, ..Default::default() };
        tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) })
            .await
            .map_err(|e| BenchError::Watch(e.to_string()))?;
    }
    let mut stream =
        client.watch().watch(ReceiverStream::new(rx)).await.map_err(|s| BenchError::Watch(s.to_string()))?.into_inner();
    let mut created = 0;
    while created < n {
        match stream.next().await {
            Some(Ok(r)) if r.created => created += 1,
            Some(Ok(_)) => {}
            Some(Err(s)) => return Err(BenchError::Watch(s.to_string())),
            None => return Err(BenchError::Watch("stream ended while creating watchers".into())),
        }
    }
    Ok((tx, stream))
}

/// `watchers` watchers on one key over the connections (one stream each), `puts` puts from
/// one client; latency is from just before a put is sent to each watcher's event.
pub async fn fanout(conns: &[Client], args: &WatchFanoutArgs, rng: &mut Rng) -> Result<Outcome, BenchError> {
    let streams = conns.len().min(args.watchers as usize).max(1);
    let puts = usize::try_from(args.puts).unwrap_or(usize::MAX);
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..puts).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let mut receivers = Vec::new();
    let mut keep = Vec::new();
    for (s, conn) in conns.iter().take(streams).enumerate() {
        let n = (args.watchers as usize) / streams + usize::from(s < (args.watchers as usize) % streams);
        let (tx, mut stream) = open(conn, vec![FANOUT_KEY.to_vec(); n]).await?;
        keep.push(tx);
        let sent = Arc::clone(&sent);
        let mut latencies = new_histogram()?;
        receivers.push(tokio::spawn(async move {
            let want = n * puts;
            let mut got = 0;
            while got < want {
                let Some(Ok(r)) = stream.next().await else { break };
                let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                for e in r.events {
                    let value = e.kv.map(|kv| kv.value).unwrap_or_default();
                    let i: usize = std::str::from_utf8(&value[..INDEX_DIGITS.min(value.len())])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let at = sent.get(i).map_or(now, |a| a.load(Ordering::Relaxed));
                    latencies.saturating_record(now.saturating_sub(at).max(1));
                    got += 1;
                }
            }
            (latencies, got, start.elapsed())
        }));
    }
    let padding = rng.bytes(args.val_size.saturating_sub(INDEX_DIGITS));
    let kv = conns[0].kv();
    let first_put = Instant::now();
    let mut errors = std::collections::BTreeMap::new();
    for i in 0..puts {
        let mut value = format!("{i:0INDEX_DIGITS$}").into_bytes();
        value.extend(padding.iter().map(|b| b'a' + b % 26));
        sent[i].store(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        let req = PutRequest { key: FANOUT_KEY.to_vec(), value, ..Default::default() };
        if let Err(s) = kv.clone().put(req).await {
            *errors.entry(s.message().to_string()).or_insert(0u64) += 1;
        }
    }
    let mut latencies = new_histogram()?;
    let mut last = Duration::ZERO;
    for r in receivers {
        let (h, _, done) = r.await?;
        latencies.add(&h).map_err(|e| BenchError::Histogram(e.to_string()))?;
        last = last.max(done);
    }
    drop(keep);
    let elapsed = last.saturating_sub(first_put.duration_since(start));
    Ok(Outcome { latencies, error_counts: errors, elapsed })
}

/// Idle watch streams: dropping them ends the watchers.
pub type IdleWatchers = Vec<(mpsc::Sender<WatchRequest>, tonic::Streaming<WatchResponse>)>;

/// Creates `watchers` watchers on distinct keys nobody writes, one stream per connection,
/// and waits until all are created.
pub async fn open_idle(conns: &[Client], watchers: u32) -> Result<IdleWatchers, BenchError> {
    let streams = conns.len().max(1);
    let mut keep = Vec::with_capacity(streams);
    for (s, conn) in conns.iter().enumerate() {
        let keys: Vec<Vec<u8>> = (0..watchers as usize)
            .filter(|i| i % streams == s)
            .map(|i| format!("watch-idle/{i}").into_bytes())
            .collect();
        keep.push(open(conn, keys).await?);
    }
    Ok(keep)
}

/// Creates `watchers` idle watchers (distinct keys nobody writes) and reports how much the
/// server's resident memory grew per watcher.
pub async fn idle(conns: &[Client], args: &WatchIdleArgs) -> Result<(Outcome, f64), BenchError> {
    let before = crate::memory::settled_rss_kib(args.server_pid).await?;
    let start = Instant::now();
    let keep = open_idle(conns, args.watchers).await?;
    let elapsed = start.elapsed();
    let after = crate::memory::settled_rss_kib(args.server_pid).await?;
    drop(keep);
    let bytes = (after.saturating_sub(before) as f64 * 1024.0) / f64::from(args.watchers.max(1));
    Ok((Outcome { latencies: new_histogram()?, error_counts: Default::default(), elapsed }, bytes))
}
