//! `v3electionpb.Election`: leader election per name with leases (etcd's `v3election`).

use std::pin::Pin;

use etcd_proto::v3electionpb as pb;
use etcd_proto::v3electionpb::election_server::Election;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::status::{status, through_client, through_client_error};
use super::{Context, convert, recipe_txns};
use crate::concurrency;
use crate::error::Error;

/// Leader changes queued per Observe stream.
const OBSERVE_QUEUE: usize = 16;

/// The Election service.
pub struct ElectionService {
    ctx: Context,
}

impl ElectionService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn header(&self) -> Option<etcd_proto::etcdserverpb::ResponseHeader> {
        Some(self.ctx.header(self.ctx.node.read().mvcc().current_revision()))
    }
}

fn leader_key(leader: Option<pb::LeaderKey>) -> Result<pb::LeaderKey, Status> {
    leader.ok_or_else(|| status(Error::MissingLeaderKey))
}

impl ElectionService {
    async fn run_campaign(&self, req: pb::CampaignRequest) -> Result<pb::CampaignResponse, Status> {
        let node = &self.ctx.node;
        let lease = self.ctx.session_lease(req.lease).await?;
        let prefix = concurrency::prefix(&req.name);
        let key = concurrency::key_for(&prefix, lease);
        self.ctx.check_size(&recipe_txns::campaign(&key, &req.value, lease))?;
        let mine = concurrency::claim(node, &key, &req.value, lease, true).await.map_err(status)?;
        concurrency::wait_turn(node, &prefix, &key, mine.create_revision).await.map_err(status)?;
        let leader = pb::LeaderKey { name: req.name, key, rev: mine.create_revision, lease };
        mine.won();
        Ok(pb::CampaignResponse { header: self.header(), leader: Some(leader) })
    }

    async fn run_proclaim(&self, req: pb::ProclaimRequest) -> Result<pb::ProclaimResponse, Status> {
        let l = leader_key(req.leader)?;
        // As etcd's server: a leader key without a lease gets a session lease, and the
        // value is put with it.
        let lease = self.ctx.session_lease(l.lease).await?;
        self.ctx.check_size(&recipe_txns::proclaim(&l.key, l.rev, &req.value, lease))?;
        let revision = concurrency::proclaim(&self.ctx.node, &l.key, l.rev, lease, &req.value).await.map_err(status)?;
        Ok(pb::ProclaimResponse { header: Some(self.ctx.header(revision)) })
    }
}

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(&self, request: Request<pb::CampaignRequest>) -> Result<Response<pb::CampaignResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        self.run_campaign(request.into_inner()).await.map(Response::new).map_err(through_client)
    }

    async fn proclaim(&self, request: Request<pb::ProclaimRequest>) -> Result<Response<pb::ProclaimResponse>, Status> {
        self.run_proclaim(request.into_inner()).await.map(Response::new).map_err(through_client)
    }

    async fn leader(&self, request: Request<pb::LeaderRequest>) -> Result<Response<pb::LeaderResponse>, Status> {
        let prefix = concurrency::prefix(&request.into_inner().name);
        let kv = concurrency::owner(&self.ctx.node, &prefix).await.map_err(through_client_error)?;
        let kv = kv.ok_or_else(|| through_client_error(Error::ElectionNoLeader))?;
        Ok(Response::new(pb::LeaderResponse { header: self.header(), kv: Some(convert::key_value(kv)) }))
    }

    type ObserveStream = Pin<Box<dyn Stream<Item = Result<pb::LeaderResponse, Status>> + Send + 'static>>;

    async fn observe(&self, request: Request<pb::LeaderRequest>) -> Result<Response<Self::ObserveStream>, Status> {
        let prefix = concurrency::prefix(&request.into_inner().name);
        let ctx = self.ctx.clone();
        let (tx, rx) = mpsc::channel(OBSERVE_QUEUE);
        tokio::spawn(async move {
            let mut revisions = ctx.node.revisions();
            // The leader's key and the revision of its value last sent.
            let mut last: Option<(Vec<u8>, i64)> = None;
            loop {
                match concurrency::owner(&ctx.node, &prefix).await {
                    Ok(Some(kv)) if last.as_ref() != Some(&(kv.key.clone(), kv.mod_revision)) => {
                        last = Some((kv.key.clone(), kv.mod_revision));
                        let header = Some(ctx.header(ctx.node.read().mvcc().current_revision()));
                        let r = pb::LeaderResponse { header, kv: Some(convert::key_value(kv)) };
                        if tx.send(Ok(r)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tx.send(Err(through_client_error(e))).await.ok();
                        return;
                    }
                }
                tokio::select! {
                    changed = revisions.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn resign(&self, request: Request<pb::ResignRequest>) -> Result<Response<pb::ResignResponse>, Status> {
        let l = leader_key(request.into_inner().leader).map_err(through_client)?;
        // etcd's server opens a session for a resign too, granting a lease (left to
        // expire) when the leader key has none.
        self.ctx.session_lease(l.lease).await.map_err(through_client)?;
        let revision = concurrency::release(&self.ctx.node, &l.key, Some(l.rev)).await.map_err(through_client_error)?;
        Ok(Response::new(pb::ResignResponse { header: Some(self.ctx.header(revision)) }))
    }
}
