//! `etcdserverpb.Cluster`: the member list; membership changes arrive with replication.

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::cluster_server::Cluster;
use tonic::{Request, Response, Status};

use std::time::{SystemTime, UNIX_EPOCH};

use super::Context;
use super::status::status;
use crate::error::Error;
use crate::membership;
use crate::node::Proposal;

/// The Cluster service.
pub struct ClusterService {
    ctx: Context,
}

impl ClusterService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Members as etcd lists them: name and client URLs once a member has published them
    /// (an added member that never started has neither), sorted by id.
    fn members(&self) -> Vec<pb::Member> {
        self.ctx
            .node
            .member_list()
            .into_iter()
            .map(|m| pb::Member {
                id: m.id,
                name: m.name,
                peer_ur_ls: m.peer_urls,
                client_ur_ls: m.client_urls,
                is_learner: m.is_learner,
            })
            .collect()
    }
}

fn header_without_revision(ctx: &Context) -> Option<pb::ResponseHeader> {
    // etcd sends no revision in member responses.
    Some(pb::ResponseHeader { revision: 0, ..ctx.header(0) })
}

impl ClusterService {
    async fn submit(&self, proposal: Proposal) -> Result<(), Status> {
        self.ctx.node.submit(proposal).await.map_err(status)?.map_err(status)?;
        Ok(())
    }
}

/// Peer URLs must be `http://host:port` (TLS peers are not supported yet).
pub(super) fn valid_peer_urls(urls: &[String]) -> bool {
    !urls.is_empty()
        && urls.iter().all(|u| {
            u.strip_prefix("http://")
                .and_then(|rest| rest.rsplit_once(':'))
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        })
}

/// The id of a member added at runtime: etcd salts it with the time.
pub(super) fn new_member_id(peer_urls: &[String]) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    membership::member_id(peer_urls, &now.to_string())
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        request: Request<pb::MemberAddRequest>,
    ) -> Result<Response<pb::MemberAddResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        if !valid_peer_urls(&req.peer_ur_ls) {
            return Err(status(Error::InvalidPeerUrls));
        }
        let id = new_member_id(&req.peer_ur_ls);
        let proposal = Proposal::AddMember { id, peer_urls: req.peer_ur_ls.clone(), learner: req.is_learner };
        self.submit(proposal).await?;
        Ok(Response::new(pb::MemberAddResponse {
            header: header_without_revision(&self.ctx),
            member: Some(pb::Member {
                id,
                name: String::new(),
                peer_ur_ls: req.peer_ur_ls,
                client_ur_ls: Vec::new(),
                is_learner: req.is_learner,
            }),
            members: self.members(),
        }))
    }

    async fn member_remove(
        &self,
        request: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        self.submit(Proposal::RemoveMember { id: request.into_inner().id }).await?;
        Ok(Response::new(pb::MemberRemoveResponse {
            header: header_without_revision(&self.ctx),
            members: self.members(),
        }))
    }

    async fn member_update(
        &self,
        request: Request<pb::MemberUpdateRequest>,
    ) -> Result<Response<pb::MemberUpdateResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        let req = request.into_inner();
        if !valid_peer_urls(&req.peer_ur_ls) {
            return Err(status(Error::InvalidPeerUrls));
        }
        self.submit(Proposal::UpdateMember { id: req.id, peer_urls: req.peer_ur_ls }).await?;
        Ok(Response::new(pb::MemberUpdateResponse {
            header: header_without_revision(&self.ctx),
            members: self.members(),
        }))
    }

    async fn member_list(&self, _: Request<pb::MemberListRequest>) -> Result<Response<pb::MemberListResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        Ok(Response::new(pb::MemberListResponse {
            header: header_without_revision(&self.ctx),
            members: self.members(),
        }))
    }

    async fn member_promote(
        &self,
        request: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        self.submit(Proposal::PromoteMember { id: request.into_inner().id }).await?;
        Ok(Response::new(pb::MemberPromoteResponse {
            header: header_without_revision(&self.ctx),
            members: self.members(),
        }))
    }
}
