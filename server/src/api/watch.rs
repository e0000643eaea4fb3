//! `etcdserverpb.Watch`: one task per stream turns requests into [`WatcherSet`] changes and
//! sends what its watchers have not seen whenever the store's revision moves.
//!
//! Responses go through a small bounded queue in batches (a read of the history's worth,
//! up to [`BATCH_RESPONSES`]: one channel hand-off per revision, not one per watcher): a
//! client that stops reading stalls only its own stream's task, never a writer or another
//! stream.

use std::pin::Pin;

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::watch_server::Watch;
use etcd_proto::mvccpb;
use futures::{Stream, StreamExt};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::status::{as_grpc_go, status};
use super::{Context, convert};
use crate::metrics::metrics;
use crate::watch::{CreateWatch, Delivery, Event, WatcherSet};

/// Batches of responses queued per stream before its task waits for the client.
const OUTBOUND_QUEUE: usize = 1;
/// Most responses in one batch. With the one queued and the one being sent, a client that
/// stops reading pins one read of the history plus at most twice this many responses
/// (per-response queueing pinned the read plus 16).
const BATCH_RESPONSES: usize = 64;
/// `FilterType` values of `WatchCreateRequest.filters`.
const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;
/// The field number of `WatchResponse.events`.
const EVENTS_FIELD: u32 = 11;

/// The Watch service.
pub struct WatchService {
    ctx: Context,
}

impl WatchService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

/// Responses sent together; the stream hands them to the client one by one.
type Batch = Vec<Result<pb::WatchResponse, Status>>;
type Outbound = mpsc::Sender<Batch>;

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        request: Request<Streaming<pb::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let stream = StreamTask {
            ctx: self.ctx.clone(),
            tx,
            set: WatcherSet::default(),
            delivered: 0,
            gauges: StreamGauges::open(),
        };
        tokio::spawn(stream.run(inbound));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).flat_map(futures::stream::iter))))
    }
}

/// One Watch stream.
struct StreamTask {
    ctx: Context,
    tx: Outbound,
    set: WatcherSet,
    /// Every event up to this revision has been sent (for progress notifications).
    delivered: i64,
    gauges: StreamGauges,
}

/// This stream's share of `etcd_debugging_mvcc_watch_stream_total`,
/// `etcd_debugging_mvcc_watcher_total` and `etcd_debugging_mvcc_slow_watcher_total`,
/// taken back when the stream ends.
struct StreamGauges {
    watchers: i64,
    /// Watchers catching up from the history (etcd's unsynced ones).
    slow: i64,
}

impl StreamGauges {
    fn open() -> Self {
        metrics().watch_streams.inc();
        Self { watchers: 0, slow: 0 }
    }

    /// Records how many watchers the stream has now, and how many of them are behind the
    /// store at revision `current`.
    fn count(&mut self, set: &WatcherSet, current: i64) {
        let m = metrics();
        for (gauge, mine, now) in
            [(&m.watchers, &mut self.watchers, set.len()), (&m.slow_watchers, &mut self.slow, set.behind(current))]
        {
            let now = i64::try_from(now).unwrap_or(i64::MAX);
            if now != *mine {
                gauge.add(now - *mine);
                *mine = now;
            }
        }
    }
}

impl Drop for StreamGauges {
    fn drop(&mut self) {
        let m = metrics();
        m.watchers.sub(self.watchers);
        m.slow_watchers.sub(self.slow);
        m.watch_streams.dec();
    }
}

/// The client went away: the task ends.
struct Gone;

