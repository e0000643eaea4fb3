//! `/v2/keys`: reads, long-poll watches and writes of the v2 store.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method as HttpMethod, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::params::{Form, KeyRequest, Verb};
use super::{V2Api, X_ETCD_INDEX, X_RAFT_INDEX, X_RAFT_TERM, json, method_not_allowed, now_ms};
use crate::command::{Command, CommandResponse};
use crate::error::Error;
use crate::metrics::metrics;
use crate::v2store::{Action, Code, Event, Method, V2Error, Watch};

/// etcd's HTTP status for a v2 error code.
fn http_status(code: Code) -> StatusCode {
    match code.number() {
        100 => StatusCode::NOT_FOUND,
        101 | 105 => StatusCode::PRECONDITION_FAILED,
        102 | 108 => StatusCode::FORBIDDEN,
        110 => StatusCode::UNAUTHORIZED,
        300 | 301 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A failure below the v2 store (no leader, timeout) is error 300 with its text.
fn raft_error(e: Error) -> V2Error {
    match e {
        Error::V2(e) => e,
        other => V2Error::request(Code::RaftInternal, other.to_string()),
    }
}

fn error_response(e: &V2Error) -> Response {
    let mut r = (http_status(e.code), json::error(e)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(X_ETCD_INDEX, HeaderValue::from(e.index));
    r
}

/// Whether the request's body is a form (`application/x-www-form-urlencoded`), read from
/// the headers in place rather than from a copy of them.
pub struct FormContent(bool);

impl<S: Sync> FromRequestParts<S> for FormContent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.split(';').next())
            // Go's `mime.ParseMediaType` reads the type without regard to case.
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        Ok(Self(form))
    }
}

/// Handles every method on `/v2/keys...`.
pub async fn keys(
    State(api): State<Arc<V2Api>>,
    method: HttpMethod,
    uri: Uri,
    FormContent(form_content): FormContent,
    body: Body,
) -> Response {
    let verb = match method {
        HttpMethod::GET => Verb::Get,
        HttpMethod::HEAD => Verb::Head,
        HttpMethod::PUT => Verb::Write(Method::Put),
        HttpMethod::POST => Verb::Write(Method::Post),
        HttpMethod::DELETE => Verb::Write(Method::Delete),
        _ => return method_not_allowed("HEAD,GET,PUT,POST,DELETE"),
    };
    let form_body = form_content && matches!(verb, Verb::Write(Method::Put | Method::Post));
    let key = uri.path().strip_prefix("/v2/keys").unwrap_or_default();
    let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
    let body = if form_body { read_form(body).await.map(Some) } else { Ok(None) };
    let request = body.and_then(|b| Form::parse(uri.query(), b.as_deref())).and_then(|f| f.key_request(&key, verb));
    let response = match request {
        Ok(r) => {
            let counted = Counted::received(&r, &method);
            let served = serve(&api, r).await;
            counted.finished(&served);
            served.unwrap_or_else(|e| error_response(&e))
        }
        Err(e) => error_response(&e),
    };
    api.stamp(response)
}

/// A parsed request as etcd's `etcd_http_*` metrics count it: received (but for a
/// watch), then failed with its status code, or timed when it succeeded (but for a watch).
struct Counted {
    /// The request's method, a quorum GET as `QGET` (etcd's `methodFromRequest`).
    method: &'static str,
    watch: bool,
    started: Instant,
}

impl Counted {
    fn received(request: &KeyRequest, http: &HttpMethod) -> Self {
        let method = match request {
            KeyRequest::Get { quorum: true, .. } if *http == HttpMethod::GET => "QGET",
            KeyRequest::Write { write, .. } => match write.method {
                Method::Put => "PUT",
                Method::Post => "POST",
                Method::Delete => "DELETE",
            },
            _ if *http == HttpMethod::HEAD => "HEAD",
            _ => "GET",
        };
        let watch = matches!(request, KeyRequest::Watch { .. });
        if !watch {
            metrics().http_received.with_label_values(&[method]).inc();
        }
        Self { method, watch, started: Instant::now() }
    }

    fn finished(&self, served: &Result<Response, V2Error>) {
        let m = metrics();
        match served {
            Ok(_) if self.watch => {}
            Ok(_) => m.http_duration.with_label_values(&[self.method]).observe(self.started.elapsed().as_secs_f64()),
            Err(e) => m.http_failed.with_label_values(&[http_status(e.code).as_str(), self.method]).inc(),
        }
    }
}

