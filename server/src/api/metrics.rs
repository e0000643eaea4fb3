//! `/metrics` on the client port, and the gRPC request counters every call passes.

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::metrics::{grpc_code_name, grpc_type, metrics};
use crate::node::Node;

/// Samples the member's state into the gauges and renders every metric.
pub async fn render(node: Node) -> Response {
    let m = metrics();
    let raft = node.status();
    m.has_leader.set(i64::from(raft.leader != 0));
    m.is_leader.set(i64::from(raft.leader == node.id()));
    m.proposals_committed.set(node.committed_index() as i64);
    m.proposals_applied.set(raft.applied_index as i64);
    m.db_size.set(node.db_size().map_or(0, |s| s as i64));
    m.db_size_in_use.set(node.db_size_in_use() as i64);
    m.keys.set(node.read().mvcc().key_count() as i64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], m.render()).into_response()
}

/// Counts gRPC calls as go-grpc-prometheus does: started, and handled with the status
/// code. The code is read from the response headers (where tonic puts it for calls that
/// fail before answering); a call that answers is counted OK, since its final status
/// travels in trailers this layer does not wait for.
pub async fn count_grpc(request: Request, next: Next) -> Response {
    let Some((service, method)) = grpc_call(request.headers(), request.uri().path()) else {
        return next.run(request).await;
    };
    let kind = grpc_type(&method);
    let m = metrics();
    m.grpc_started.with_label_values(&[kind, &service, &method]).inc();
    let response = next.run(request).await;
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    m.grpc_handled.with_label_values(&[kind, &service, &method, grpc_code_name(code)]).inc();
    response
}

/// `(service, method)` of a gRPC request (`/etcdserverpb.KV/Range`).
fn grpc_call(headers: &HeaderMap, path: &str) -> Option<(String, String)> {
    let grpc = headers.get(header::CONTENT_TYPE)?.to_str().ok()?.starts_with("application/grpc");
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    grpc.then(|| (service.to_string(), method.to_string()))
}
