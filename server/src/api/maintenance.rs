//! `etcdserverpb.Maintenance`: Status, alarms, defragmentation, hashes, snapshots and
//! leader transfer.

use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::alarm_request::AlarmAction;
use etcd_proto::etcdserverpb::maintenance_server::Maintenance;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::status::status;
use super::{Context, convert, mismatch};
use crate::ETCD_VERSION;
use crate::alarm::Alarm;
use crate::command::{Command, CommandResponse};
use crate::metrics::metrics;
use crate::snapshot_file;

/// The Maintenance service.
pub struct MaintenanceService {
    ctx: Context,
}

impl MaintenanceService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

/// etcd sends snapshots in 32 KiB messages.
const SNAPSHOT_CHUNK: usize = 32 * 1024;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    /// GET lists the active alarms (of one kind, or all for NONE); ACTIVATE and
    /// DEACTIVATE go through the log and answer the alarm they changed, as etcd's.
    async fn alarm(&self, request: Request<pb::AlarmRequest>) -> Result<Response<pb::AlarmResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        let kind = convert::alarm_kind(req.alarm);
        let alarms = match (AlarmAction::try_from(req.action), kind) {
            (Ok(AlarmAction::Get), _) => {
                self.ctx.node.linearizable().await.map_err(status)?;
                let state = self.ctx.node.read();
                state.alarms().list().filter(|a| kind.is_none_or(|k| a.kind == k)).copied().collect()
            }
            (Ok(action), Some(kind)) => {
                let alarm = Alarm { member: req.member_id, kind };
                let cmd = Command::Alarm { activate: action == AlarmAction::Activate, alarm };
                match self.ctx.node.propose(cmd).await.map_err(status)? {
                    CommandResponse::Alarms(changed) => changed,
                    _ => return Err(mismatch()),
                }
            }
            // etcd ignores changes to the NONE alarm, and unknown actions.
            _ => Vec::new(),
        };
        // etcd 3.4 answers alarm requests without a header (etcdctl's `-w fields` trips on it).
        Ok(Response::new(pb::AlarmResponse {
            header: None,
            alarms: alarms.iter().map(convert::alarm_member).collect(),
        }))
    }

    async fn status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        let raft = self.ctx.node.status();
        let db_size = self.ctx.node.db_size().map_err(status)? as i64;
        let (revision, alarms) = {
            let state = self.ctx.node.read();
            (state.mvcc().current_revision(), state.alarms().list().map(Alarm::to_string).collect::<Vec<_>>())
        };
        let mut errors = Vec::new();
        if raft.leader == 0 {
            errors.push(crate::error::Error::NoLeader.to_string());
        }
        errors.extend(alarms);
        Ok(Response::new(pb::StatusResponse {
            header: Some(self.ctx.header(revision)),
            version: ETCD_VERSION.to_string(),
            db_size,
            db_size_in_use: self.ctx.node.db_size_in_use() as i64,
            leader: raft.leader,
            raft_index: raft.last_index,
            raft_term: raft.term,
            raft_applied_index: raft.applied_index,
            errors,
            is_learner: raft.is_learner,
        }))
    }

    /// Rewrites this member's database; the pause writes saw is logged.
    async fn defragment(&self, _: Request<pb::DefragmentRequest>) -> Result<Response<pb::DefragmentResponse>, Status> {
        let before = self.ctx.node.db_size().map_err(status)?;
        let done = {
            let _inflight = DefragInflight::start();
            self.ctx.node.defragment().await.map_err(status)?
        };
        metrics().defrag_duration.observe(done.took.as_secs_f64());
        self.ctx.quota.invalidate();
        let after = self.ctx.node.db_size().map_err(status)?;
        let (took_ms, writes_paused_ms) = (done.took.as_millis() as u64, done.paused.as_millis() as u64);
        tracing::info!(before, after, took_ms, writes_paused_ms, "defragmented the database");
        // etcd 3.4 sends no header here.
        Ok(Response::new(pb::DefragmentResponse { header: None }))
    }

    async fn hash(&self, _: Request<pb::HashRequest>) -> Result<Response<pb::HashResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let started = Instant::now();
        let (hash, revision) = {
            let state = self.ctx.node.read();
            (state.mvcc().hash().map_err(status)?, state.mvcc().current_revision())
        };
        metrics().hash_duration.observe(started.elapsed().as_secs_f64());
        Ok(Response::new(pb::HashResponse { header: Some(self.ctx.header(revision)), hash }))
    }

    async fn hash_kv(&self, request: Request<pb::HashKvRequest>) -> Result<Response<pb::HashKvResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let started = Instant::now();
        let (hash, compact_revision, revision) = {
            let state = self.ctx.node.read();
            let (hash, compacted) = state.mvcc().hash_kv(request.into_inner().revision).map_err(status)?;
            (hash, compacted, state.mvcc().current_revision())
        };
        metrics().hash_rev_duration.observe(started.elapsed().as_secs_f64());
        Ok(Response::new(pb::HashKvResponse { header: Some(self.ctx.header(revision)), hash, compact_revision }))
    }

    type SnapshotStream = Pin<Box<dyn Stream<Item = Result<pb::SnapshotResponse, Status>> + Send>>;

    /// Streams a snapshot file (see [`crate::snapshot_file`]) of the applied state, in
    /// etcd's 32 KiB chunks (without headers, as etcd 3.4 sends them).
    async fn snapshot(&self, _: Request<pb::SnapshotRequest>) -> Result<Response<Self::SnapshotStream>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let started = Instant::now();
        let export = self.ctx.node.export().await;
        let file = tokio::task::spawn_blocking(move || {
            let (snap, _) = export.finish()?;
            snapshot_file::encode(&snap).map_err(|e| crate::error::Error::Storage(e.to_string()))
        })
        .await
        .map_err(|e| Status::internal(format!("etcd-rs: snapshot stopped: {e}")))?
        .map_err(status)?;
        metrics().snapshot_duration.observe(started.elapsed().as_secs_f64());
        let total = file.len();
        // Chunks are cut as the client reads them: one copy of the file in memory.
        let chunks = (0..total.div_ceil(SNAPSHOT_CHUNK)).map(move |i| {
            let (start, end) = (i * SNAPSHOT_CHUNK, ((i + 1) * SNAPSHOT_CHUNK).min(total));
            Ok(pb::SnapshotResponse {
                header: None,
                remaining_bytes: (total - end) as u64,
                blob: file[start..end].to_vec(),
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn move_leader(
        &self,
        request: Request<pb::MoveLeaderRequest>,
    ) -> Result<Response<pb::MoveLeaderResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        self.ctx.node.move_leader(request.into_inner().target_id).await.map_err(super::status::status)?;
        // etcd 3.4 sends no header here.
        Ok(Response::new(pb::MoveLeaderResponse::default()))
    }
}

/// `etcd_disk_defrag_inflight` while a defragmentation runs, however the call ends (a
/// client that gives up drops the handler mid-way). Overlapping calls are counted so
/// that the first to end does not clear the gauge.
struct DefragInflight;

static DEFRAGS_RUNNING: AtomicI64 = AtomicI64::new(0);

impl DefragInflight {
    fn start() -> Self {
        DEFRAGS_RUNNING.fetch_add(1, Ordering::Relaxed);
        metrics().defrag_inflight.set(1);
        Self
    }
}

impl Drop for DefragInflight {
    fn drop(&mut self) {
        if DEFRAGS_RUNNING.fetch_sub(1, Ordering::Relaxed) == 1 {
            metrics().defrag_inflight.set(0);
        }
    }
}
