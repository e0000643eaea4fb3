//! A Raft cluster of real `etcd-rs` processes: leadership, failover, catch-up, restarts
//! and membership changes.

use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::MemberAddRequest;
use etcd_proto::etcdserverpb::{MemberListRequest, MemberPromoteRequest, MemberRemoveRequest, MoveLeaderRequest};
use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::grpc::{self, client, get_prefix, put};
use etcd_rs_tests::key_client::http;
use etcd_rs_tests::{Member, free_port};

/// Retries a put until it succeeds (a failover may be in progress).
async fn put_eventually(url: &str, key: &str, value: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match put(url, key, value).await {
            Ok(rev) => return rev,
            Err(e) => assert!(Instant::now() < deadline, "put {key} via {url} kept failing: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the member at `url` has `count` keys under `prefix` in its local state.
async fn wait_local_count(url: &str, prefix: &str, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = get_prefix(url, prefix, true).await
            && r.count == count
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never reached {count} keys under {prefix}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_every_member_are_read_from_every_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    let mut last = 0;
    for (i, url) in urls.iter().enumerate() {
        let rev = put(url, &format!("k/{i}"), "v").await.expect("put through any member");
        assert!(rev > last, "revisions grow across members");
        last = rev;
    }
    for url in &urls {
        // Linearizable: a follower answers only after catching up to the leader.
        let r = get_prefix(url, "k/", false).await.expect("linearizable read");
        assert_eq!(r.count, 3, "{url} sees every write");
        assert_eq!(r.header.map(|h| h.revision), Some(last));
    }
    let statuses: Vec<_> = futures_join(&urls).await;
    let leaders: Vec<u64> = statuses.iter().map(|s| s.leader).collect();
    assert!(leaders.iter().all(|l| *l == leaders[0] && *l != 0), "one leader, agreed by all: {leaders:?}");
    let terms: Vec<u64> = statuses.iter().map(|s| s.raft_term).collect();
    assert!(terms.iter().all(|t| *t == terms[0] && *t >= 1), "one term: {terms:?}");
}

async fn futures_join(urls: &[String]) -> Vec<etcd_proto::etcdserverpb::StatusResponse> {
    let mut out = Vec::new();
    for u in urls {
        out.push(grpc::status(u).await.expect("status"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_keeps_the_cluster_writing_and_it_catches_up_on_return() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    put(&urls[0], "before", "1").await.expect("put");
    let leader = cluster.leader().await;
    cluster.members[leader].kill9();
    let survivor = &urls[(leader + 1) % 3];
    for i in 0..20 {
        put_eventually(survivor, &format!("after/{i}"), "x").await;
    }
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, leader);
    cluster.members[leader].restart();
    wait_local_count(&urls[leader], "after/", 20).await;
    let r = get_prefix(&urls[leader], "before", false).await.expect("read on the old leader");
    assert_eq!(r.count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_far_behind_catches_up_from_a_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Snapshot every 20 entries and keep at most 20 behind it, so 200 writes purge the
    // log past the stopped follower. Values of 15 kB make the snapshot about 3 MB: it is
    // sent, received and installed in several chunks.
    let mut cluster = Cluster::start(dir.path(), 3, &["--snapshot-count=20"]);
    let urls = cluster.endpoints();
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    cluster.members[follower].kill9();
    // v2 writes first: the snapshot must carry their events (see below).
    let leader_addr = cluster.members[leader].endpoint();
    let mut v2_changes = Vec::new();
    for (method, form) in [("PUT", "value=0"), ("PUT", "value=1"), ("DELETE", "")] {
        let (status, index, body) = http(&leader_addr, method, "/v2/keys/snap/k", form).await.expect("v2 write");
        assert!(status == 200 || status == 201, "{method} {form}: {status} {body}");
        v2_changes.push((index, body));
    }
    let value = |i: usize| format!("{i}-{}", "x".repeat(15_000));
    for i in 0..200 {
        put_eventually(&urls[leader], &format!("s/{i:03}"), &value(i)).await;
    }
    // Taking a snapshot copies nothing: the state in the database is the snapshot, and it
    // is encoded only to be sent (into a scratch file, unlinked once written).
    for m in &cluster.members {
        let copies = files_named(&m.data_dir, "raft-snapshot");
        assert!(copies.is_empty(), "{} keeps snapshot files: {copies:?}", m.name);
    }
    // Raft retries the dead follower (every 200 ms to 1 s); none of the retries encodes the
    // store for it, since nobody would receive it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let encoded = |m: &Member| m.log().matches("snapshot encoded to be sent").count();
    assert_eq!(encoded(&cluster.members[leader]), 0, "a snapshot was encoded for a member that is down");
    cluster.members[follower].restart();
    wait_local_count(&urls[follower], "s/", 200).await;
    let r = get_prefix(&urls[follower], "s/", true).await.expect("local read");
    for (i, kv) in r.kvs.iter().enumerate() {
        assert_eq!(kv.value, value(i).as_bytes(), "s/{i:03} arrived whole");
    }
    let log = cluster.members[leader].log();
    let snapshots: Vec<&str> = log.lines().filter(|l| l.contains("snapshot")).collect();
    assert!(encoded(&cluster.members[leader]) >= 1, "the follower caught up from a snapshot: {snapshots:#?}");
    // The snapshot carried the v2 event history, as etcd's does: the follower answers a
    // watch from before it with the event, not with 401 "outdated and cleared".
    let follower_addr = cluster.members[follower].endpoint();
    for (index, written) in &v2_changes {
        let watch = format!("/v2/keys/snap/k?wait=true&waitIndex={index}");
        let (status, _, seen) = http(&follower_addr, "GET", &watch, "").await.expect("v2 watch");
        assert_eq!(status, 200, "GET {watch} on the follower: {seen}");
        assert_eq!(&seen, written, "GET {watch}: the event as its write was answered");
    }
    // Every member purged its log behind its snapshots: what they cover (installed, or
    // applied and flushed when the snapshot was taken) survives killing them all.
    for i in 200..220 {
        put_eventually(&urls[leader], &format!("s/{i:03}"), &value(i)).await;
    }
    for m in &mut cluster.members {
        m.kill9();
    }
    for m in &mut cluster.members {
        m.spawn();
    }
    for url in &urls {
        wait_local_count(url, "s/", 220).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_by_large_entries_catches_up_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    cluster.members[follower].kill9();
    // 50 values of 1.4 MB (just under the request limit): 70 MB of log to send, more than
    // a peer takes in one message (64 MiB), so the leader must cut it into several.
    let value = |i: usize| format!("{i:02}{}", "x".repeat(1_400_000));
    for i in 0..50 {
        put_eventually(&urls[leader], &format!("big/{i:02}"), &value(i)).await;
    }
    cluster.members[follower].restart();
    wait_local_count(&urls[follower], "big/", 50).await;
    let r = get_prefix(&urls[follower], "big/", true).await.expect("local read");
    for (i, kv) in r.kvs.iter().enumerate() {
        assert!(kv.value == value(i).as_bytes(), "big/{i:02} arrived whole");
    }
}

/// Paths of the files under `dir` whose names start with `prefix`.
fn files_named(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_named(&path, prefix));
        } else if entry.file_name().to_string_lossy().starts_with(prefix) {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_killing_all_members_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    for i in 0..60 {
        put_eventually(&urls[i % 3], &format!("d/{i:02}"), "v").await;
    }
    for m in &mut cluster.members {
        m.kill9();
    }
    for m in &mut cluster.members {
        m.spawn();
    }
    for m in &cluster.members {
        m.wait_healthy();
    }
    for url in &urls {
        let r = get_prefix(url, "d/", false).await.expect("read after restart");
        let keys: Vec<String> = r.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.key).into_owned()).collect();
        let missing: Vec<String> = (0..60).map(|i| format!("d/{i:02}")).filter(|k| !keys.contains(k)).collect();
        assert_eq!(r.count, 60, "{url} has every acknowledged write; missing {missing:?}, header {:?}", r.header);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_promote_remove_and_move_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    put(&urls[0], "m/0", "v").await.expect("put");
    let mut cc = client(&urls[0]).await.expect("client").cluster();

    // Add a learner, then start it with initial-cluster-state existing.
    let (c, p) = (free_port(), free_port());
    let added = cc
        .member_add(MemberAddRequest { peer_ur_ls: vec![format!("http://127.0.0.1:{p}")], is_learner: true })
        .await
        .expect("member add")
        .into_inner();
    let new_id = added.member.expect("member").id;
    let mut initial: Vec<String> =
        cluster.members.iter().map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port)).collect();
    initial.push(format!("m3=http://127.0.0.1:{p}"));
    let mut learner = Member::new(dir.path(), "m3", c, p, &initial.join(","), "existing", &[]);
    learner.spawn();
    learner.wait_healthy();
    wait_local_count(&learner.url(), "m/", 1).await;
    let refused = put(&learner.url(), "m/learner", "v").await.expect_err("a learner takes no writes");
    assert_eq!(refused.message(), "etcdserver: rpc not supported for learner");
    let second = cc
        .member_add(MemberAddRequest {
            peer_ur_ls: vec![format!("http://127.0.0.1:{}", free_port())],
            is_learner: true,
        })
        .await
        .expect_err("one learner at a time");
    assert_eq!(second.message(), "etcdserver: too many learner members in cluster");

    // Promote it (retrying while it catches up), and check the list.
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(e) = cc.member_promote(MemberPromoteRequest { id: new_id }).await {
        assert!(e.message().contains("in sync"), "{e}");
        assert!(Instant::now() < deadline, "learner never caught up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The new member publishes its name and client URLs through the log once it runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let list = cc.member_list(MemberListRequest::default()).await.expect("list").into_inner();
        if list.members.iter().any(|m| m.id == new_id && m.name == "m3") {
            break list;
        }
        assert!(Instant::now() < deadline, "m3 never published itself: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let m3 = list.members.iter().find(|m| m.id == new_id).expect("m3 listed");
    assert!(!m3.is_learner);
    assert_eq!(m3.client_ur_ls, vec![learner.url()]);
    let again = cc.member_promote(MemberPromoteRequest { id: new_id }).await.expect_err("promote a voter");
    assert_eq!(again.message(), "etcdserver: can only promote a learner member");

    // Remove an original member; the cluster keeps working.
    let victim = list.members.iter().find(|m| m.name == "m2").expect("m2").id;
    cc.member_remove(MemberRemoveRequest { id: victim }).await.expect("remove");
    let missing = cc.member_remove(MemberRemoveRequest { id: victim }).await.expect_err("remove twice");
    assert_eq!(missing.message(), "etcdserver: member not found");
    assert!(cluster.members[2].wait_exit(Duration::from_secs(15)), "a removed member stops, as etcd's does");
    let list = cc.member_list(MemberListRequest::default()).await.expect("list").into_inner();
    assert_eq!(list.members.len(), 3);
    put_eventually(&learner.url(), "m/1", "v").await;

    // Move leadership to the new member.
    let leader_url = {
        let mut found = None;
        for u in [&urls[0], &urls[1], &learner.url()] {
            if let Ok(s) = grpc::status(u).await
                && s.leader == s.header.map_or(0, |h| h.member_id)
            {
                found = Some(u.to_string());
            }
        }
        found.expect("a leader among the remaining members")
    };
    let mut mc = client(&leader_url).await.expect("client").maintenance();
    mc.move_leader(MoveLeaderRequest { target_id: new_id }).await.expect("move leader");
    let s = grpc::status(&learner.url()).await.expect("status");
    assert_eq!(s.leader, new_id);
}

/// etcd commits a member addition under the old configuration, so adding a voter to a
/// one-member cluster answers at once, though the cluster has no quorum until the new
/// member starts. openraft's joint configuration would wait for the new member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_member_grows_by_adding_a_voter_as_with_etcd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start(dir.path(), 1, &[]);
    let url = cluster.members[0].url();
    put(&url, "g/0", "v").await.expect("put");
    let (c, p) = (free_port(), free_port());
    let mut cc = client(&url).await.expect("client").cluster();
    let added = cc
        .member_add(MemberAddRequest { peer_ur_ls: vec![format!("http://127.0.0.1:{p}")], is_learner: false })
        .await
        .expect("adding a voter to one member answers before the new member runs")
        .into_inner();
    let new_id = added.member.expect("member").id;
    let listed = added.members.iter().find(|m| m.id == new_id).expect("the new member is listed");
    assert!(!listed.is_learner && listed.name.is_empty(), "{listed:?}");
    // Until the new member runs there is no quorum: another change times out, as in etcd.
    let another = cc
        .member_add(MemberAddRequest {
            peer_ur_ls: vec![format!("http://127.0.0.1:{}", free_port())],
            is_learner: false,
        })
        .await
        .expect_err("no quorum for a second change");
    assert_eq!(another.message(), "etcdserver: request timed out");

    let initial = format!("m0=http://127.0.0.1:{},m1=http://127.0.0.1:{p}", cluster.members[0].peer_port);
    let mut second = Member::new(dir.path(), "m1", c, p, &initial, "existing", &[]);
    second.spawn();
    second.wait_healthy();
    put_eventually(&second.url(), "g/1", "v").await;
    wait_local_count(&url, "g/", 2).await;
    wait_local_count(&second.url(), "g/", 2).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = cc.member_list(MemberListRequest::default()).await.expect("list").into_inner();
        if list.members.iter().any(|m| m.id == new_id && m.name == "m1" && !m.is_learner) {
            assert_eq!(list.members.len(), 2);
            break;
        }
        assert!(Instant::now() < deadline, "m1 never published itself as a voter: {list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_writes_fail_with_etcds_errors_instead_of_hanging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    put(&urls[0], "q", "1").await.expect("put with a quorum");
    cluster.members[1].kill9();
    cluster.members[2].kill9();
    let started = Instant::now();
    let err = put(&urls[0], "q", "2").await.expect_err("no quorum");
    assert!(started.elapsed() < Duration::from_secs(15), "failed in bounded time: {:?}", started.elapsed());
    assert!(
        ["etcdserver: request timed out", "etcdserver: no leader", "etcdserver: leader changed"]
            .contains(&err.message()),
        "{err}"
    );
    assert_eq!(err.code(), tonic::Code::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_with_sigterm_hands_over_leadership() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    let leader = cluster.leader().await;
    let old = grpc::status(&urls[leader]).await.expect("status").leader;
    let survivor = &urls[(leader + 1) % 3];
    // Connected beforehand, so the timed part is only asking who leads (no dial, no fsync).
    let mut watcher = client(survivor).await.expect("client").maintenance();
    assert!(cluster.members[leader].terminate(), "SIGTERM exits 0");
    // Without a hand-off the others would wait at least an election timeout (1 s) first.
    let started = Instant::now();
    loop {
        let s = watcher.status(etcd_proto::etcdserverpb::StatusRequest {}).await.expect("status").into_inner();
        if s.leader != 0 && s.leader != old {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "no new leader {:?} after the exit", started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    put_eventually(survivor, "after-sigterm", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_survive_losing_two_including_the_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 5, &[]);
    let urls = cluster.endpoints();
    for (i, url) in urls.iter().enumerate() {
        put(url, &format!("five/{i}"), "v").await.expect("put through every member");
    }
    let leader = cluster.leader().await;
    let other = (leader + 1) % 5;
    cluster.members[leader].kill9();
    cluster.members[other].kill9();
    let alive: Vec<usize> = (0..5).filter(|i| *i != leader && *i != other).collect();
    for (n, i) in alive.iter().cycle().take(15).enumerate() {
        put_eventually(&urls[*i], &format!("five/after/{n}"), "v").await;
    }
    for i in [leader, other] {
        cluster.members[i].restart();
        wait_local_count(&urls[i], "five/after/", 15).await;
    }
    for url in &urls {
        let r = get_prefix(url, "five/", false).await.expect("linearizable read");
        assert_eq!(r.count, 20, "{url} has every write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_follower_is_retried_with_backoff_not_in_a_tight_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    put(&urls[0], "k", "v").await.expect("put");
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    cluster.members[follower].kill9();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Each failed attempt to replicate logs a warning; with a backoff that is a handful
    // (plus one per heartbeat), without one tens of thousands, at a full core.
    let attempts = cluster.members[leader].log().matches("ReplicationCore recv RPCError").count();
    assert!(attempts < 100, "{attempts} replication attempts to a dead follower in 3 s");
    put(&urls[leader], "still", "writing").await.expect("put with one follower gone");
}

/// `/v2/stats/self` as etcd's `ServerStats`: AppendEntries are counted and rated while
/// entries flow (sent by the leader, received by each follower, dated from the leader's
/// first), and heartbeats are not, as etcd's heartbeats are not appends: an idle cluster
/// reports no rates, and its counts stand still.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_stats_self_rates_appends_while_entries_flow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    let leader = cluster.leader().await;
    let stats = |i: usize| -> serde_json::Value {
        let (status, body) = etcd_rs_tests::http_get(cluster.members[i].client_port, "/v2/stats/self").expect("stats");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("stats JSON")
    };
    let rate = |s: &serde_json::Value, field: &str| s.get(field).map(|v| v.as_f64().expect("a number"));
    for i in 0..20 {
        put_eventually(&urls[leader], &format!("rates/{i}"), "v").await;
    }
    // Read within a second of the last put (the rates cover appends no older than that).
    let all: Vec<serde_json::Value> = (0..3).map(stats).collect();
    let leader_id = all[leader]["id"].as_str().expect("id").to_string();
    for (i, s) in all.iter().enumerate() {
        let (sent, recv) = (
            (rate(s, "sendPkgRate"), rate(s, "sendBandwidthRate")),
            (rate(s, "recvPkgRate"), rate(s, "recvBandwidthRate")),
        );
        let flowing = |(msgs, bytes): (Option<f64>, Option<f64>)| msgs.is_some_and(|m| m > 0.0) && bytes > msgs;
        if i == leader {
            assert!(flowing(sent) && recv == (None, None), "leader: {s}");
            assert!(s["sendAppendRequestCnt"].as_u64() >= Some(40), "two followers, 20 puts: {s}");
        } else {
            assert!(flowing(recv) && sent == (None, None), "follower: {s}");
            assert!(s["recvAppendRequestCnt"].as_u64() >= Some(20), "20 puts: {s}");
        }
        assert_eq!(s["leaderInfo"]["leader"].as_str(), Some(leader_id.as_str()), "{s}");
    }
    // Idle: only heartbeats go out.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (i, before) in all.iter().enumerate() {
        let s = stats(i);
        for field in ["sendPkgRate", "sendBandwidthRate", "recvPkgRate", "recvBandwidthRate"] {
            assert!(s.get(field).is_none(), "member {i} idle for 1.5 s still reports {field}: {s}");
        }
        for field in ["sendAppendRequestCnt", "recvAppendRequestCnt"] {
            assert_eq!(s[field], before[field], "member {i}'s {field} moved while idle: {s}");
        }
        assert_eq!(s["leaderInfo"]["startTime"], before["leaderInfo"]["startTime"], "the same leader, the same date");
    }
}
