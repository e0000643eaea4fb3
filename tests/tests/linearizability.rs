//! Linearizability under faults, as etcd's robustness tests and Jepsen check it: clients
//! read, put, compare-and-swap and delete a few keys through every member of a 3-member
//! cluster while members are killed (SIGKILL, then restarted), frozen (SIGSTOP, then
//! SIGCONT) and, over v3, cut off from the other members by a network partition (members
//! in network namespaces of their own; clients still reach them), the leader more often
//! than not. Every request and answer is recorded, and the
//! history must then be explained by one sequential order that respects real time (the
//! WGL checker of `etcd_rs_tests::linearizability`), with etcd's revisions as a second
//! witness: they never go back in real time, no two writes share one, and a read's
//! `mod_revision` is the revision its value's write was answered with.
//!
//! Over the v3 API, a watcher on each member follows the keys from the first revision,
//! resuming after the last event it saw whenever its stream breaks; their logs must hold
//! every revision once and in order, agree with each other, and agree with the writes'
//! answers (etcd's watch guarantees, checked against the same history).
//!
//! Once over the v3 API (Range, Put, Txn comparing the value, DeleteRange) and once over
//! v2's (quorum GET, PUT, PUT with `prevValue`, DELETE; the index in `X-Etcd-Index` and
//! `modifiedIndex` standing for the revision), as Docker's libkv and flannel use it.
//!
//! Test-client rules from etcd's robustness suite and Knossos: one request in flight per
//! logical client; a write that fails or times out is recorded as of unknown outcome and
//! its client retired (it is never retried); a failed read is dropped. Values are unique,
//! so a read names the write it saw.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcd_proto::etcdserverpb::request_op::Request;
use etcd_proto::etcdserverpb::watch_request::RequestUnion;
use etcd_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest,
};
use etcd_proto::mvccpb::event::EventType;
use etcd_rs_client::Client;
use etcd_rs_tests::Host;
use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::grpc;
use etcd_rs_tests::linearizability::{
    KeyInput, KeyModel, KeyOp, KeyOutput, Operation, Stamp, WatchEvent, check, check_watch_logs,
    revisions_respect_real_time,
};
use etcd_rs_tests::netns::Network;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEYS: usize = 4;
const WORKERS: usize = 6;
const RUN: Duration = Duration::from_secs(20);
/// Longer than an election (etcd-rs's default election timeout is 1 s), so that requests
/// to a member that lost its leader may wait out the next one.
const OP_TIMEOUT: Duration = Duration::from_secs(1);

/// How long after the load the watchers may take to catch up with the last revision.
const WATCH_DRAIN: Duration = Duration::from_secs(30);

/// A fixed-seed generator (xorshift64*), so a failing schedule can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.next() % (to - from))
    }
}

/// What an answer said, revisions included.
struct Answer {
    output: KeyOutput,
    /// The response header's revision (v2: `X-Etcd-Index`).
    revision: i64,
    /// For a read that found the key: its `mod_revision` (v2: `modifiedIndex`); for a
    /// write that changed the key: the revision of the change.
    mod_revision: Option<i64>,
}

