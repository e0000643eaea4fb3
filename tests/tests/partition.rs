//! Network partitions, with members in network namespaces of their own (root needed):
//! - the leader cut off from the other two keeps running and keeps its clients, yet the
//!   majority elects a new leader and goes on writing, the old leader answers no read and
//!   takes no write while cut off, and once the partition heals it catches up and the
//!   write it could not commit is gone;
//! - a bridge partition (the leader and one follower cannot reach each other, the third
//!   member reaches both) never stops writes, and the leader stays: the bridge ignores
//!   the cut-off follower's elections while it hears from its leader (etcd's CheckQuorum);
//! - a leader made deaf to the others (what it sends still leaves, until TCP stalls) is
//!   replaced, serves no read while deaf, and catches up once it hears again;
//! - five members split two against three, the leader among the two: the three go on, the
//!   two serve and take nothing, and after the split all five agree.

use std::time::{Duration, Instant};

use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::grpc::{get_prefix, put, status, status_within};
use etcd_rs_tests::netns::Network;

/// A cluster with each member in a network namespace of its own. The fields drop in
/// order: the members before the namespaces they run in, the data last.
struct Netted {
    cluster: Cluster,
    network: Network,
    urls: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Netted {
    fn start(members: usize) -> Netted {
        let dir = tempfile::tempdir().expect("tempdir");
        let network = Network::create(members);
        let cluster = Cluster::start_on(dir.path(), (0..members).map(|i| network.host(i)).collect(), &[]);
        let urls = cluster.members.iter().map(|m| m.url()).collect();
        Netted { cluster, network, urls, _dir: dir }
    }
}

async fn member_id(url: &str) -> u64 {
    status(url).await.expect("status").header.expect("header").member_id
}

/// Tries a put through `url` for 8 s: `Ok` if it was taken, else what came back.
async fn put_refused(url: &str, key: &str) -> Result<i64, String> {
    match tokio::time::timeout(Duration::from_secs(8), put(url, key, "x")).await {
        Ok(r) => r.map_err(|e| e.message().to_string()),
        Err(_) => Err("no answer within 8 s".to_string()),
    }
}

/// The leader as `url`'s member reports it (0: none known), within a short bound.
async fn leader_seen_by(url: &str) -> u64 {
    status_within(url, Duration::from_millis(500)).await.map_or(0, |s| s.leader)
}

/// Waits until `url`'s member follows a leader other than `old` (its member id), and
/// returns that leader.
async fn new_leader_seen_by(url: &str, old: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = leader_seen_by(url).await;
        if seen != 0 && seen != old {
            return seen;
        }
        assert!(Instant::now() < deadline, "{url} saw no new leader in 15 s after {old:x} lost its links");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let net = Netted::start(3);
    let (network, cluster, urls) = (&net.network, &net.cluster, &net.urls);
    put(&urls[0], "p/k", "before").await.expect("put before the partition");
    let old = cluster.leader().await;
    let old_id = member_id(&urls[old]).await;
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();

    network.isolate(old);
    let new = new_leader_seen_by(&urls[others[0]], old_id).await;
    put(&urls[others[1]], "p/k", "during").await.expect("the majority takes writes");
    assert_eq!(value_of(&urls[others[0]], "p/k").await.as_deref(), Ok(&b"during"[..]));

    // The old leader, still running and reachable by its clients, must not answer a
    // linearizable read with what it last knew, nor take a write.
    let read = value_of(&urls[old], "p/k").await;
    assert!(read.is_err(), "the cut-off old leader answered a linearizable read: {read:?}");
    let write = put_refused(&urls[old], "p/other").await;
    assert!(write.is_err(), "the cut-off old leader took a write");

    network.heal(old);
    caught_up(&urls[old], "p/k", "during").await;
    // The write it could not commit was dropped when the new leader's log replaced its own:
    // etcd promises only that such a write's outcome is unknown, but here the majority
    // wrote at those log indexes in a later term, and Raft keeps only one entry per index.
    for url in urls {
        assert_eq!(value_of(url, "p/other").await.as_deref(), Ok(&b""[..]), "{url} has the cut-off write");
    }
    let now = leader_seen_by(&urls[old]).await;
    assert_ne!(now, 0, "the old leader knows a leader again");
    eprintln!("leader {old_id:x} cut off; {new:x} elected; now {now:x}; its read: {read:?}; its write: {write:?}");
}

/// Puts `key` through `url` every 100 ms for `span`, each put given 5 s; returns how many
/// were answered, the errors of the others and the slowest answer.
async fn write_for(url: &str, key: &str, span: Duration) -> (usize, Vec<String>, Duration) {
    let (mut ok, mut failed, mut slowest) = (0, Vec::new(), Duration::ZERO);
    let end = Instant::now() + span;
    while Instant::now() < end {
        let started = Instant::now();
        match tokio::time::timeout(Duration::from_secs(5), put(url, key, &format!("v{ok}"))).await {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => failed.push(e.message().to_string()),
            Err(_) => failed.push("no answer within 5 s".to_string()),
        }
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (ok, failed, slowest)
}

/// The leader and the term `url`'s member reports, asked up to five times (a busy member
/// may miss one short deadline).
async fn leader_and_term(url: &str) -> (u64, u64) {
    for _ in 0..5 {
        if let Some(s) = status_within(url, Duration::from_secs(1)).await {
            return (s.leader, s.raft_term);
        }
    }
    panic!("{url} answered no status in five tries");
}

/// Waits until `url`'s member reads `want` at `key` (a linearizable read).
async fn caught_up(url: &str, key: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while value_of(url, key).await.as_deref() != Ok(want.as_bytes()) {
        assert!(Instant::now() < deadline, "{url} did not catch up after the partition healed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_partition_keeps_the_leader_and_takes_every_write() {
    let net = Netted::start(3);
    let (network, urls) = (&net.network, &net.urls);
    // Every member following the same leader and at the same log index before the cut, so
    // that the cut-off follower's log is as long as the bridge's.
    put(&urls[0], "b/l", "start").await.expect("put before the partition");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (leader, leading) = loop {
        let mut seen = Vec::new();
        for u in urls {
            let s = status_within(u, Duration::from_millis(500)).await;
            seen.push(s.map(|s| (s.header.map_or(0, |h| h.member_id), s.leader, s.raft_term, s.raft_index)));
        }
        let agreed = seen.iter().flatten().map(|&(_, leader, term, index)| (leader, term, index)).collect::<Vec<_>>();
        let leader = seen.iter().position(|s| s.is_some_and(|(id, leader, _, _)| leader != 0 && id == leader));
        if let (Some(i), 3, true) = (leader, agreed.len(), agreed.windows(2).all(|w| w[0] == w[1])) {
            break (i, (agreed[0].0, agreed[0].1));
        }
        assert!(Instant::now() < deadline, "the members did not agree on a leader and a log index: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (cut_off, bridge) = ((leader + 1) % 3, (leader + 2) % 3);

    network.cut(leader, cut_off);
    // Idle first, for several election timeouts (1 s by default): the cut-off follower
    // hears no leader and calls elections with a log as long as the bridge's, so only the
    // leader's lease keeps the bridge from voting for it. (Without the lease the bridge
    // votes for it and puts through the old leader hang.) Then writes, during which its
    // log also falls behind.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let idle = leader_and_term(&urls[bridge]).await;
    let (through_leader, through_bridge) = tokio::join!(
        write_for(&urls[leader], "b/l", Duration::from_secs(6)),
        write_for(&urls[bridge], "b/b", Duration::from_secs(6))
    );
    let after = (leader_and_term(&urls[leader]).await, leader_and_term(&urls[bridge]).await);
    network.heal(leader);

    eprintln!(
        "through the leader {through_leader:?}; through the bridge {through_bridge:?}; leader and term {leading:x?}, \
         seen after {after:x?}"
    );
    // The same leader in the same term: no election won, not even one that flipped back.
    assert_eq!(idle, leading, "the bridge's leader or term changed while the cluster was idle");
    for (path, (ok, failed, slowest)) in [("the leader", &through_leader), ("the bridge", &through_bridge)] {
        assert!(failed.is_empty(), "puts through {path} failed during the bridge partition: {failed:?}");
        assert!(*ok > 10, "only {ok} puts through {path} in 6 s");
        // An election would hold puts for at least an election timeout (1 s) and lose the
        // term; this bound leaves room for slow disks on a busy machine.
        assert!(*slowest < Duration::from_secs(3), "a put through {path} took {slowest:?}");
    }
    assert_eq!(after, (leading, leading), "the leader or its term changed during the bridge partition");
    let last = format!("v{}", through_leader.0 - 1);
    caught_up(&urls[cut_off], "b/l", &last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deaf_leader_is_replaced() {
    let net = Netted::start(3);
    let (network, cluster, urls) = (&net.network, &net.cluster, &net.urls);
    let old = cluster.leader().await;
    let old_id = member_id(&urls[old]).await;
    let other = (old + 1) % 3;

    network.deafen(old);
    let new = new_leader_seen_by(&urls[other], old_id).await;
    put(&urls[other], "d/k", "during").await.expect("the majority takes writes");
    let read = value_of(&urls[old], "d/k").await;
    assert!(read.is_err(), "the deaf old leader answered a linearizable read: {read:?}");
    network.heal(old);
    caught_up(&urls[old], "d/k", "during").await;
    eprintln!("leader {old_id:x} deafened; {new:x} elected; its read while deaf: {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_split_two_three_with_the_leader_among_the_two() {
    let net = Netted::start(5);
    let (network, cluster, urls) = (&net.network, &net.cluster, &net.urls);
    put(&urls[0], "s/k", "before").await.expect("put before the split");
    let old = cluster.leader().await;
    let old_id = member_id(&urls[old]).await;
    let minority = [old, (old + 1) % 5];
    let majority: Vec<usize> = (0..5).filter(|i| !minority.contains(i)).collect();

    for &i in &minority {
        for &j in &majority {
            network.cut(i, j);
        }
    }
    let new = new_leader_seen_by(&urls[majority[0]], old_id).await;
    put(&urls[majority[1]], "s/k", "during").await.expect("the three take writes");
    for &i in &majority {
        assert_eq!(value_of(&urls[i], "s/k").await.as_deref(), Ok(&b"during"[..]), "member {i} of the three");
    }
    // Neither of the two serves a linearizable read or takes a write.
    for &i in &minority {
        let read = value_of(&urls[i], "s/k").await;
        assert!(read.is_err(), "member {i} of the two answered a linearizable read: {read:?}");
    }
    for &i in &minority {
        let write = put_refused(&urls[i], "s/other").await;
        assert!(write.is_err(), "member {i} of the two took a write");
    }

    for &i in &minority {
        network.heal(i);
    }
    for url in urls {
        caught_up(url, "s/k", "during").await;
        assert_eq!(value_of(url, "s/other").await.as_deref(), Ok(&b""[..]), "{url} has the minority's write");
    }
    eprintln!("leader {old_id:x} split off with one follower; {new:x} elected by the three");
}
