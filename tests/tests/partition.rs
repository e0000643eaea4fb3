//! A network partition, with members in network namespaces of their own (root needed):
//! the leader cut off from the other two keeps running and keeps its clients, yet the
//! majority elects a new leader and goes on writing, the old leader answers no read and
//! takes no write while cut off, and once the partition heals it catches up and the write
//! it could not commit is gone.

use std::time::{Duration, Instant};

use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::grpc::{get_prefix, put, status, status_within};
use etcd_rs_tests::netns::Network;

/// The leader as `url`'s member reports it (0: none known), within a short bound.
async fn leader_seen_by(url: &str) -> u64 {
    status_within(url, Duration::from_millis(500)).await.map_or(0, |s| s.leader)
}

async fn value_of(url: &str, key: &str) -> Result<Vec<u8>, String> {
    let r = tokio::time::timeout(Duration::from_secs(8), get_prefix(url, key, false)).await;
    match r {
        Ok(Ok(r)) => Ok(r.kvs.first().map(|kv| kv.value.clone()).unwrap_or_default()),
        Ok(Err(e)) => Err(e.message().to_string()),
        Err(_) => Err("no answer within 8 s".to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_majority_serves_nothing_stale_and_catches_up_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Declared before the cluster, so dropped after its members are gone.
    let network = Network::create(3);
    let cluster = Cluster::start_on(dir.path(), (0..3).map(|i| network.host(i)).collect(), &[]);
    let urls: Vec<String> = cluster.members.iter().map(|m| m.url()).collect();
    put(&urls[0], "p/k", "before").await.expect("put before the partition");
    let old = cluster.leader().await;
    let old_id = status(&urls[old]).await.expect("status").header.expect("header").member_id;
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();

    network.isolate(old);
    // The majority elects one of its own.
    let deadline = Instant::now() + Duration::from_secs(15);
    let new = loop {
        let seen = leader_seen_by(&urls[others[0]]).await;
        if seen != 0 && seen != old_id {
            break seen;
        }
        assert!(Instant::now() < deadline, "the majority elected no new leader while the old one was cut off");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    put(&urls[others[1]], "p/k", "during").await.expect("the majority takes writes");
    assert_eq!(value_of(&urls[others[0]], "p/k").await.as_deref(), Ok(&b"during"[..]));

    // The old leader, still running and reachable by its clients, must not answer a
    // linearizable read with what it last knew, nor take a write.
    let read = value_of(&urls[old], "p/k").await;
    assert!(read.is_err(), "the cut-off old leader answered a linearizable read: {read:?}");
    let write = tokio::time::timeout(Duration::from_secs(8), put(&urls[old], "p/other", "x")).await;
    assert!(!matches!(write, Ok(Ok(_))), "the cut-off old leader took a write");
    let write = write.map(|r| r.map_err(|e| e.message().to_string()));

    network.heal(old);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if value_of(&urls[old], "p/k").await.as_deref() == Ok(&b"during"[..]) {
            break;
        }
        assert!(Instant::now() < deadline, "the old leader did not catch up after the partition healed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The write it could not commit was dropped when the new leader's log replaced its own:
    // etcd promises only that such a write's outcome is unknown, but here the majority
    // wrote at those log indexes in a later term, and Raft keeps only one entry per index.
    for url in &urls {
        assert_eq!(value_of(url, "p/other").await.as_deref(), Ok(&b""[..]), "{url} has the cut-off write");
    }
    let now = leader_seen_by(&urls[old]).await;
    assert_ne!(now, 0, "the old leader knows a leader again");
    eprintln!("leader {old_id:x} cut off; {new:x} elected; now {now:x}; its read: {read:?}; its write: {write:?}");
}
