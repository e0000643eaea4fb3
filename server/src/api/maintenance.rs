//! `etcdserverpb.Maintenance`: Status and alarm listing; the rest arrives with the
//! maintenance work and answers Unimplemented until then.

use std::pin::Pin;

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::alarm_request::AlarmAction;
use etcd_proto::etcdserverpb::maintenance_server::Maintenance;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::Context;
use super::status::status;
use crate::ETCD_VERSION;

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

fn not_yet(what: &str) -> Status {
    Status::unimplemented(format!("etcd-rs: {what} is not supported yet"))
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, request: Request<pb::AlarmRequest>) -> Result<Response<pb::AlarmResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        match AlarmAction::try_from(request.into_inner().action) {
            // No alarm can be raised yet (no quota), so the list is truly empty.
            Ok(AlarmAction::Get) => Ok(Response::new(pb::AlarmResponse::default())),
            _ => Err(not_yet("raising or clearing alarms")),
        }
    }

    async fn status(&self, _: Request<pb::StatusRequest>) -> Result<Response<pb::StatusResponse>, Status> {
        let raft = self.ctx.node.status();
        let db_size = self.ctx.node.db_size().map_err(status)? as i64;
        let revision = self.ctx.node.read().mvcc().current_revision();
        let mut errors = Vec::new();
        if raft.leader == 0 {
            errors.push(crate::error::Error::NoLeader.to_string());
        }
        Ok(Response::new(pb::StatusResponse {
            header: Some(self.ctx.header(revision)),
            version: ETCD_VERSION.to_string(),
            db_size,
            // sled does not report live bytes separately; real figures come with defrag.
            db_size_in_use: db_size,
            leader: raft.leader,
            raft_index: raft.last_index,
            raft_term: raft.term,
            raft_applied_index: raft.applied_index,
            errors,
            is_learner: raft.is_learner,
        }))
    }

    async fn defragment(&self, _: Request<pb::DefragmentRequest>) -> Result<Response<pb::DefragmentResponse>, Status> {
        Err(not_yet("defragment"))
    }

    async fn hash(&self, _: Request<pb::HashRequest>) -> Result<Response<pb::HashResponse>, Status> {
        Err(not_yet("hash"))
    }

    async fn hash_kv(&self, request: Request<pb::HashKvRequest>) -> Result<Response<pb::HashKvResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let (hash, compact_revision, revision) = {
            let state = self.ctx.node.read();
            let (hash, compacted) = state.mvcc().hash_kv(request.into_inner().revision).map_err(status)?;
            (hash, compacted, state.mvcc().current_revision())
        };
        Ok(Response::new(pb::HashKvResponse { header: Some(self.ctx.header(revision)), hash, compact_revision }))
    }

    type SnapshotStream = Pin<Box<dyn Stream<Item = Result<pb::SnapshotResponse, Status>> + Send>>;

    async fn snapshot(&self, _: Request<pb::SnapshotRequest>) -> Result<Response<Self::SnapshotStream>, Status> {
        Err(not_yet("snapshot"))
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
