//! `/metrics` on the client port, and the gRPC request counters every call passes.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures::future::{BoxFuture, Either};
use tower_layer::Layer;
use tower_service::Service;

use super::grpc_frames::{CountedBody, Traffic};
use crate::metrics::{SAMPLING, STORE_WRITE_ACTIONS, catch_up, grpc_code_name, grpc_type, metrics};
use crate::node::Node;
use crate::v2store::Counter;
use crate::{ETCD_CLUSTER_VERSION, ETCD_VERSION};

/// Samples the member's state into the gauges and renders every metric.
pub async fn render(node: Node) -> Response {
    let m = metrics();
    let raft = node.status();
    m.has_leader.set(i64::from(raft.leader != 0));
    m.is_leader.set(i64::from(raft.leader == node.id()));
    m.proposals_committed.set(node.committed_index() as i64);
    m.proposals_applied.set(raft.applied_index as i64);
    let db_size = node.db_size().map_or(0, |s| s as i64);
    m.db_size.set(db_size);
    m.db_size_debugging.set(db_size);
    m.db_size_in_use.set(node.db_size_in_use() as i64);
    m.is_learner.set(i64::from(raft.is_learner));
    {
        let state = node.read();
        m.keys.set(state.mvcc().key_count() as i64);
        m.current_revision.set(state.mvcc().current_revision());
        m.compact_revision.set(state.mvcc().compacted_revision());
        m.store_watchers.set(state.v2().watcher_count() as i64);
        let _sampling = SAMPLING.lock().unwrap_or_else(|p| p.into_inner());
        let ops = state.mvcc().op_counts().totals();
        for ([current, debugging], total) in m.mvcc_ops.iter().zip([ops.ranges, ops.puts, ops.deletes, ops.txns]) {
            catch_up(current, total);
            catch_up(debugging, total);
        }
        m.put_size.set(ops.put_bytes as i64);
        let stats = state.v2().stats();
        // Read before the recursive count, which a get raises first: never ahead of it.
        let gets = stats.get(Counter::GetSuccess) + stats.get(Counter::GetFail);
        let recursive = stats.recursive_gets();
        // etcd labels a read once one was made.
        for (action, total) in [("get", gets.saturating_sub(recursive)), ("getRecursive", recursive)] {
            if total > 0 {
                catch_up(&m.store_reads.with_label_values(&[action]), total);
            }
        }
        let writes = [
            (Counter::SetSuccess, Counter::SetFail),
            (Counter::CreateSuccess, Counter::CreateFail),
            (Counter::UpdateSuccess, Counter::UpdateFail),
            (Counter::CasSuccess, Counter::CasFail),
            (Counter::DeleteSuccess, Counter::DeleteFail),
            (Counter::CadSuccess, Counter::CadFail),
        ];
        for (action, (ok, fail)) in STORE_WRITE_ACTIONS.iter().zip(writes) {
            // etcd labels an action once it was asked for.
            let total = stats.get(ok) + stats.get(fail);
            if total > 0 {
                catch_up(&m.store_writes.with_label_values(&[action]), total);
            }
        }
        catch_up(&m.store_expires, stats.get(Counter::Expire));
        catch_up(&m.store_watch_requests, stats.watch_requests());
    }
    if let Some(limits) = ProcessLimits::read() {
        m.fd_used.set(limits.open_fds);
        m.fd_limit.set(limits.max_open_files);
        m.virtual_memory_max.set(limits.max_address_space);
    }
    let id = format!("{:x}", node.id());
    // The cluster version as etcd labels it: major.minor.
    let cluster = ETCD_CLUSTER_VERSION.rsplit_once('.').map_or(ETCD_CLUSTER_VERSION, |(major_minor, _)| major_minor);
    for (gauge, value) in m.versions.iter().zip([ETCD_VERSION, cluster, &id]) {
        gauge.with_label_values(&[value]).set(1);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], m.render()).into_response()
}

/// What `/proc` says of this process's file descriptors and limits (etcd reads the same
/// on Linux and sets nothing elsewhere).
struct ProcessLimits {
    open_fds: i64,
    max_open_files: i64,
    /// Bytes; "unlimited" is Go's 2^64 - 1.
    max_address_space: f64,
}

impl ProcessLimits {
    fn read() -> Option<Self> {
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as i64;
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        // The soft limit, the first column after the name.
        let soft = |name: &str| {
            let line = limits.lines().find(|l| l.starts_with(name))?;
            line[name.len()..].split_whitespace().next().map(str::to_string)
        };
        let max_open_files = soft("Max open files")?.parse().ok()?;
        let max_address_space = match soft("Max address space")?.as_str() {
            "unlimited" => u64::MAX as f64,
            n => n.parse().ok()?,
        };
        Some(Self { open_fds, max_open_files, max_address_space })
    }
}

/// Counts gRPC calls as go-grpc-prometheus does: started, messages each way, and
/// handled with the status code; and etcd's own counts of calls by client version and of
/// message bytes each way. The code is read from the response headers (where tonic puts it for calls that
/// fail before answering); a call that answers is counted OK, since its final status
/// travels in trailers this layer does not wait for. Being the one place every gRPC
/// response passes, it also puts such a status into grpc-go's words where tonic's differ
/// ([`super::status::headers_as_grpc_go`]). Other requests pass through as
/// they are: a middleware that boxed every request cost the v2 API a tenth of its CPU.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcCountLayer;

