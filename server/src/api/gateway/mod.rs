//! etcd's HTTP/JSON gateway under `/v3/` on the client port, as etcd 3.4 serves it with
//! grpc-gateway, for clients that only speak HTTP: `POST /v3/kv/range` with
//! `{"key":"Zm9v"}` answers what the KV service's Range does, in JSON.
//!
//! Handlers call the gRPC service implementations, so this module only converts:
//! [`syntax`] and [`codec`] read and write the JSON, [`error`] shapes failures,
//! [`unary`] and [`stream`] drive the two kinds of calls. The JSON form of each message
//! comes from serde impls generated into `etcd-proto`.

mod codec;
mod error;
mod stream;
mod syntax;
mod unary;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, post};
use etcd_proto::etcdserverpb::cluster_server::Cluster;
use etcd_proto::etcdserverpb::kv_server::Kv;
use etcd_proto::etcdserverpb::lease_server::Lease;
use etcd_proto::etcdserverpb::maintenance_server::Maintenance;
use etcd_proto::etcdserverpb::watch_server::Watch;
use etcd_proto::v3electionpb::election_server::Election;
use etcd_proto::v3lockpb::lock_server::Lock;

use super::{
    ClusterService, Context, ElectionService, KvService, LeaseService, LockService, MaintenanceService, WatchService,
};
use stream::OnBodyEnd;

/// A `POST` route calling unary method `$method` of the service in `$svc` (an `Arc`).
macro_rules! unary {
    ($svc:expr, $method:ident) => {{
        let svc = $svc.clone();
        post_only(post(move |body: Bytes| {
            let svc = svc.clone();
            async move { unary::call(body, |r| async move { svc.$method(r).await }).await }
        }))
    }};
}

/// A `POST` route calling streaming method `$method` of the service in `$svc`.
macro_rules! bidi {
    ($svc:expr, $method:ident, $on_end:expr) => {{
        let svc = $svc.clone();
        post_only(post(move |body: Body| {
            let svc = svc.clone();
            async move { stream::call(body, $on_end, |r| async move { svc.$method(r).await }).await }
        }))
    }};
}

/// A `POST` route calling server-streaming method `$method` of the service in `$svc`.
macro_rules! server_streaming {
    ($svc:expr, $method:ident) => {{
        let svc = $svc.clone();
        post_only(post(move |body: Bytes| {
            let svc = svc.clone();
            async move { stream::call_server_streaming(body, |r| async move { svc.$method(r).await }).await }
        }))
    }};
}

/// The gateway's routes, to merge into the client router.
pub fn router(ctx: Context) -> Router {
    let kv = Arc::new(KvService::new(ctx.clone()));
    let watch = Arc::new(WatchService::new(ctx.clone()));
    let lease = Arc::new(LeaseService::new(ctx.clone()));
    let cluster = Arc::new(ClusterService::new(ctx.clone()));
    let lock = Arc::new(LockService::new(ctx.clone()));
    let election = Arc::new(ElectionService::new(ctx.clone()));
    let maintenance = Arc::new(MaintenanceService::new(ctx));
    Router::new()
        .route("/v3/kv/range", unary!(kv, range))
        .route("/v3/kv/put", unary!(kv, put))
        .route("/v3/kv/deleterange", unary!(kv, delete_range))
        .route("/v3/kv/txn", unary!(kv, txn))
        .route("/v3/kv/compaction", unary!(kv, compact))
        .route("/v3/watch", bidi!(watch, watch, OnBodyEnd::HoldOpen))
        .route("/v3/lease/grant", unary!(lease, lease_grant))
        .route("/v3/lease/revoke", unary!(lease, lease_revoke))
        .route("/v3/kv/lease/revoke", unary!(lease, lease_revoke))
        .route("/v3/lease/keepalive", bidi!(lease, lease_keep_alive, OnBodyEnd::Close))
        .route("/v3/lease/timetolive", unary!(lease, lease_time_to_live))
        .route("/v3/kv/lease/timetolive", unary!(lease, lease_time_to_live))
        .route("/v3/lease/leases", unary!(lease, lease_leases))
        .route("/v3/kv/lease/leases", unary!(lease, lease_leases))
        .route("/v3/cluster/member/list", unary!(cluster, member_list))
        .route("/v3/maintenance/status", unary!(maintenance, status))
        .route("/v3/lock/lock", unary!(lock, lock))
        .route("/v3/lock/unlock", unary!(lock, unlock))
        .route("/v3/election/campaign", unary!(election, campaign))
        .route("/v3/election/proclaim", unary!(election, proclaim))
        .route("/v3/election/leader", unary!(election, leader))
        .route("/v3/election/observe", server_streaming!(election, observe))
        .route("/v3/election/resign", unary!(election, resign))
        .route("/v3/{*rest}", any(|| async { go_http_error(StatusCode::NOT_FOUND) }))
}

/// Other methods on a gateway path get grpc-gateway's 405.
fn post_only(route: MethodRouter) -> MethodRouter {
    route.fallback(|| async { go_http_error(StatusCode::METHOD_NOT_ALLOWED) })
}

/// Go's `http.Error`, which grpc-gateway answers routing failures with.
fn go_http_error(status: StatusCode) -> Response {
    let text = format!("{}\n", status.canonical_reason().unwrap_or_default());
    let mut r = (status, text).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}
