//! Plain HTTP on the client port: `/version`, `/health`, `/metrics`, and the 404 etcd gives for
//! anything else. gRPC requests are routed before these (see `server`).

use axum::Router;
use axum::body::Body;
use axum::handler::Handler;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};

use crate::node::Node;
use crate::{ETCD_CLUSTER_VERSION, ETCD_VERSION};

/// Routes for the HTTP endpoints.
pub fn router(node: Node) -> Router {
    Router::new()
        .route("/version", get_only(version))
        // Prometheus's handler answers whatever the method.
        .route(
            "/metrics",
            any({
                let node = node.clone();
                move || super::metrics::render(node.clone())
            }),
        )
        .route("/health", get_only(move |uri: Uri| health(node.clone(), uri)))
        .fallback(not_found)
}

/// A route for `handler` that, like etcd's `allowMethod(w, r, "GET")`, answers every
/// other method, HEAD included, with 405 (axum alone would serve HEAD and answer the
/// rest with an empty 405).
pub fn get_only<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let refuse = || async { method_not_allowed("GET") };
    get(handler).head(refuse).fallback(refuse)
}

/// Go's `http.Error(w, "Method Not Allowed", 405)` with the allowed methods, as etcd's
/// handlers answer a method they do not serve.
pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = go_http_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// Go's `http.Error(w, text, status)`: the text and a newline, as plain text the client
/// must not sniff.
pub fn go_http_error(status: StatusCode, text: &str) -> Response {
    let mut r = (status, format!("{text}\n")).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// Set by Go's `http.Error`.
const X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");

async fn version() -> Response {
    let body = format!(r#"{{"etcdserver":"{ETCD_VERSION}","etcdcluster":"{ETCD_CLUSTER_VERSION}"}}"#);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// How long /health waits for its read through the leader, as etcd's.
const HEALTH_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Healthy when no alarm is active (except those named by `?exclude=`), the cluster has
/// a leader and a linearizable read completes within a second (etcd's QGET), or with
/// `?serializable=true` when this member knows a leader. etcd's unhealthy body has a
/// trailing newline and the healthy one does not.
async fn health(node: Node, uri: Uri) -> Response {
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    let query: Vec<(String, String)> =
        uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let serializable = query.iter().any(|(k, v)| k == "serializable" && v == "true");
    let excluded = |name: &str| query.iter().any(|(k, v)| k == "exclude" && v == name);
    let alarmed = node.read().alarms().list().any(|a| !excluded(a.kind.name()));
    let healthy = !alarmed
        && node.status().leader != 0
        && (serializable || matches!(tokio::time::timeout(HEALTH_READ_TIMEOUT, node.linearizable()).await, Ok(Ok(()))));
    if healthy {
        crate::metrics::metrics().health_success.inc();
        (plain, r#"{"health":"true"}"#).into_response()
    } else {
        crate::metrics::metrics().health_failures.inc();
        (StatusCode::SERVICE_UNAVAILABLE, plain, "{\"health\":\"false\"}\n").into_response()
    }
}

/// gRPC calls to services this member does not serve get gRPC's Unimplemented; plain
/// HTTP gets Go's 404 text, as from etcd.
async fn not_found(method: Method, headers: axum::http::HeaderMap) -> Response {
    let grpc = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc && method == Method::POST {
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/grpc")
            .header("grpc-status", "12")
            .header("grpc-message", "unknown service")
            .body(Body::empty())
            .unwrap_or_default();
    }
    go_http_error(StatusCode::NOT_FOUND, "404 page not found")
}
