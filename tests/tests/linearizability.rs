//! Linearizability under faults, as etcd's robustness tests and Jepsen check it: clients
//! read, put, compare-and-swap and delete a few keys through every member of a 3-member
//! cluster while members are killed (SIGKILL, then restarted), frozen (SIGSTOP, then
//! SIGCONT) and cut off by network partitions (members in network namespaces of their
//! own; clients still reach them): from every other member, from one of them (the third
//! then bridges the two), or from what the others send; the leader more often than not. Every request and answer is recorded, and the
//! history must then be explained by one sequential order that respects real time (the
//! WGL checker of `etcd_rs_tests::linearizability`), with etcd's revisions as a second
//! witness: they never go back in real time, no two writes share one, and a read's
//! `mod_revision` is the revision its value's write was answered with.
//!
//! A watcher on each member follows the keys from the first revision (v3: a watch stream;
//! v2: long polls with `waitIndex`), resuming after the last event it saw whenever it
//! breaks; their logs must go up strictly (v3: hold every revision), agree with each other,
//! and hold every answered write (etcd's watch guarantees, checked against the same
//! history). Over v2 a member may answer that an index is "outdated and cleared" only
//! once 1,000 newer events have pushed it out of its history, also after a restart.
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

use etcd_rs_client::Client;
use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::key_client::{Answer, Api, Conn, OP_TIMEOUT, changed, current_revision, run, watcher};
use etcd_rs_tests::linearizability::{
    KeyInput, KeyModel, KeyOp, KeyOutput, Operation, Span, Stamp, WatchLog, check, check_watch_logs,
    revisions_respect_real_time,
};
use etcd_rs_tests::nemesis::{Rng, strike};
use etcd_rs_tests::netns::Network;

const KEYS: usize = 4;
const WORKERS: usize = 6;
/// How long the load runs, unless `LIN_RUN_SECS` says otherwise (for longer runs by hand,
/// with release binaries from `ETCD_RS_BIN_DIR`; a run must stay below the default
/// `snapshot-count` of 100,000 entries, past which a member that installs a snapshot may
/// rightly answer v2's 401 for what came before it).
const RUN: Duration = Duration::from_secs(20);

/// How many members, unless `LIN_MEMBERS` says otherwise (5 for runs by hand: the faults
/// still strike one member at a time).
const MEMBERS: usize = 3;

/// How long after the load the watchers may take to catch up with the last revision.
const WATCH_DRAIN: Duration = Duration::from_secs(30);

/// How many events a member's v2 history holds (etcd's 1,000).
const HISTORY_CAPACITY: i64 = 1000;

/// One operation with the revisions its answer carried.
struct Record {
    op: Operation<KeyInput, KeyOutput>,
    /// What came back, unless the outcome is unknown.
    answer: Option<Answer>,
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

// Both run with members in network namespaces of their own (root needed), so that
// partitions join the kills and freezes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_histories_under_partitions_kills_and_freezes_are_linearizable() {
    histories_are_linearizable(Api::V3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_histories_under_partitions_kills_and_freezes_are_linearizable() {
    histories_are_linearizable(Api::V2).await;
}

async fn histories_are_linearizable(api: Api) {
    let seed: u64 = std::env::var("LIN_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261130);
    let run = std::env::var("LIN_RUN_SECS").ok().and_then(|s| s.parse().ok()).map_or(RUN, Duration::from_secs);
    let members = std::env::var("LIN_MEMBERS").ok().and_then(|s| s.parse().ok()).unwrap_or(MEMBERS);
    eprintln!("{api:?}: seed {seed} (LIN_SEED replays a schedule), {members} members, load for {run:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    // Declared before the cluster, so dropped after its members are gone.
    let network = Arc::new(Network::create(members));
    let hosts = (0..members).map(|i| network.host(i)).collect();
    let cluster = Arc::new(Mutex::new(Cluster::start_on(dir.path(), hosts, &[])));
    let urls = cluster.lock().expect("cluster").endpoints();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        api,
        start,
        until: start + run,
        urls: urls.clone(),
        values: AtomicU64::new(1),
        clients: AtomicUsize::new(0),
    });
    let last = Arc::new(AtomicI64::new(0));
    let drain = shared.until + WATCH_DRAIN;
    let watchers: Vec<_> = urls.iter().map(|u| tokio::spawn(watcher(api, u.clone(), last.clone(), drain))).collect();
    let workers: Vec<_> = (0..WORKERS as u64).map(|w| tokio::spawn(worker(shared.clone(), seed + w + 1))).collect();
    let faults = strike(cluster.clone(), network.clone(), shared.until, seed).await;
    let mut records = Vec::new();
    for w in workers {
        records.extend(w.await.expect("worker"));
    }
    // Every member is back by now; the store's last revision is where the watchers stop.
    let mut read = None;
    for url in urls.iter().cycle().take(30) {
        read = current_revision(api, url).await;
        if read.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last.store(read.expect("a linearizable read once the faults are over"), Ordering::Relaxed);
    let mut logs = Vec::new();
    for (i, w) in watchers.into_iter().enumerate() {
        logs.push(WatchLog { name: format!("m{i}"), ..w.await.expect("watcher") });
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
    // Bounds against a run where nothing happened, not targets: on 2 CPUs with two debug
    // clusters, seeds measured 555–3,668 answered operations, 175–1,128 reads of a value
    // and 21–132 won swaps.
    assert!(known > 300 && reads > 60 && swaps > 5, "the clients made progress through the faults");

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
    let last = last.load(Ordering::Relaxed);
    let span = match api {
        // Revision 1 is the empty store; each later one is a change of the test's keys.
        Api::V3 => Span::Every { first: 2, last },
        Api::V2 => Span::Sparse { last },
    };
    if let Err(e) = check_watch_logs(&logs, span, &written) {
        panic!("watch guarantees: {e}");
    }
    // A member keeps its last 1,000 v2 events, across restarts too (etcd replays its
    // WAL): error 401 for an index fewer than 1,000 below the current one means events
    // were lost, and with them every watcher's place. Nothing here installs a snapshot.
    for log in &logs {
        for &(from, to) in &log.cleared {
            assert!(
                to - from >= HISTORY_CAPACITY,
                "{}: error 401 for index {from} at index {to}, within the last {HISTORY_CAPACITY} events",
                log.name
            );
        }
    }
    let events: Vec<usize> = logs.iter().map(|l| l.events.len()).collect();
    let cleared: Vec<&[(i64, i64)]> = logs.iter().map(|l| l.cleared.as_slice()).collect();
    eprintln!("{api:?}: watchers agree on {events:?} events up to {last}; gaps announced: {cleared:?}");
}