/// The most of a form body Go's `ParseForm` reads (its `maxFormSize`).
const MAX_FORM: usize = 10 << 20;

/// A form body, read as Go's `ParseForm` reads it: one over [`MAX_FORM`] is refused
/// with Go's words, as etcd passes them on (error 210). A body that comes in one piece,
/// as a small form does, is not copied.
async fn read_form(body: Body) -> Result<Bytes, V2Error> {
    let unreadable = |e: axum::Error| V2Error::request(Code::InvalidForm, e.to_string());
    let too_large = || V2Error::request(Code::InvalidForm, "http: POST too large");
    let mut chunks = body.into_data_stream();
    let Some(first) = chunks.next().await.transpose().map_err(unreadable)? else {
        return Ok(Bytes::new());
    };
    // Later pieces go into a copy of the first.
    let mut joined: Option<Vec<u8>> = None;
    while let Some(chunk) = chunks.next().await.transpose().map_err(unreadable)? {
        let buf = joined.get_or_insert_with(|| first.to_vec());
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_FORM {
            return Err(too_large());
        }
    }
    let form = joined.map_or(first, Bytes::from);
    if form.len() > MAX_FORM { Err(too_large()) } else { Ok(form) }
}

/// The Raft round trips are boxed: a request's future is as large as its largest branch,
/// and copying that into place showed in profiles of plain gets.
async fn serve(api: &V2Api, request: KeyRequest) -> Result<Response, V2Error> {
    match request {
        KeyRequest::Get { path, recursive, quorum } => {
            if quorum {
                Box::pin(api.node.linearizable()).await.map_err(raft_error)?;
            }
            let event = {
                let state = api.node.read();
                state.v2().get(&path, recursive, state.applied_index())?
            };
            Ok(event_response(api, &event, true))
        }
        KeyRequest::Watch { path, recursive, stream, wait_index } => {
            let watch = {
                let state = api.node.read();
                state.v2().watch(&path, recursive, stream, wait_index, state.applied_index())?
            };
            Ok(watch_response(api, watch, stream))
        }
        KeyRequest::Write { mut write, ttl, no_value_on_success } => {
            api.node.refuse_if_learner().map_err(raft_error)?;
            write.expire_at = ttl.map(|t| now_ms().saturating_add(t.saturating_mul(1000)));
            match Box::pin(api.node.propose(Command::V2(write))).await.map_err(raft_error)? {
                CommandResponse::V2(event) => {
                    // As etcd, deletes answer with their nodes all the same.
                    let quiet = no_value_on_success
                        && matches!(
                            event.action,
                            Action::Set | Action::CompareAndSwap | Action::Create | Action::Update
                        );
                    Ok(event_response(api, &event, !quiet))
                }
                other => Err(V2Error::request(Code::RaftInternal, format!("unexpected response {other:?}"))),
            }
        }
    }
}

/// The headers of a successful key response.
fn headers(api: &V2Api, r: &mut Response, etcd_index: u64) {
    // etcd gives its committed index, never behind the write just answered (the v2
    // index of a write is its log index); Raft's published metrics can be.
    let raft_index = api.node.committed_index().max(etcd_index);
    let term = api.node.term();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(X_ETCD_INDEX, HeaderValue::from(etcd_index));
    h.insert(X_RAFT_INDEX, HeaderValue::from(raft_index));
    h.insert(X_RAFT_TERM, HeaderValue::from(term));
}

fn event_response(api: &V2Api, event: &Event, nodes_too: bool) -> Response {
    let status = if event.is_created() { StatusCode::CREATED } else { StatusCode::OK };
    let mut r = (status, json::event(event, now_ms(), nodes_too)).into_response();
    headers(api, &mut r, event.index);
    r
}

/// 200 and the headers at once, then the event when it comes (every event, with
/// `stream`). Shutdown ends the body, which clients take as "watch again".
fn watch_response(api: &V2Api, watch: Watch, stream: bool) -> Response {
    let index = watch.index;
    let state = (watch.events, api.stop.clone(), false);
    let events = futures::stream::unfold(state, move |(mut rx, mut stop, done)| async move {
        if done {
            return None;
        }
        let event = tokio::select! {
            e = rx.recv() => e?,
            _ = stop.wait_for(|s| *s) => return None,
        };
        let chunk = Bytes::from(json::event(&event, now_ms(), true));
        Some((Ok::<_, Infallible>(chunk), (rx, stop, !stream)))
    });
    let mut r = Body::from_stream(events).into_response();
    headers(api, &mut r, index);
    r
}
