//! The clients of the linearizability test: one etcd key at a time, read, put,
//! compare-and-swapped and deleted over the v3 API or the v2 API, each answer with the
//! revisions it carried; and a watcher that follows every change of those keys.
//!
//! The keys are `lin/k0`, `lin/k1`, …; values are decimal numbers, each written once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcd_proto::etcdserverpb::request_op::Request;
use etcd_proto::etcdserverpb::watch_request::RequestUnion;
use etcd_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest,
};
use etcd_proto::mvccpb::event::EventType;
use etcd_rs_client::Client;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::linearizability::{KeyInput, KeyOp, KeyOutput, WatchEvent, WatchLog};

/// How long a request may take before its outcome counts as unknown.
pub const OP_TIMEOUT: Duration = Duration::from_secs(1);

/// What an answer said, revisions included.
pub struct Answer {
    /// What came back.
    pub output: KeyOutput,
    /// The response header's revision (v2: `X-Etcd-Index`).
    pub revision: i64,
    /// For a read that found the key: its `mod_revision` (v2: `modifiedIndex`); for a
    /// write that changed the key: the revision of the change.
    pub mod_revision: Option<i64>,
}

/// Why a request failed.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Which API the clients speak, and through what.
#[derive(Clone, Copy, Debug)]
pub enum Api {
    /// gRPC: Range, Put, Txn, DeleteRange.
    V3,
    /// HTTP: `/v2/keys`.
    V2,
}

/// A logical client's connection.
pub enum Conn {
    /// A gRPC channel to one member.
    V3(Client),
    /// v2: a fresh HTTP/1.1 connection per request to this `host:port`.
    V2(String),
}

/// The name of key number `key`.
pub fn key_name(key: usize) -> String {
    format!("lin/k{key}")
}

/// A value as the test writes it; panics on anything else.
pub fn parse(value: &[u8]) -> u64 {
    let text = std::str::from_utf8(value).expect("values are numbers");
    text.parse().unwrap_or_else(|_| panic!("a value nobody wrote: {text:?}"))
}

/// Sends `input` and returns its answer.
pub async fn run(conn: &Conn, input: KeyInput) -> Result<Answer, Failure> {
    match conn {
        Conn::V3(client) => run_v3(client, input).await,
        Conn::V2(addr) => run_v2(addr, input).await,
    }
}

/// `input` as v3 requests.
async fn run_v3(client: &Client, input: KeyInput) -> Result<Answer, Failure> {
    let key = key_name(input.key).into_bytes();
    let mut kv = client.kv();
    let put = |v: u64| PutRequest { key: key.clone(), value: v.to_string().into_bytes(), ..Default::default() };
    let revision = |h: Option<etcd_proto::etcdserverpb::ResponseHeader>| h.map_or(0, |h| h.revision);
    let (output, revision, mod_revision) = match input.op {
        KeyOp::Get => {
            let r = kv.range(RangeRequest { key: key.clone(), ..Default::default() }).await?.into_inner();
            let found = r.kvs.first();
            (KeyOutput::Get(found.map(|kv| parse(&kv.value))), revision(r.header), found.map(|kv| kv.mod_revision))
        }
        KeyOp::Put(v) => {
            let r = kv.put(put(v)).await?.into_inner();
            (KeyOutput::Put, revision(r.header), None)
        }
        KeyOp::Cas { expect, new } => {
            let compare = Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Value as i32,
                key: key.clone(),
                target_union: Some(TargetUnion::Value(expect.to_string().into_bytes())),
                ..Default::default()
            };
            let success = RequestOp { request: Some(Request::RequestPut(put(new))) };
            let req = TxnRequest { compare: vec![compare], success: vec![success], failure: vec![] };
            let r = kv.txn(req).await?.into_inner();
            (KeyOutput::Cas(r.succeeded), revision(r.header), None)
        }
        KeyOp::Delete => {
            let r = kv.delete_range(DeleteRangeRequest { key: key.clone(), ..Default::default() }).await?.into_inner();
            (KeyOutput::Delete(r.deleted > 0), revision(r.header), None)
        }
    };
    // A write that changed the key did so at the header's revision.
    let mod_revision = if changed(input.op, output) { Some(revision) } else { mod_revision };
    Ok(Answer { output, revision, mod_revision })
}

/// Whether `op`, answered `output`, changed its key.
pub fn changed(op: KeyOp, output: KeyOutput) -> bool {
    matches!(
        (op, output),
        (KeyOp::Put(_), _) | (KeyOp::Cas { .. }, KeyOutput::Cas(true)) | (KeyOp::Delete, KeyOutput::Delete(true))
    )
}

