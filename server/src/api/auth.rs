//! `etcdserverpb.Auth` as etcd answers it with authentication disabled and no users or
//! roles, which is all etcd-rs has: it stores neither, so the answers are true ones.
//!
//! Clients that log in by default rely on these answers: etcd's Go client (and so etcdctl
//! with `--user`) and Patroni go on without a token when Authenticate says authentication
//! is not enabled, and tools list users and roles. Adding a user or role is refused as
//! not implemented rather than pretended.

use etcd_proto::etcdserverpb as pb;
use etcd_proto::etcdserverpb::auth_server::Auth;
use tonic::{Request, Response, Status};

use super::Context;
use super::status::status;
use crate::error::Error;

/// The Auth service.
pub struct AuthService {
    ctx: Context,
}

/// The result of an Auth call.
type Answer<T> = Result<Response<T>, Status>;

impl AuthService {
    /// A service over `ctx`.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// etcd's header: this member, the current revision and term.
    fn header(&self) -> Option<pb::ResponseHeader> {
        Some(self.ctx.header(self.ctx.node.read().mvcc().current_revision()))
    }

    /// `e`, after etcd's learner check (a learner serves no Auth call).
    fn refuse<T>(&self, e: Error) -> Answer<T> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        Err(status(e))
    }

    /// An answer to a call that succeeds, after the learner check.
    fn answer<T>(&self, make: impl FnOnce(Option<pb::ResponseHeader>) -> T) -> Answer<T> {
        self.ctx.node.refuse_if_learner().map_err(status)?;
        Ok(Response::new(make(self.header())))
    }
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(&self, _: Request<pb::AuthEnableRequest>) -> Answer<pb::AuthEnableResponse> {
        // etcd checks for the root user first; there is none.
        self.refuse(Error::RootUserNotExist)
    }

    async fn auth_disable(&self, _: Request<pb::AuthDisableRequest>) -> Answer<pb::AuthDisableResponse> {
        self.answer(|header| pb::AuthDisableResponse { header })
    }

    async fn authenticate(&self, _: Request<pb::AuthenticateRequest>) -> Answer<pb::AuthenticateResponse> {
        // etcd reads the auth store linearizably first: without a leader, that fails.
        self.ctx.node.refuse_if_learner().map_err(status)?;
        self.ctx.node.linearizable().await.map_err(status)?;
        Err(status(Error::AuthNotEnabled))
    }

    async fn user_add(&self, _: Request<pb::AuthUserAddRequest>) -> Answer<pb::AuthUserAddResponse> {
        self.refuse(Error::AuthUnsupported)
    }

    async fn user_get(&self, _: Request<pb::AuthUserGetRequest>) -> Answer<pb::AuthUserGetResponse> {
        self.refuse(Error::UserNotFound)
    }

    async fn user_list(&self, _: Request<pb::AuthUserListRequest>) -> Answer<pb::AuthUserListResponse> {
        self.answer(|header| pb::AuthUserListResponse { header, users: Vec::new() })
    }

    async fn user_delete(&self, _: Request<pb::AuthUserDeleteRequest>) -> Answer<pb::AuthUserDeleteResponse> {
        self.refuse(Error::UserNotFound)
    }

    async fn user_change_password(
        &self,
        _: Request<pb::AuthUserChangePasswordRequest>,
    ) -> Answer<pb::AuthUserChangePasswordResponse> {
        self.refuse(Error::UserNotFound)
    }

    async fn user_grant_role(&self, _: Request<pb::AuthUserGrantRoleRequest>) -> Answer<pb::AuthUserGrantRoleResponse> {
        self.refuse(Error::UserNotFound)
    }

    async fn user_revoke_role(
        &self,
        _: Request<pb::AuthUserRevokeRoleRequest>,
    ) -> Answer<pb::AuthUserRevokeRoleResponse> {
        self.refuse(Error::UserNotFound)
    }

    async fn role_add(&self, _: Request<pb::AuthRoleAddRequest>) -> Answer<pb::AuthRoleAddResponse> {
        self.refuse(Error::AuthUnsupported)
    }

    async fn role_get(&self, _: Request<pb::AuthRoleGetRequest>) -> Answer<pb::AuthRoleGetResponse> {
        self.refuse(Error::RoleNotFound)
    }

    async fn role_list(&self, _: Request<pb::AuthRoleListRequest>) -> Answer<pb::AuthRoleListResponse> {
        self.answer(|header| pb::AuthRoleListResponse { header, roles: Vec::new() })
    }

    async fn role_delete(&self, _: Request<pb::AuthRoleDeleteRequest>) -> Answer<pb::AuthRoleDeleteResponse> {
        self.refuse(Error::RoleNotFound)
    }

    async fn role_grant_permission(
        &self,
        _: Request<pb::AuthRoleGrantPermissionRequest>,
    ) -> Answer<pb::AuthRoleGrantPermissionResponse> {
        self.refuse(Error::RoleNotFound)
    }

    async fn role_revoke_permission(
        &self,
        _: Request<pb::AuthRoleRevokePermissionRequest>,
    ) -> Answer<pb::AuthRoleRevokePermissionResponse> {
        self.refuse(Error::RoleNotFound)
    }
}
