//! `v3lockpb.Lock`: a distributed mutex per name, held by a lease (etcd's `v3lock`).

use etcd_proto::v3lockpb as pb;
use etcd_proto::v3lockpb::lock_server::Lock;
use tonic::{Request, Response, Status};

use super::status::{status, through_client, through_client_error};
use super::{Context, recipe_txns};
use crate::concurrency;

/// The Lock service.
pub struct LockService {
    ctx: Context,
}

impl LockService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

impl LockService {
    async fn hold(&self, req: pb::LockRequest) -> Result<pb::LockResponse, Status> {
        let node = &self.ctx.node;
        let lease = self.ctx.session_lease(req.lease).await?;
        let prefix = concurrency::prefix(&req.name);
        let key = concurrency::key_for(&prefix, lease);
        self.ctx.check_size(&recipe_txns::lock(&prefix, &key, lease))?;
        let mine = concurrency::claim(node, &key, b"", lease, false).await.map_err(status)?;
        concurrency::wait_turn(node, &prefix, &key, mine.create_revision).await.map_err(status)?;
        mine.won();
        let revision = node.read().mvcc().current_revision();
        Ok(pb::LockResponse { header: Some(self.ctx.header(revision)), key })
    }
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, request: Request<pb::LockRequest>) -> Result<Response<pb::LockResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        self.hold(request.into_inner()).await.map(Response::new).map_err(through_client)
    }

    async fn unlock(&self, request: Request<pb::UnlockRequest>) -> Result<Response<pb::UnlockResponse>, Status> {
        let key = request.into_inner().key;
        let revision = concurrency::release(&self.ctx.node, &key, None).await.map_err(through_client_error)?;
        Ok(Response::new(pb::UnlockResponse { header: Some(self.ctx.header(revision)) }))
    }
}