impl<S> Layer<S> for GrpcCountLayer {
    type Service = GrpcCount<S>;

    fn layer(&self, inner: S) -> GrpcCount<S> {
        GrpcCount { inner }
    }
}

/// The service [`GrpcCountLayer`] wraps around a route.
#[derive(Debug, Clone)]
pub struct GrpcCount<S> {
    inner: S,
}

impl<S> Service<Request> for GrpcCount<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Some((service, method)) = grpc_call(request.headers(), request.uri().path()) else {
            return Either::Left(self.inner.call(request));
        };
        let kind = grpc_type(&method);
        let m = metrics();
        let labels = [kind, service.as_str(), method.as_str()];
        m.grpc_started.with_label_values(&labels).inc();
        let version = api_version(request.headers());
        let call = if kind == "unary" { "unary" } else { "stream" };
        m.client_requests.with_label_values(&[version, call]).inc();
        let received = Traffic {
            messages: m.grpc_msg_received.with_label_values(&labels),
            bytes: m.client_received_bytes.clone(),
        };
        let sent = Traffic { messages: m.grpc_msg_sent.with_label_values(&labels), bytes: m.client_sent_bytes.clone() };
        let request = request.map(|body| CountedBody::wrap(body, received));
        let response = self.inner.call(request);
        Either::Right(Box::pin(async move {
            let mut response = response.await?;
            let mut code = header_code(response.headers());
            if code == tonic::Code::OutOfRange {
                super::status::headers_as_grpc_go(response.headers_mut());
                code = header_code(response.headers());
            }
            m.grpc_handled.with_label_values(&[kind, &service, &method, grpc_code_name(code)]).inc();
            Ok(response.map(|body| CountedBody::wrap(body, sent)))
        }))
    }
}

/// The `client_api_version` label of a call: the client's `client-api-version` header
/// when it is a version as etcd's clients send it (`3.4`), else `unknown` as for a client
/// that sends none. Bounded so that no client can mint series without end.
fn api_version(headers: &HeaderMap) -> &str {
    let number = |n: &str| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit());
    headers
        .get("client-api-version")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.split_once('.').is_some_and(|(major, minor)| number(major) && number(minor)))
        .unwrap_or("unknown")
}

/// The code in a response's `grpc-status` header; OK without one.
fn header_code(headers: &HeaderMap) -> tonic::Code {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

/// `(service, method)` of a gRPC request (`/etcdserverpb.KV/Range`).
fn grpc_call(headers: &HeaderMap, path: &str) -> Option<(String, String)> {
    let grpc = headers.get(header::CONTENT_TYPE)?.to_str().ok()?.starts_with("application/grpc");
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    grpc.then(|| (service.to_string(), method.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use futures::future::{Ready, poll_fn, ready};

    /// Answers every request with the given `grpc-status` header, if any.
    #[derive(Clone)]
    struct Answer(Option<&'static str>);

    impl Service<Request> for Answer {
        type Response = Response;
        type Error = Infallible;
        type Future = Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request) -> Self::Future {
            let mut r = "answered".into_response();
            if let Some(code) = self.0 {
                r.headers_mut().insert("grpc-status", code.parse().expect("header value"));
            }
            ready(Ok(r))
        }
    }

    async fn send(status: Option<&'static str>, content_type: &str) -> Response {
        let mut service = GrpcCountLayer.layer(Answer(status));
        let request = Request::builder()
            .method("POST")
            .uri("/etcdrs.Test/Call")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::empty())
            .expect("request");
        let Ok(()) = poll_fn(|cx| service.poll_ready(cx)).await;
        let Ok(r) = service.call(request).await;
        r
    }

    #[tokio::test]
    async fn grpc_calls_are_counted_with_their_code_and_other_requests_are_not() {
        let m = metrics();
        let labels = ["unary", "etcdrs.Test", "Call"];
        let handled = |code| m.grpc_handled.with_label_values(&[labels[0], labels[1], labels[2], code]).get();
        let started = m.grpc_started.with_label_values(&labels).get();
        let (ok, not_found) = (handled("OK"), handled("NotFound"));

        let r = send(None, "text/plain").await;
        assert!(r.headers().get("grpc-status").is_none(), "passed through as it was");
        assert_eq!(m.grpc_started.with_label_values(&labels).get(), started, "plain HTTP is not a gRPC call");
        assert_eq!(handled("OK"), ok, "nor is it counted as handled");

        send(None, "application/grpc").await;
        send(Some("5"), "application/grpc+proto").await;
        assert_eq!(m.grpc_started.with_label_values(&labels).get(), started + 2);
        assert_eq!(handled("OK"), ok + 1, "an answered call counts as OK");
        assert_eq!(handled("NotFound"), not_found + 1, "the code from the response headers");
    }

    #[test]
    fn only_a_version_names_the_client_api_version() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("client-api-version", v.parse().expect("header value"));
            h
        };
        assert_eq!(api_version(&with("3.4")), "3.4");
        assert_eq!(api_version(&with("3.10")), "3.10");
        for minted in ["3", "3.4.1", "abc", "3.x", "123.4", ""] {
            assert_eq!(api_version(&with(minted)), "unknown", "{minted:?}");
        }
        assert_eq!(api_version(&HeaderMap::new()), "unknown");
    }
}