/// `input` as v2 requests: a quorum GET, a PUT (with `prevValue` for a swap), a DELETE.
async fn run_v2(addr: &str, input: KeyInput) -> Result<Answer, Failure> {
    let path = format!("/v2/keys/{}", key_name(input.key));
    let (status, index, body) = match input.op {
        KeyOp::Get => http(addr, "GET", &format!("{path}?quorum=true"), "").await?,
        KeyOp::Put(v) => http(addr, "PUT", &path, &format!("value={v}")).await?,
        KeyOp::Cas { expect, new } => {
            http(addr, "PUT", &format!("{path}?prevValue={expect}"), &format!("value={new}")).await?
        }
        KeyOp::Delete => http(addr, "DELETE", &path, "").await?,
    };
    let node = &body["node"];
    let modified = node["modifiedIndex"].as_i64();
    let code = body["errorCode"].as_i64();
    let output = match (input.op, status, code) {
        (KeyOp::Get, 200, _) => KeyOutput::Get(Some(parse(node["value"].as_str().unwrap_or_default().as_bytes()))),
        (KeyOp::Put(_), 200 | 201, _) => KeyOutput::Put,
        (KeyOp::Cas { .. }, 200, _) => KeyOutput::Cas(true),
        (KeyOp::Delete, 200, _) => KeyOutput::Delete(true),
        // 100 "Key not found": nothing to read, compare or delete.
        (KeyOp::Get, 404, Some(100)) => KeyOutput::Get(None),
        (KeyOp::Delete, 404, Some(100)) => KeyOutput::Delete(false),
        // 101 "Compare failed".
        (KeyOp::Cas { .. }, 404 | 412, Some(100 | 101)) => KeyOutput::Cas(false),
        _ => return Err(format!("{:?}: {status} {body}", input.op).into()),
    };
    let changed_or_read = changed(input.op, output) || matches!(output, KeyOutput::Get(Some(_)));
    Ok(Answer { output, revision: index, mod_revision: if changed_or_read { modified } else { None } })
}

/// One HTTP/1.1 request (a form body when `form` is not empty) on a connection of its
/// own; returns the status, `X-Etcd-Index` and the JSON body (plain or chunked).
pub async fn http(addr: &str, method: &str, path: &str, form: &str) -> Result<(u16, i64, Value), Failure> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = if form.is_empty() {
        String::new()
    } else {
        format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}", form.len())
    };
    let head = if form.is_empty() { "\r\n" } else { "" };
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{head}{body}");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or("no status")?;
    let index = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Etcd-Index: ").or_else(|| l.strip_prefix("x-etcd-index: ")))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no X-Etcd-Index")?;
    // Watches answer in chunks: etcd sends the headers before the event.
    let chunked = head.lines().any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked { dechunk(body)? } else { body.to_string() };
    Ok((status, index, serde_json::from_str(&body)?))
}

/// The payload of a body in HTTP/1.1's chunked transfer coding.
fn dechunk(mut body: &str) -> Result<String, Failure> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").ok_or("a chunk without its size line")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or_default().trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).ok_or("a chunk cut short")?);
        body = rest.get(size..).and_then(|r| r.strip_prefix("\r\n")).ok_or("a chunk without its end")?;
    }
}

/// The store's revision (v2: its index) as a linearizable read through `url` finds it, if
/// one answers within [`OP_TIMEOUT`].
pub async fn current_revision(api: Api, url: &str) -> Option<i64> {
    let read = async {
        match api {
            Api::V3 => crate::grpc::get_prefix(url, "lin/", false).await.ok()?.header.map(|h| h.revision),
            Api::V2 => {
                let quorum_get = http(url.trim_start_matches("http://"), "GET", "/v2/keys/lin?quorum=true", "");
                quorum_get.await.ok().map(|(_, index, _)| index)
            }
        }
    };
    tokio::time::timeout(OP_TIMEOUT, read).await.ok().flatten()
}

