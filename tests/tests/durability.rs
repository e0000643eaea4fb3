//! Counting durability: concurrent clients write while members are killed and restarted at
//! random; afterwards every acknowledged write is there exactly once, nothing appears that
//! nobody wrote, and every member hashes its key space the same.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::HashKvRequest;
use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::grpc::{client, get_prefix, put};

const WRITERS: usize = 6;

/// One member's keys: value and version by key.
type View = HashMap<Vec<u8>, (Vec<u8>, i64)>;

#[derive(Default)]
struct Ledger {
    acked: HashSet<String>,
    attempted: HashSet<String>,
}

async fn writer(id: usize, urls: Vec<String>, ledger: Arc<Mutex<Ledger>>, until: Instant) {
    let mut target = id % urls.len();
    let mut n = 0;
    while Instant::now() < until {
        let key = format!("dur/{id}/{n:06}");
        ledger.lock().expect("ledger").attempted.insert(key.clone());
        match put(&urls[target], &key, &key).await {
            Ok(_) => {
                ledger.lock().expect("ledger").acked.insert(key);
            }
            // The member may be down: try another one, with a fresh key (the old one may
            // or may not have been applied).
            Err(_) => {
                target = (target + 1) % urls.len();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        n += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_random_kills_and_members_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Arc::new(Mutex::new(Cluster::start(dir.path(), 3, &[])));
    let urls = cluster.lock().expect("cluster").endpoints();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let until = Instant::now() + Duration::from_secs(12);
    let writers: Vec<_> =
        (0..WRITERS).map(|id| tokio::spawn(writer(id, urls.clone(), ledger.clone(), until))).collect();

    // Kill one member at a time (a quorum stays up), chosen by a fixed-seed sequence so a
    // failure can be replayed.
    let victims = [2usize, 0, 1, 0];
    for v in victims {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[v].kill9()).await.expect("kill");
        tokio::time::sleep(Duration::from_millis(700)).await;
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[v].restart()).await.expect("restart");
    }
    for w in writers {
        w.await.expect("writer");
    }

    let ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
    assert!(ledger.acked.len() > 100, "writers made progress: {}", ledger.acked.len());
    let mut revision = 0;
    let mut views: Vec<View> = Vec::new();
    for url in &urls {
        let r = get_prefix(url, "dur/", false).await.expect("linearizable read after the storm");
        revision = revision.max(r.header.map_or(0, |h| h.revision));
        views.push(r.kvs.into_iter().map(|kv| (kv.key, (kv.value, kv.version))).collect());
    }
    for (url, view) in urls.iter().zip(&views) {
        for key in &ledger.acked {
            let got = view.get(key.as_bytes());
            assert_eq!(got.map(|(v, _)| v.as_slice()), Some(key.as_bytes()), "{url} lost acknowledged write {key}");
        }
        for (key, (_, version)) in view {
            let key = String::from_utf8_lossy(key);
            assert!(ledger.attempted.contains(key.as_ref()), "{url} has {key}, which nobody wrote");
            assert_eq!(*version, 1, "{url}: {key} was applied more than once");
        }
    }
    assert!(views.iter().all(|v| v.len() == views[0].len()), "members agree on the key count");

    let mut hashes = Vec::new();
    for url in &urls {
        let mut mc = client(url).await.expect("client").maintenance();
        let h = mc.hash_kv(HashKvRequest { revision }).await.expect("hashkv").into_inner();
        hashes.push(h.hash);
    }
    assert!(hashes.iter().all(|h| *h == hashes[0]), "members hash their key space alike: {hashes:?}");
}