/// One operation with the revisions its answer carried.
struct Record {
    op: Operation<KeyInput, KeyOutput>,
    /// What came back, unless the outcome is unknown.
    answer: Option<Answer>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Which API the clients speak, and through what.
#[derive(Clone, Copy, Debug)]
enum Api {
    V3,
    V2,
}

/// A logical client's connection.
enum Conn {
    V3(Client),
    /// v2: a fresh HTTP/1.1 connection per request to this `host:port`.
    V2(String),
}

fn key_name(key: usize) -> String {
    format!("lin/k{key}")
}

fn parse(value: &[u8]) -> u64 {
    let text = std::str::from_utf8(value).expect("values are numbers");
    text.parse().unwrap_or_else(|_| panic!("a value nobody wrote: {text:?}"))
}

async fn run(conn: &Conn, input: KeyInput) -> Result<Answer, Failure> {
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
fn changed(op: KeyOp, output: KeyOutput) -> bool {
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
/// own; returns the status, `X-Etcd-Index` and the JSON body.
async fn http(addr: &str, method: &str, path: &str, form: &str) -> Result<(u16, i64, Value), Failure> {
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
    Ok((status, index, serde_json::from_str(body)?))
}

/// What the workers share: the clock, the deadline and the counters that keep client ids
/// and values unique.
struct Shared {
    api: Api,
    start: Instant,
    until: Instant,
    urls: Vec<String>,
    values: AtomicU64,
    clients: AtomicUsize,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One worker: a logical client at a time on a random member, making requests until one
/// fails, then a fresh client on another random member.
async fn worker(shared: Arc<Shared>, seed: u64) -> Vec<Record> {
    let mut rng = Rng::new(seed);
    let mut records = Vec::new();
    // The last value this worker saw in each key, to compare-and-swap against.
    let mut seen: [Option<u64>; KEYS] = [None; KEYS];
    while Instant::now() < shared.until {
        let id = shared.clients.fetch_add(1, Ordering::Relaxed);
        let url = &shared.urls[rng.below(shared.urls.len())];
        let conn = match shared.api {
            Api::V2 => Conn::V2(url.trim_start_matches("http://").to_string()),
            Api::V3 => match Client::connect(vec![url.clone()], Duration::from_secs(1)).await {
                Ok(client) => Conn::V3(client),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while Instant::now() < shared.until {
            let key = rng.below(KEYS);
            let fresh = || shared.values.fetch_add(1, Ordering::Relaxed);
            let op = match (rng.below(10), seen[key]) {
                (0..4, _) => KeyOp::Get,
                (7..9, Some(expect)) => KeyOp::Cas { expect, new: fresh() },
                (9, _) => KeyOp::Delete,
                _ => KeyOp::Put(fresh()),
            };
            let input = KeyInput { key, op };
            let call = shared.now();
            let answer = tokio::time::timeout(OP_TIMEOUT, run(&conn, input)).await;
            let ret = shared.now();
            match answer {
                Ok(Ok(answer)) => {
                    match (op, answer.output) {
                        (_, KeyOutput::Get(v)) => seen[key] = v,
                        (KeyOp::Put(v), _) | (KeyOp::Cas { new: v, .. }, KeyOutput::Cas(true)) => seen[key] = Some(v),
                        _ => {}
                    }
                    let op = Operation { client: id, call, ret: Some(ret), input, output: Some(answer.output) };
                    records.push(Record { op, answer: Some(answer) });
                }
                _ => {
                    // A read that failed did nothing; a write that failed may have.
                    if op != KeyOp::Get {
                        let op = Operation { client: id, call, ret: None, input, output: None };
                        records.push(Record { op, answer: None });
                    }
                    break;
                }
            }
        }
    }
    records
}

/// Follows every change of the test's keys on the member at `url` from revision 1 until
/// it has seen revision `last` (set once the load is over, 0 until then) or `deadline`
/// passes, resuming after the last event it saw whenever the stream breaks or stays silent.
async fn watcher(url: String, last: Arc<AtomicI64>, deadline: Instant) -> Vec<WatchEvent> {
    let mut seen: Vec<WatchEvent> = Vec::new();
    loop {
        let next = seen.last().map_or(1, |e| e.revision + 1);
        let target = last.load(Ordering::Relaxed);
        if (target > 0 && next > target) || Instant::now() > deadline {
            return seen;
        }
        let create = WatchCreateRequest {
            key: b"lin/".to_vec(),
            range_end: b"lin0".to_vec(),
            start_revision: next,
            ..Default::default()
        };
        let request = WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) };
        let opened = tokio::time::timeout(OP_TIMEOUT, async {
            let client = Client::connect(vec![url.clone()], Duration::from_secs(1)).await.ok()?;
            // The request stream stays open (nothing more to send) for as long as the
            // response stream is read.
            let requests = futures::stream::iter([request]).chain(futures::stream::pending());
            client.watch().watch(requests).await.ok().map(tonic::Response::into_inner)
        });
        let Ok(Some(mut stream)) = opened.await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        while let Ok(Ok(Some(resp))) = tokio::time::timeout(OP_TIMEOUT, stream.message()).await {
            assert_eq!(resp.compact_revision, 0, "nothing compacts in this test");
            for e in resp.events {
                let kv = e.kv.unwrap_or_default();
                let key = std::str::from_utf8(&kv.key).ok().and_then(|k| k.strip_prefix("lin/k")?.parse().ok());
                let key = key.unwrap_or_else(|| panic!("an event for a key nobody wrote: {:?}", kv.key));
                let value = (e.r#type != EventType::Delete as i32).then(|| parse(&kv.value));
                seen.push(WatchEvent { revision: kv.mod_revision, key, value });
            }
            if last.load(Ordering::Relaxed) > 0 && seen.last().map_or(0, |e| e.revision) >= last.load(Ordering::Relaxed)
            {
                break;
            }
        }
    }
}

/// The member that leads, if one answers quickly enough to say so.
async fn leader(urls: &[String]) -> Option<usize> {
    for (i, url) in urls.iter().enumerate() {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(300), grpc::status(url)).await
            && s.leader != 0
            && s.leader == s.header.map_or(0, |h| h.member_id)
        {
            return Some(i);
        }
    }
    None
}

/// Faults, one member at a time so that a quorum stays: every 0.5–1.5 s, kill or freeze
/// the leader (two times in three) or a random member, or with a `network` cut it off from
/// the other members, and bring it back 0.3–2 s later. Returns what it did.
async fn nemesis(
    cluster: Arc<Mutex<Cluster>>,
    network: Option<&Network>,
    urls: Vec<String>,
    until: Instant,
    seed: u64,
) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut done = Vec::new();
    while Instant::now() + Duration::from_secs(3) < until {
        tokio::time::sleep(rng.millis(500, 1500)).await;
        let victim = match (rng.below(3), leader(&urls).await) {
            (0..2, Some(l)) => l,
            _ => rng.below(urls.len()),
        };
        let down = rng.millis(300, 2000);
        let c = cluster.clone();
        let kinds = if network.is_some() { 3 } else { 2 };
        let kind = rng.below(kinds);
        if let (2, Some(network)) = (kind, network) {
            done.push(format!("isolate m{victim} for {down:?}"));
            network.isolate(victim);
            tokio::time::sleep(down).await;
            network.heal(victim);
        } else if kind == 0 {
            done.push(format!("kill -9 m{victim} for {down:?}"));
            tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[victim].kill9())
                .await
                .expect("kill");
            tokio::time::sleep(down).await;
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[victim].restart())
                .await
                .expect("restart");
        } else {
            done.push(format!("freeze m{victim} for {down:?}"));
            c.lock().expect("cluster").members[victim].pause();
            tokio::time::sleep(down).await;
            c.lock().expect("cluster").members[victim].resume();
        }
    }
    done
}

/// The changes whose answers came back, by revision: the key and the value put (`None`
/// for a delete). Panics if two share a revision.
fn write_revisions(records: &[Record]) -> HashMap<i64, (usize, Option<u64>)> {
    let mut by_revision = HashMap::new();
    let mut ops: HashMap<i64, &Operation<KeyInput, KeyOutput>> = HashMap::new();
    for r in records {
        let Some(answer) = &r.answer else { continue };
        if !changed(r.op.input.op, answer.output) {
            continue;
        }
        let revision = answer.mod_revision.unwrap_or_else(|| panic!("{:?} changed its key at no revision", r.op));
        let value = match r.op.input.op {
            KeyOp::Put(v) | KeyOp::Cas { new: v, .. } => Some(v),
            _ => None,
        };
        if let Some(other) = ops.insert(revision, &r.op) {
            panic!("two writes answered with revision {revision}: {other:?} and {:?}", r.op);
        }
        by_revision.insert(revision, (r.op.input.key, value));
    }
    by_revision
}

/// Members in network namespaces of their own (root needed), so that partitions join the
/// kills and freezes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_histories_under_partitions_kills_and_freezes_are_linearizable() {
    histories_are_linearizable(Api::V3, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_histories_under_kills_and_freezes_are_linearizable() {
    histories_are_linearizable(Api::V2, false).await;
}

async fn histories_are_linearizable(api: Api, partitions: bool) {
    let seed: u64 = std::env::var("LIN_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261130);
    eprintln!("{api:?}: seed {seed} (LIN_SEED replays a schedule)");
    let dir = tempfile::tempdir().expect("tempdir");
    // Declared before the cluster, so dropped after its members are gone.
    let network = partitions.then(|| Network::create(3));
    let hosts = match &network {
        Some(n) => (0..3).map(|i| n.host(i)).collect(),
        None => vec![Host::loopback(); 3],
    };
    let cluster = Arc::new(Mutex::new(Cluster::start_on(dir.path(), hosts, &[])));
    let urls = cluster.lock().expect("cluster").endpoints();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        api,
        start,
        until: start + RUN,
        urls: urls.clone(),
        values: AtomicU64::new(1),
        clients: AtomicUsize::new(0),
    });
    let last = Arc::new(AtomicI64::new(0));
    let watchers: Vec<_> = match api {
        Api::V3 => {
            urls.iter().map(|u| tokio::spawn(watcher(u.clone(), last.clone(), shared.until + WATCH_DRAIN))).collect()
        }
        Api::V2 => Vec::new(),
    };
    let workers: Vec<_> = (0..WORKERS as u64).map(|w| tokio::spawn(worker(shared.clone(), seed + w + 1))).collect();
    let faults = nemesis(cluster.clone(), network.as_ref(), urls.clone(), shared.until, seed).await;
    let mut records = Vec::new();
    for w in workers {
        records.extend(w.await.expect("worker"));
    }
    // Every member is back by now; the store's last revision is where the watchers stop.
    if !watchers.is_empty() {
        let mut read = None;
        for url in urls.iter().cycle().take(30) {
            if let Ok(Ok(r)) = tokio::time::timeout(OP_TIMEOUT, grpc::get_prefix(url, "lin/", false)).await {
                read = r.header.map(|h| h.revision);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        last.store(read.expect("a linearizable read once the faults are over"), Ordering::Relaxed);
    }
    let mut logs = Vec::new();
    for (i, w) in watchers.into_iter().enumerate() {
        logs.push((format!("m{i}"), w.await.expect("watcher")));
    }

    let known = records.iter().filter(|r| r.op.ret.is_some()).count();
    let reads = records.iter().filter(|r| matches!(r.op.output, Some(KeyOutput::Get(Some(_))))).count();
    let swaps = records.iter().filter(|r| r.op.output == Some(KeyOutput::Cas(true))).count();
    eprintln!(
        "{api:?}: {} operations ({known} answered, {reads} reads of a value, {swaps} swaps won, {} clients); faults: {faults:?}",
        records.len(),
        shared.clients.load(Ordering::Relaxed),
    );
    assert!(faults.len() >= 3, "the nemesis struck often enough: {faults:?}");
    assert!(known > 500 && reads > 100 && swaps > 10, "the clients made progress through the faults");

    let history: Vec<_> = records.iter().map(|r| r.op.clone()).collect();
    let checking = Instant::now();
    if let Err(v) = check(&KeyModel, &history) {
        panic!("{v}");
    }
    eprintln!("{api:?}: checked in {:?}", checking.elapsed());
    let stamps: Vec<Stamp> = records
        .iter()
        .filter_map(|r| Some(Stamp { call: r.op.call, ret: r.op.ret?, revision: r.answer.as_ref()?.revision }))
        .collect();
    revisions_respect_real_time(&stamps).expect("revisions follow real time");
    let written = write_revisions(&records);
    let value_written_at: HashMap<u64, i64> =
        written.iter().filter_map(|(revision, (_, value))| Some(((*value)?, *revision))).collect();
    for r in &records {
        if let Some(Answer { output: KeyOutput::Get(Some(v)), mod_revision: Some(m), .. }) = r.answer
            && let Some(w) = value_written_at.get(&v)
        {
            assert_eq!(m, *w, "{:?} read value {v} at mod_revision {m}, but its write was answered with {w}", r.op);
        }
    }
    if !logs.is_empty() {
        // Revision 1 is the empty store; each later one is a change of the test's keys.
        let last = last.load(Ordering::Relaxed);
        if let Err(e) = check_watch_logs(&logs, 2, last, &written) {
            panic!("watch guarantees: {e}");
        }
        eprintln!("{api:?}: {} watchers saw revisions 2..={last} alike", logs.len());
    }
}
