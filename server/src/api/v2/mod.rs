//! etcd's v2 HTTP API on the client port: `/v2/keys`, `/v2/members`, `/v2/machines` and
//! `/v2/stats/*`, as Docker (libkv), flannel, python-etcd and `ETCDCTL_API=2 etcdctl`
//! use them. Requests become [`crate::v2store`] operations; writes go through the log.

mod json;
mod keys;
mod members;
mod params;
mod stats;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Serialize;
use tokio::sync::watch;

use crate::api::http::{get_only, method_not_allowed};
use crate::node::Node;

/// What the v2 handlers share.
pub struct V2Api {
    /// The member.
    node: Node,
    /// Becomes true at shutdown: long polls end then.
    stop: watch::Receiver<bool>,
    /// This member's name.
    name: String,
    /// When this member started, in milliseconds since the Unix epoch.
    started_ms: u64,
    /// `X-Etcd-Cluster-Id`: the cluster id in lowercase hex, no padding.
    cluster_id: HeaderValue,
}

impl V2Api {
    /// The v2 API of `node`, started now; long polls end when `stop` becomes true.
    pub fn new(node: Node, stop: watch::Receiver<bool>, name: String) -> Self {
        // Hex digits always make a valid header value.
        let cluster_id = HeaderValue::from_str(&format!("{:x}", node.cluster_id()))
            .unwrap_or_else(|_| HeaderValue::from_static("0"));
        Self { node, stop, name, started_ms: now_ms(), cluster_id }
    }

    /// Adds `X-Etcd-Cluster-Id`, as etcd's key and member handlers do.
    fn stamp(&self, mut r: Response) -> Response {
        r.headers_mut().insert(X_ETCD_CLUSTER_ID, self.cluster_id.clone());
        r
    }
}

// etcd's v2 response headers, parsed once rather than on every insert.
/// `X-Etcd-Cluster-Id`: the cluster id in hex.
const X_ETCD_CLUSTER_ID: HeaderName = HeaderName::from_static("x-etcd-cluster-id");
/// `X-Etcd-Index`: the v2 store's index.
const X_ETCD_INDEX: HeaderName = HeaderName::from_static("x-etcd-index");
/// `X-Raft-Index`: the applied Raft index.
const X_RAFT_INDEX: HeaderName = HeaderName::from_static("x-raft-index");
/// `X-Raft-Term`: the Raft term.
const X_RAFT_TERM: HeaderName = HeaderName::from_static("x-raft-term");

/// The v2 routes.
pub fn router(api: V2Api) -> Router {
    Router::new()
        .route("/v2/keys", any(keys::keys))
        .route("/v2/keys/", any(keys::keys))
        .route("/v2/keys/{*key}", any(keys::keys))
        .route("/v2/members", any(members::members))
        .route("/v2/members/", any(members::members))
        .route("/v2/members/{*rest}", any(members::members))
        .route("/v2/machines", get(members::machines).fallback(|| async { method_not_allowed("GET,HEAD") }))
        .route("/v2/stats/self", get_only(stats::this_member))
        .route("/v2/stats/leader", get_only(stats::leader))
        .route("/v2/stats/store", get_only(stats::store))
        .with_state(Arc::new(api))
}

pub use crate::calendar::now_ms;

/// A JSON body as etcd's non-key handlers write it: `json.Marshal` (no newline) or a
/// `json.Encoder` (newline).
fn json_response<T: Serialize>(status: StatusCode, body: &T, newline: bool) -> Response {
    let mut text = json::line(body);
    if !newline {
        text.pop();
    }
    let mut r = (status, text).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// etcd's `{"message": …}` error of the non-key handlers.
fn message(status: StatusCode, text: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct Message {
        message: String,
    }
    json_response(status, &Message { message: text.into() }, false)
}