impl StreamTask {
    async fn run(mut self, mut inbound: Streaming<pb::WatchRequest>) {
        let mut revisions = self.ctx.node.revisions();
        let interval = self.ctx.watch_progress_interval;
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            if self.deliver().await.is_err() {
                return;
            }
            let outcome = tokio::select! {
                msg = inbound.message() => match msg {
                    Ok(Some(req)) => self.handle(req).await,
                    // Client half-closed.
                    Ok(None) => Err(Gone),
                    // A request that could not be read ends the call with its status, as
                    // etcd's (if the stream broke, nobody hears it).
                    Err(s) => {
                        self.send_batch(vec![Err(as_grpc_go(s))]).await.ok();
                        Err(Gone)
                    }
                },
                changed = revisions.changed() => changed.map_err(|_| Gone),
                _ = progress.tick() => self.notify_progress().await,
                () = self.tx.closed() => Err(Gone),
            };
            if outcome.is_err() {
                return;
            }
        }
    }

    fn current(&self) -> i64 {
        self.ctx.node.read().mvcc().current_revision()
    }

    async fn send(&self, r: pb::WatchResponse) -> Result<(), Gone> {
        self.send_batch(vec![Ok(r)]).await
    }

    async fn send_batch(&self, batch: Batch) -> Result<(), Gone> {
        self.tx.send(batch).await.map_err(|_| Gone)
    }

    fn response(&self, revision: i64, watch_id: i64) -> pb::WatchResponse {
        headed(self.ctx.header(revision), watch_id)
    }

    /// Sends everything the watchers have not seen, in bounded reads of the history.
    async fn deliver(&mut self) -> Result<(), Gone> {
        loop {
            let (current, polled) = {
                let state = self.ctx.node.read();
                (state.mvcc().current_revision(), self.set.poll(state.mvcc()))
            };
            // A poll cancels the watchers whose history was compacted.
            self.gauges.count(&self.set, current);
            let deliveries = match polled {
                Ok(d) => d,
                Err(e) => {
                    self.send_batch(vec![Err(status(e))]).await.ok();
                    return Err(Gone);
                }
            };
            if deliveries.is_empty() {
                if self.set.synced(current) {
                    self.delivered = current;
                    return Ok(());
                }
                // A read of history without an event for these watchers: read on, but
                // let other tasks run between reads of a long stretch.
                tokio::task::yield_now().await;
                continue;
            }
            let mut batch = Vec::with_capacity(deliveries.len().min(BATCH_RESPONSES));
            // One header for the batch: reading the term per response showed in profiles.
            let header = self.ctx.header(current);
            for d in deliveries {
                match d {
                    Delivery::Compacted { watch_id, compact_revision } => {
                        // etcd's cancellation for compaction carries a header without revision.
                        let r = pb::WatchResponse { compact_revision, canceled: true, ..self.response(0, watch_id) };
                        batch.push(Ok(r));
                    }
                    Delivery::Events { watch_id, events } => self.push_events(&mut batch, header, watch_id, events),
                }
                if batch.len() >= BATCH_RESPONSES {
                    self.send_batch(std::mem::take(&mut batch)).await?;
                }
            }
            if !batch.is_empty() {
                self.send_batch(batch).await?;
            }
        }
    }

    /// One response, or with `fragment` several, split as etcd's `sendFragments` splits
    /// them: only a response of at least the limit (the request limit plus gRPC's
    /// overhead allowance, as etcd's watch server takes it) with two or more events, each
    /// fragment filled until the next event would bring it to the limit.
    fn push_events(&self, batch: &mut Batch, header: pb::ResponseHeader, watch_id: i64, events: Vec<Event>) {
        metrics().watch_events.inc_by(events.len() as u64);
        let response = |events, fragment| pb::WatchResponse { events, fragment, ..headed(header, watch_id) };
        let whole = response(events.into_iter().map(event).collect(), false);
        let limit = self.ctx.max_request_bytes + super::GRPC_OVERHEAD_BYTES;
        if !self.set.fragments(watch_id) || whole.events.len() < 2 || whole.encoded_len() < limit {
            batch.push(Ok(whole));
            return;
        }
        let empty = response(Vec::new(), true).encoded_len();
        let mut chunks: Vec<Vec<mvccpb::Event>> = vec![Vec::new()];
        let mut size = empty;
        for e in whole.events {
            // The event as a field of the response: its tag, its length, itself.
            let len = prost::encoding::key_len(EVENTS_FIELD)
                + prost::encoding::encoded_len_varint(e.encoded_len() as u64)
                + e.encoded_len();
            if size + len >= limit && chunks.last().is_some_and(|c| !c.is_empty()) {
                chunks.push(Vec::new());
                size = empty;
            }
            size += len;
            if let Some(c) = chunks.last_mut() {
                c.push(e);
            }
        }
        let n = chunks.len();
        for (i, events) in chunks.into_iter().enumerate() {
            batch.push(Ok(response(events, i + 1 < n)));
        }
    }

    async fn handle(&mut self, req: pb::WatchRequest) -> Result<(), Gone> {
        use pb::watch_request::RequestUnion;
        match req.request_union {
            Some(RequestUnion::CreateRequest(c)) => {
                let current = self.current();
                let empty_range = !c.range_end.is_empty() && c.range_end != [0] && c.key >= c.range_end;
                let create = CreateWatch {
                    no_put: c.filters.contains(&FILTER_NOPUT),
                    no_delete: c.filters.contains(&FILTER_NODELETE),
                    key: c.key,
                    range_end: c.range_end,
                    start_revision: c.start_revision,
                    prev_kv: c.prev_kv,
                    progress_notify: c.progress_notify,
                    fragment: c.fragment,
                    watch_id: c.watch_id,
                };
                let created = if empty_range {
                    Err("mvcc: watcher range is empty".to_string())
                } else {
                    self.set.create(create, current).map_err(|e| e.to_string())
                };
                // Counted before the client hears of it.
                self.gauges.count(&self.set, current);
                let r = match created {
                    Ok(id) => pb::WatchResponse { created: true, ..self.response(current, id) },
                    Err(reason) => pb::WatchResponse {
                        created: true,
                        canceled: true,
                        cancel_reason: reason,
                        ..self.response(current, -1)
                    },
                };
                self.send(r).await
            }
            Some(RequestUnion::CancelRequest(c)) => {
                if self.set.cancel(c.watch_id) {
                    self.gauges.count(&self.set, self.current());
                    let r = pb::WatchResponse { canceled: true, ..self.response(self.current(), c.watch_id) };
                    self.send(r).await?;
                }
                Ok(())
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                // Not associated with a watcher (etcd answers with watch id -1); the
                // revision is one up to which every event was sent.
                self.deliver().await?;
                self.send(self.response(self.delivered, -1)).await
            }
            None => Ok(()),
        }
    }

    /// Tells idle watchers that asked for it how far the store has got.
    async fn notify_progress(&mut self) -> Result<(), Gone> {
        self.deliver().await?;
        let header = self.ctx.header(self.delivered);
        for ids in self.set.progress_due(self.delivered).chunks(BATCH_RESPONSES) {
            self.send_batch(ids.iter().map(|id| Ok(headed(header, *id))).collect()).await?;
        }
        Ok(())
    }
}

/// An empty response for `watch_id` under `header`.
fn headed(header: pb::ResponseHeader, watch_id: i64) -> pb::WatchResponse {
    pb::WatchResponse { header: Some(header), watch_id, ..Default::default() }
}

fn event(e: Event) -> mvccpb::Event {
    mvccpb::Event {
        r#type: if e.deleted { mvccpb::event::EventType::Delete as i32 } else { mvccpb::event::EventType::Put as i32 },
        kv: Some(convert::key_value(e.kv)),
        prev_kv: e.prev_kv.map(convert::key_value),
    }
}