/// Follows every change of the test's keys on the member at `url` from the first revision
/// until it has seen revision `last` (set once the load is over, 0 until then) or
/// `deadline` passes, resuming after the last event it saw whenever the stream breaks or
/// stays silent. Over v3 a watch stream; over v2 one long poll (`wait=true`, recursive,
/// `waitIndex`) per event, as libkv and flannel follow keys. Returns the events up to
/// `last`.
pub async fn watcher(api: Api, url: String, last: Arc<AtomicI64>, deadline: Instant) -> WatchLog {
    let mut log = WatchLog { name: url.clone(), ..Default::default() };
    // Long polls that found nothing since `last` was set. v2's index also counts entries
    // that change no key, so the last event may sit below `last` and the end shows as
    // silence instead.
    let mut silent = 0;
    loop {
        let after_events = log.events.last().map_or(1, |e| e.revision + 1);
        let next = after_events.max(log.cleared.last().map_or(1, |&(_, to)| to + 1));
        let target = last.load(Ordering::Relaxed);
        if (target > 0 && (next > target || silent >= 3)) || Instant::now() > deadline {
            // A write whose outcome was unknown may still commit after `last` was read;
            // what the store did after `last` is not part of the history checked.
            log.events.retain(|e| target == 0 || e.revision <= target);
            return log;
        }
        match api {
            Api::V3 => follow_v3(&url, next, &mut log.events, &last).await,
            Api::V2 => {
                let heard = follow_v2(&url, next, &mut log).await;
                silent = if heard || target == 0 { 0 } else { silent + 1 };
            }
        }
    }
}

/// The key number of a key named as [`key_name`] names it; panics on any other key.
fn key_number(key: &str) -> usize {
    let number = key.strip_prefix("lin/k").and_then(|n| n.parse().ok());
    number.unwrap_or_else(|| panic!("an event for a key nobody wrote: {key:?}"))
}

/// Reads one v3 watch stream from revision `next` into `seen` until it breaks, stays
/// silent for [`OP_TIMEOUT`], or reaches `last`.
async fn follow_v3(url: &str, next: i64, seen: &mut Vec<WatchEvent>, last: &AtomicI64) {
    let create = WatchCreateRequest {
        key: b"lin/".to_vec(),
        range_end: b"lin0".to_vec(),
        start_revision: next,
        ..Default::default()
    };
    let request = WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) };
    let opened = tokio::time::timeout(OP_TIMEOUT, async {
        let client = Client::connect(vec![url.to_string()], Duration::from_secs(1)).await.ok()?;
        // The request stream stays open (nothing more to send) for as long as the
        // response stream is read.
        let requests = futures::stream::iter([request]).chain(futures::stream::pending());
        client.watch().watch(requests).await.ok().map(tonic::Response::into_inner)
    });
    let Ok(Some(mut stream)) = opened.await else {
        tokio::time::sleep(Duration::from_millis(100)).await;
        return;
    };
    while let Ok(Ok(Some(resp))) = tokio::time::timeout(OP_TIMEOUT, stream.message()).await {
        assert_eq!(resp.compact_revision, 0, "nothing compacts in this test");
        for e in resp.events {
            let kv = e.kv.unwrap_or_default();
            let key = key_number(&String::from_utf8_lossy(&kv.key));
            let value = (e.r#type != EventType::Delete as i32).then(|| parse(&kv.value));
            seen.push(WatchEvent { revision: kv.mod_revision, key, value });
        }
        let target = last.load(Ordering::Relaxed);
        if target > 0 && seen.last().map_or(0, |e| e.revision) >= target {
            return;
        }
    }
}

/// One v2 long poll for the first change of the test's keys at index `next` or later,
/// into `log`; returns whether it got one (or an announced gap). Silence for
/// [`OP_TIMEOUT`] or a member that does not answer ends it without.
async fn follow_v2(url: &str, next: i64, log: &mut WatchLog) -> bool {
    let addr = url.trim_start_matches("http://");
    let path = format!("/v2/keys/lin?wait=true&recursive=true&waitIndex={next}");
    match tokio::time::timeout(OP_TIMEOUT, http(addr, "GET", &path, "")).await {
        Ok(Ok((200, _, body))) => {
            let node = &body["node"];
            let key = key_number(node["key"].as_str().unwrap_or_default().trim_start_matches('/'));
            let revision = node["modifiedIndex"].as_i64().unwrap_or_else(|| panic!("no modifiedIndex: {body}"));
            let value = match body["action"].as_str() {
                Some("delete") => None,
                _ => Some(parse(node["value"].as_str().unwrap_or_default().as_bytes())),
            };
            log.events.push(WatchEvent { revision, key, value });
            true
        }
        // 401 "The event in requested index is outdated and cleared": the member's event
        // history (its last 1,000 events) no longer reaches back to `next`. A client reads
        // afresh and watches on from the current index, as libkv does; the gap is
        // announced, not silent. Whether it was due is for the caller to judge.
        Ok(Ok((400, index, body))) if body["errorCode"] == 401 => {
            log.cleared.push((next, index));
            true
        }
        Ok(_) => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            false
        }
        Err(_) => false,
    }
}
