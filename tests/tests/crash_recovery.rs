//! Acknowledged means durable: writers race a SIGKILL, and after every restart each
//! acknowledged write is there, nothing is applied twice, and nothing appears that was
//! never written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::kv_client::KvClient;
use etcd_proto::etcdserverpb::{CompactionRequest, PutRequest, RangeRequest};
use etcd_rs_client::Transport;
use etcd_rs_tests::Member;
use etcd_rs_tests::key_client::http;

const WRITERS: usize = 8;

async fn connect(url: String) -> KvClient<Transport> {
    etcd_rs_tests::grpc::client(&url).await.expect("client").kv()
}

/// Writes `w{writer}/{n:08}` = `n` until the server goes away, counting acknowledgements
/// in `progress`; returns acknowledged `n`s.
async fn writer(mut kv: KvClient<Transport>, id: usize, start: u64, progress: Arc<AtomicUsize>) -> Vec<u64> {
    let mut acked = Vec::new();
    for n in start.. {
        let req = PutRequest {
            key: format!("w{id}/{n:08}").into_bytes(),
            value: n.to_string().into_bytes(),
            ..Default::default()
        };
        match kv.put(req).await {
            Ok(_) => {
                acked.push(n);
                progress.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => break,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut member = Member::start(dir.path(), "crash");
    let mut acked: Vec<Vec<u64>> = vec![Vec::new(); WRITERS];
    let mut next = [0u64; WRITERS];
    for round in 0..3 {
        let kv = connect(member.url()).await;
        let progress = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> =
            (0..WRITERS).map(|id| tokio::spawn(writer(kv.clone(), id, next[id], progress.clone()))).collect();
        tokio::time::sleep(Duration::from_millis(700 + 300 * round)).await;
        // The kill must find writes acknowledged and more in flight, however slow the disk.
        let deadline = Instant::now() + Duration::from_secs(20);
        while progress.load(Ordering::Relaxed) < WRITERS {
            assert!(Instant::now() < deadline, "round {round}: writers made no progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        member.kill9();
        for (id, t) in tasks.into_iter().enumerate() {
            let got = t.await.expect("writer task");
            next[id] = got.last().map_or(next[id], |n| n + 1) + 1;
            acked[id].extend(got);
        }
        member.restart();

        let mut kv = connect(member.url()).await;
        let all = kv
            .range(RangeRequest { key: b"w".to_vec(), range_end: b"x".to_vec(), ..Default::default() })
            .await
            .expect("range")
            .into_inner();
        let stored: std::collections::HashMap<Vec<u8>, Vec<u8>> =
            all.kvs.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
        for (id, ns) in acked.iter().enumerate() {
            for n in ns {
                let key = format!("w{id}/{n:08}").into_bytes();
                assert_eq!(
                    stored.get(&key),
                    Some(&n.to_string().into_bytes()),
                    "acknowledged write {id}/{n} lost in round {round}"
                );
            }
        }
        // Nothing beyond what some writer attempted: at most one unacknowledged put per
        // writer per round (the one in flight at the kill).
        let acked_total: usize = acked.iter().map(Vec::len).sum();
        assert!(stored.len() >= acked_total && stored.len() <= acked_total + WRITERS * (round as usize + 1));
        // Each put is one revision: replay applied nothing twice and skipped nothing.
        let header = all.header.expect("header");
        assert_eq!(header.revision, 1 + stored.len() as i64, "revision counts every applied put exactly once");
        for kv in &all.kvs {
            assert_eq!(kv.version, 1, "no put was applied twice");
        }
    }
}

/// The first linearizable read a restarted single member answers, asked before it even
/// reports healthy, already holds every write acknowledged before the kill: a sole voter
/// takes its commit index as the read index only once an entry of its new term is
/// committed, so entries left in the log from before the kill count too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_linearizable_read_after_kill_9_sees_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut member = Member::start(dir.path(), "first-read");
    let mut acked = 0u64;
    for round in 0..3 {
        let mut kv = connect(member.url()).await;
        for _ in 0..200 {
            let req =
                PutRequest { key: format!("k/{acked:08}").into_bytes(), value: b"v".to_vec(), ..Default::default() };
            kv.put(req).await.unwrap_or_else(|e| panic!("put {acked} in round {round}: {e}"));
            acked += 1;
        }
        member.kill9();
        member.spawn();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let first = loop {
            assert!(std::time::Instant::now() < deadline, "no read answered after the restart");
            let Ok(mut kv) = etcd_rs_tests::grpc::client(&member.url()).await.map(|c| c.kv()) else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let req =
                RangeRequest { key: b"k/".to_vec(), range_end: b"k0".to_vec(), count_only: true, ..Default::default() };
            match kv.range(req).await {
                Ok(r) => break r.into_inner(),
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        };
        assert_eq!(
            first.count, acked as i64,
            "round {round}: the first read after the restart missed acknowledged writes"
        );
        member.wait_healthy();
    }
}

/// Values too large for a quarter of sled's segment live in blob files of their own,
/// which sled removes once the pages that replaced them are written (on a thread of its
/// own, `server/third_party/sled/PATCHED.md`, item 7). Overwrites, a compaction and its
/// sweep replace many such pages; a kill -9 while the sweep runs and removals are
/// queued must lose no acknowledged value and leave no page pointing at a removed blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_survive_kill_9_during_blob_removal() {
    const KEYS: usize = 48;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut member = Member::start(dir.path(), "blobs");
    for round in 0..3u8 {
        let mut kv = connect(member.url()).await;
        let value = vec![b'a' + round; 64 * 1024];
        let mut revision = 0;
        for i in 0..KEYS {
            let req =
                PutRequest { key: format!("big/{i:02}").into_bytes(), value: value.clone(), ..Default::default() };
            let resp = kv.put(req).await.unwrap_or_else(|e| panic!("round {round}: put {i}: {e}")).into_inner();
            revision = resp.header.expect("header").revision;
        }
        // Not physical: the reply does not wait for the sweep, which the kill interrupts.
        kv.compact(CompactionRequest { revision, physical: false }).await.expect("compact");
        member.kill9();
        member.restart();

        let mut kv = connect(member.url()).await;
        let all = kv
            .range(RangeRequest { key: b"big/".to_vec(), range_end: b"big0".to_vec(), ..Default::default() })
            .await
            .unwrap_or_else(|e| panic!("round {round}: range after the restart: {e}"))
            .into_inner();
        assert_eq!(all.kvs.len(), KEYS, "round {round}: keys after the restart");
        for kv in &all.kvs {
            assert!(kv.value == value, "round {round}: {} holds another value", String::from_utf8_lossy(&kv.key));
        }
    }
}

/// A member keeps its v2 event history across a kill -9, as etcd does by replaying its
/// WAL: a watch from an index before the restart is answered from the history (what
/// Docker's libkv and flannel resume with), not with 401 "outdated and cleared".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_watches_from_before_kill_9_replay_the_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut member = Member::start(dir.path(), "v2-history");
    let addr = member.endpoint();
    let mut changes = Vec::new();
    for (method, form) in [("PUT", "value=0"), ("PUT", "value=1"), ("PUT", "value=2"), ("DELETE", "")] {
        let (status, index, body) = http(&addr, method, "/v2/keys/h/k", form).await.expect("v2 write");
        assert!(status == 200 || status == 201, "{method} {form}: {status} {body}");
        assert_eq!(body["node"]["modifiedIndex"].as_i64(), Some(index), "{body}");
        changes.push((index, body));
    }
    member.restart();
    for (index, written) in &changes {
        for path in ["/v2/keys/h/k", "/v2/keys/h?recursive=true"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let watch = format!("{path}{sep}wait=true&waitIndex={index}");
            let (status, _, seen) = http(&addr, "GET", &watch, "").await.expect("v2 watch");
            assert_eq!(status, 200, "GET {watch} after the restart: {seen}");
            assert_eq!(&seen, written, "GET {watch}: the event as its write was answered");
        }
    }
}
