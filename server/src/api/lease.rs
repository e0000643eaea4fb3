//! `etcdserverpb.Lease`. Grants and revokes go through the log; keep-alives and
//! time-to-live questions go to the leader, which alone keeps lease clocks.

use std::pin::Pin;

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::lease_server::Lease;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::status::{as_grpc_go, status};
use super::{Context, mismatch};
use crate::command::{Command, CommandResponse};
use crate::node::Proposal;

/// Keep-alive responses queued per stream.
const KEEPALIVE_QUEUE: usize = 16;

/// The Lease service.
pub struct LeaseService {
    ctx: Context,
}

impl LeaseService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn current(&self) -> i64 {
        self.ctx.node.read().mvcc().current_revision()
    }
}

/// Asks the leader for a lease's TTLs.
async fn ask_leader(ctx: &Context, proposal: Proposal) -> Result<Option<(i64, i64)>, Status> {
    match ctx.node.submit(proposal).await.map_err(status)?.map_err(status)? {
        CommandResponse::LeaseTtl(ttl) => Ok(ttl),
        _ => Err(mismatch()),
    }
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        request: Request<pb::LeaseGrantRequest>,
    ) -> Result<Response<pb::LeaseGrantResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        let granted = self.ctx.grant_lease(req.id, req.ttl).await?;
        Ok(Response::new(pb::LeaseGrantResponse {
            header: Some(self.ctx.header(granted.revision)),
            id: granted.id,
            ttl: granted.ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        request: Request<pb::LeaseRevokeRequest>,
    ) -> Result<Response<pb::LeaseRevokeResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let id = request.into_inner().id;
        match self.ctx.node.propose(Command::LeaseRevoke { id }).await.map_err(status)? {
            CommandResponse::Lease { revision } => {
                Ok(Response::new(pb::LeaseRevokeResponse { header: Some(self.ctx.header(revision)) }))
            }
            _ => Err(mismatch()),
        }
    }

    type LeaseKeepAliveStream =
        Pin<Box<dyn Stream<Item = Result<pb::LeaseKeepAliveResponse, Status>> + Send + 'static>>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(KEEPALIVE_QUEUE);
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            loop {
                let req = match inbound.message().await {
                    Ok(Some(req)) => req,
                    Ok(None) => return,
                    // A request that could not be read ends the call with its status, as
                    // etcd's (if the stream broke, nobody hears it).
                    Err(s) => {
                        tx.send(Err(as_grpc_go(s))).await.ok();
                        return;
                    }
                };
                // An unknown (expired, revoked) lease answers TTL 0, as etcd's.
                let reply = ctx.node.renew_lease(req.id).await.map_err(status).map(|ttl| {
                    let current = ctx.node.read().mvcc().current_revision();
                    pb::LeaseKeepAliveResponse { header: Some(ctx.header(current)), id: req.id, ttl: ttl.unwrap_or(0) }
                });
                let failed = reply.is_err();
                if tx.send(reply).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        let req = request.into_inner();
        let ttl = ask_leader(&self.ctx, Proposal::LeaseTimeToLive { id: req.id }).await?;
        let header = Some(self.ctx.header(self.current()));
        Ok(Response::new(match ttl {
            // etcd answers an unknown lease with TTL -1, not an error.
            None => pb::LeaseTimeToLiveResponse { header, id: req.id, ttl: -1, granted_ttl: 0, keys: Vec::new() },
            Some((granted, remaining)) => pb::LeaseTimeToLiveResponse {
                header,
                id: req.id,
                ttl: remaining,
                granted_ttl: granted,
                keys: if req.keys { self.ctx.node.read().mvcc().leases().keys(req.id) } else { Vec::new() },
            },
        }))
    }

    async fn lease_leases(
        &self,
        _: Request<pb::LeaseLeasesRequest>,
    ) -> Result<Response<pb::LeaseLeasesResponse>, Status> {
        let leases = self.ctx.node.leases_by_expiry().into_iter().map(|id| pb::LeaseStatus { id }).collect();
        let header = Some(self.ctx.header(self.ctx.node.read().mvcc().current_revision()));
        Ok(Response::new(pb::LeaseLeasesResponse { header, leases }))
    }
}
