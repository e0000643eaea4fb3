//! `etcdserverpb.Cluster`: the member list; membership changes arrive with replication.

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::cluster_server::Cluster;
use tonic::{Request, Response, Status};

use super::Context;

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
        let (nodes, learners) = self.ctx.node.members();
        let state = self.ctx.node.read();
        let published = state.published();
        nodes
            .into_iter()
            .map(|(id, node)| {
                let p = published.get(&id);
                pb::Member {
                    id,
                    name: p.map(|p| p.name.clone()).unwrap_or_default(),
                    peer_ur_ls: node.peer_urls,
                    client_ur_ls: p.map(|p| p.client_urls.clone()).unwrap_or_default(),
                    is_learner: learners.contains(&id),
                }
            })
            .collect()
    }
}

fn not_yet() -> Status {
    Status::unimplemented("etcd-rs: membership changes are not supported yet (single member)")
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(&self, _: Request<pb::MemberAddRequest>) -> Result<Response<pb::MemberAddResponse>, Status> {
        Err(not_yet())
    }

    async fn member_remove(
        &self,
        _: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        Err(not_yet())
    }

    async fn member_update(
        &self,
        _: Request<pb::MemberUpdateRequest>,
    ) -> Result<Response<pb::MemberUpdateResponse>, Status> {
        Err(not_yet())
    }

    async fn member_list(&self, _: Request<pb::MemberListRequest>) -> Result<Response<pb::MemberListResponse>, Status> {
        // etcd sends no revision in member responses.
        let header = pb::ResponseHeader { revision: 0, ..self.ctx.header(0) };
        Ok(Response::new(pb::MemberListResponse { header: Some(header), members: self.members() }))
    }

    async fn member_promote(
        &self,
        _: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        Err(not_yet())
    }
}
