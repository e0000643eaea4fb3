//! Watch, leases, locks and elections on real `etcd-rs` processes: the guarantees etcd
//! states for them, across leader failures.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use etcd_proto::etcdserverpb::watch_client::WatchClient;
use etcd_proto::etcdserverpb::watch_request::RequestUnion;
use etcd_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, PutRequest, RangeRequest,
    WatchCreateRequest, WatchRequest, WatchResponse,
};
use etcd_proto::v3electionpb::{CampaignRequest, LeaderKey, LeaderRequest, ResignRequest};
use etcd_proto::v3lockpb::{LockRequest, UnlockRequest};
use etcd_rs_tests::Member;
use etcd_rs_tests::cluster::Cluster;
use etcd_rs_tests::grpc::{client, put};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// What `child` printed until a line containing `needle`, or until `within` passed: read
/// on a thread, because the child keeps running after it printed.
fn first_line_with(child: &mut std::process::Child, needle: &'static str, within: Duration) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let found = line.contains(needle);
            if tx.send(line).is_err() || found {
                break;
            }
        }
    });
    let deadline = Instant::now() + within;
    let mut text = String::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        text.push_str(&line);
        text.push('\n');
        if line.contains(needle) {
            break;
        }
    }
    text
}

/// Opens a watch stream on `url` with `creates`; returns the request sender and responses.
async fn watch(
    url: &str,
    creates: Vec<WatchCreateRequest>,
) -> (mpsc::Sender<WatchRequest>, tonic::Streaming<WatchResponse>) {
    let (tx, rx) = mpsc::channel(creates.len() + 8);
    for c in creates {
        tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(c)) }).await.expect("queue create");
    }
    let c = client(url).await.expect("client");
    let stream = c.watch().watch(ReceiverStream::new(rx)).await.expect("watch").into_inner();
    (tx, stream)
}

fn on(key: &str, start_revision: i64) -> WatchCreateRequest {
    WatchCreateRequest { key: key.into(), start_revision, ..Default::default() }
}

fn prefix(p: &str, start_revision: i64) -> WatchCreateRequest {
    let mut end = p.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    WatchCreateRequest { key: p.into(), range_end: end, start_revision, ..Default::default() }
}

/// Puts `value` under `prefix0`, `prefix1`, … (`n` keys); returns the first put's revision.
async fn put_values(url: &str, prefix: &str, n: usize, value: &[u8]) -> i64 {
    let c = client(url).await.expect("client");
    let mut first = 0;
    for i in 0..n {
        let req = PutRequest { key: format!("{prefix}{i}").into_bytes(), value: value.to_vec(), ..Default::default() };
        let r = c.kv().put(req).await.expect("put").into_inner().header.expect("header").revision;
        if i == 0 {
            first = r;
        }
    }
    first
}

async fn put_retrying(urls: &[String], key: &str, value: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for url in urls {
            if let Ok(rev) = put(url, key, value).await {
                return rev;
            }
        }
        assert!(Instant::now() < deadline, "put {key} kept failing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumed_after_the_leader_dies_sees_every_event_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    let watched = cluster.members[follower].url();
    let (_tx, mut events) = watch(&watched, vec![prefix("ev/", 0)]).await;
    let first = events.next().await.expect("created").expect("ok");
    assert!(first.created);

    let writer_urls: Vec<String> = cluster.endpoints();
    let writer = tokio::spawn(async move {
        let mut revs = Vec::new();
        for i in 0..200 {
            revs.push(put_retrying(&writer_urls, &format!("ev/{i:03}"), "v").await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        revs
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.members[leader].kill9();

    let mut seen: Vec<(String, i64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stream = events;
    let mut writer = Some(writer);
    let mut last_write = i64::MAX;
    while seen.last().is_none_or(|(_, r)| *r < last_write) {
        assert!(Instant::now() < deadline, "only {} events arrived", seen.len());
        if writer.as_ref().is_some_and(|w| w.is_finished())
            && let Some(w) = writer.take()
        {
            last_write = w.await.expect("writer").into_iter().max().unwrap_or(0);
        }
        match tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
            Ok(Some(Ok(r))) => {
                for e in r.events {
                    let kv = e.kv.expect("kv");
                    seen.push((String::from_utf8_lossy(&kv.key).into_owned(), kv.mod_revision));
                }
            }
            // Nothing new for a while: keep waiting (the writer may be retrying).
            Err(_) => {}
            // The stream broke: resume after the last revision seen, as clients do.
            Ok(_) => {
                let from = seen.last().map_or(0, |(_, r)| r + 1);
                let (_, s) = watch(&watched, vec![prefix("ev/", from)]).await;
                stream = s;
            }
        }
    }
    // A retried put whose first attempt was committed writes a key twice; every one of
    // the 200 keys must be there all the same.
    let keys: std::collections::BTreeSet<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), 200, "some writes were never seen");
    // Exactly once and without gaps: the live (and resumed) sequence is the history itself.
    let (_, mut replay) = watch(&watched, vec![prefix("ev/", seen[0].1)]).await;
    let mut history: Vec<(String, i64)> = Vec::new();
    while history.len() < seen.len() {
        let r = tokio::time::timeout(Duration::from_secs(10), replay.next()).await.expect("replay").expect("item");
        for e in r.expect("ok").events {
            let kv = e.kv.expect("kv");
            history.push((String::from_utf8_lossy(&kv.key).into_owned(), kv.mod_revision));
        }
    }
    assert_eq!(seen, history, "the watch delivered the history exactly once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_stream_nobody_reads_blocks_neither_writers_nor_other_watchers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = Member::start(dir.path(), "m0");
    let url = member.url();
    // 1,000 watchers on one stream whose responses are never read.
    let creates: Vec<WatchCreateRequest> = (0..1000).map(|_| on("hot", 0)).collect();
    let (_stuck_tx, _stuck) = watch(&url, creates).await;
    let (_tx, mut reader) = watch(&url, vec![on("hot", 0)]).await;
    assert!(reader.next().await.expect("created").expect("ok").created);
    let rss_before = rss_kib(member.pid());
    let value = "x".repeat(1024);
    let c = client(&url).await.expect("client");
    for i in 0..2000 {
        let req = PutRequest { key: "hot".into(), value: format!("{i}{value}").into_bytes(), ..Default::default() };
        tokio::time::timeout(Duration::from_secs(10), c.kv().put(req)).await.expect("a put stalled").expect("put");
    }
    let mut got = 0;
    while got < 2000 {
        let r =
            tokio::time::timeout(Duration::from_secs(10), reader.next()).await.expect("the reading watcher stalled");
        got += r.expect("stream").expect("ok").events.len();
    }
    assert_eq!(got, 2000);
    let grown = rss_kib(member.pid()).saturating_sub(rss_before);
    // 2 MB of events for 1,000 stuck watchers would be 2 GB if buffered per watcher.
    assert!(grown < 200 * 1024, "RSS grew by {grown} KiB");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_deletes_its_keys_on_every_member_at_one_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start(dir.path(), 3, &[]);
    let urls = cluster.endpoints();
    let c = client(&urls[0]).await.expect("client");
    let lease = c.lease().lease_grant(LeaseGrantRequest { ttl: 2, id: 0 }).await.expect("grant").into_inner();
    assert_eq!(lease.ttl, 2);
    for k in ["a", "b"] {
        let req = PutRequest {
            key: format!("leased/{k}").into(),
            value: b"v".to_vec(),
            lease: lease.id,
            ..Default::default()
        };
        c.kv().put(req).await.expect("put with lease");
    }
    let start = c.kv().range(RangeRequest { key: b"x".to_vec(), ..Default::default() }).await.expect("range");
    let start = start.into_inner().header.expect("header").revision;
    let mut deletions = BTreeMap::new();
    for url in &urls {
        let (_tx, mut s) = watch(url, vec![prefix("leased/", start + 1)]).await;
        let mut revs = Vec::new();
        while revs.len() < 2 {
            let r = tokio::time::timeout(Duration::from_secs(15), s.next()).await.expect("expiry").expect("item");
            for e in r.expect("ok").events {
                assert_eq!(e.r#type, 1, "only deletes after the puts");
                revs.push(e.kv.expect("kv").mod_revision);
            }
        }
        deletions.insert(url.clone(), revs);
    }
    let all: Vec<&Vec<i64>> = deletions.values().collect();
    assert!(all.windows(2).all(|w| w[0] == w[1]), "members deleted at different revisions: {deletions:?}");
    assert_eq!(all[0][0], all[0][1], "both keys go in one revision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alives_through_a_leader_change_keep_the_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let leader = cluster.leader().await;
    let via = cluster.members[(leader + 1) % 3].url();
    let c = client(&via).await.expect("client");
    let lease = c.lease().lease_grant(LeaseGrantRequest { ttl: 3, id: 0 }).await.expect("grant").into_inner();
    let req = PutRequest { key: b"alive".to_vec(), value: b"v".to_vec(), lease: lease.id, ..Default::default() };
    c.kv().put(req).await.expect("put");
    let (tx, rx) = mpsc::channel(4);
    let mut replies = c.lease().lease_keep_alive(ReceiverStream::new(rx)).await.expect("keepalive").into_inner();
    let until = Instant::now() + Duration::from_secs(9);
    let mut killed = false;
    while Instant::now() < until {
        tx.send(LeaseKeepAliveRequest { id: lease.id }).await.expect("send");
        let r = tokio::time::timeout(Duration::from_secs(10), replies.next()).await.expect("reply").expect("item");
        assert_eq!(r.expect("ok").ttl, 3, "the lease is alive");
        if !killed {
            cluster.members[leader].kill9();
            killed = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ttl = c.lease().lease_time_to_live(LeaseTimeToLiveRequest { id: lease.id, keys: true }).await;
    let ttl = ttl.expect("ttl").into_inner();
    assert!(ttl.ttl > 0 && ttl.keys == [b"alive".to_vec()], "{ttl:?}");
}

/// Real etcdctl 3.4, if installed (CI installs it).
fn etcdctl() -> Option<&'static str> {
    Command::new("etcdctl").arg("version").output().ok().filter(|o| o.status.success()).map(|_| "etcdctl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_election_services_interoperate_with_etcdctl() {
    let Some(ctl) = etcdctl() else {
        panic!("etcdctl 3.4 is needed (apt-get install etcd-client)");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let member = Member::start(dir.path(), "m0");
    let c = client(&member.url()).await.expect("client");
    let lease = c.lease().lease_grant(LeaseGrantRequest { ttl: 30, id: 0 }).await.expect("grant").into_inner();
    let held = c.lock().lock(LockRequest { name: b"L".to_vec(), lease: lease.id }).await.expect("lock").into_inner();
    assert_eq!(held.key, format!("L/{:x}", lease.id).into_bytes());

    // etcdctl's own mutex (same key layout) waits for ours.
    let mut contender = Command::new(ctl)
        .args(["--endpoints", &member.endpoint(), "lock", "L", "echo", "got it"])
        .env("ETCDCTL_API", "3")
        .stdout(Stdio::piped())
        .spawn()
        .expect("etcdctl lock");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(contender.try_wait().expect("poll").is_none(), "etcdctl took a held lock");
    c.lock().unlock(UnlockRequest { key: held.key }).await.expect("unlock");
    let out = contender.wait_with_output().expect("etcdctl lock finishes");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "got it");

    // A campaign through the service is the leader etcdctl observes.
    let campaign = CampaignRequest { name: b"E".to_vec(), lease: lease.id, value: b"rs-leader".to_vec() };
    let won = c.election().campaign(campaign).await.expect("campaign").into_inner();
    let mut observed = Command::new(ctl)
        .args(["--endpoints", &member.endpoint(), "elect", "-l", "E"])
        .env("ETCDCTL_API", "3")
        .stdout(Stdio::piped())
        .spawn()
        .expect("etcdctl elect -l");
    let text = first_line_with(&mut observed, "rs-leader", Duration::from_secs(15));
    let _ = observed.kill();
    let _ = observed.wait();
    assert!(text.contains("rs-leader"), "etcdctl elect -l printed {text:?}");
    let leader = c.election().leader(LeaderRequest { name: b"E".to_vec() }).await.expect("leader").into_inner();
    assert_eq!(leader.kv.expect("kv").key, won.leader.expect("leader key").key);
}

/// As etcd's servers: a Lock or Campaign without a lease gets a session lease of its own
/// (60 s), so two such lockers never share a key and both hold the lock; a waiter whose
/// client goes away takes its key out of the queue; Unlock needs a key; Resign deletes
/// only the key created at the given revision; a campaign's value meets the request
/// size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockers_without_a_lease_exclude_each_other_and_cancelled_waiters_leave_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = Member::start(dir.path(), "m0");
    let c = client(&member.url()).await.expect("client");
    let lock = |name: &str| LockRequest { name: name.as_bytes().to_vec(), lease: 0 };
    let queue = |c: etcd_rs_client::Client| async move {
        let req = RangeRequest { key: b"N/".to_vec(), range_end: b"N0".to_vec(), ..Default::default() };
        c.kv().range(req).await.expect("range").into_inner().kvs.into_iter().map(|kv| kv.key).collect::<Vec<_>>()
    };

    let first = c.lock().lock(lock("N")).await.expect("lock").into_inner().key;
    let lease = i64::from_str_radix(std::str::from_utf8(&first[2..]).expect("hex"), 16).expect("lease id");
    assert!(first.starts_with(b"N/") && lease != 0, "key {:?}", String::from_utf8_lossy(&first));
    let ttl = c.lease().lease_time_to_live(LeaseTimeToLiveRequest { id: lease, keys: true }).await.expect("ttl");
    let ttl = ttl.into_inner();
    assert_eq!((ttl.granted_ttl, ttl.keys), (60, vec![first.clone()]));

    // A second locker without a lease waits; its client gives up.
    let waiting = tokio::time::timeout(Duration::from_secs(1), c.lock().lock(lock("N"))).await;
    assert!(waiting.is_err(), "a second locker got the held lock: {waiting:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue(c.clone()).await != vec![first.clone()] {
        assert!(Instant::now() < deadline, "the cancelled waiter's key stayed: {:?}", queue(c.clone()).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // So the next locker gets the lock as soon as the first lets go.
    c.lock().unlock(UnlockRequest { key: first }).await.expect("unlock");
    let next = tokio::time::timeout(Duration::from_secs(5), c.lock().lock(lock("N"))).await;
    let next = next.expect("the lock is free").expect("lock").into_inner().key;

    let empty = c.lock().unlock(UnlockRequest { key: Vec::new() }).await.expect_err("no key");
    // etcd runs Lock and Election over its own client, which leaves gRPC only code Unknown.
    assert_eq!((empty.code(), empty.message()), (tonic::Code::Unknown, "etcdserver: key is not provided"));
    let leader = LeaderKey { name: b"N".to_vec(), key: next.clone(), rev: 0, lease: 0 };
    c.election().resign(ResignRequest { leader: Some(leader) }).await.expect("resign");
    assert_eq!(queue(c.clone()).await, vec![next], "a resign at revision 0 deleted the key");

    // Their puts meet the request size limit, as etcd's do.
    let big = CampaignRequest { name: b"B".to_vec(), lease: 0, value: vec![b'x'; 1_600_000] };
    let err = c.election().campaign(big).await.expect_err("too large");
    assert_eq!((err.code(), err.message()), (tonic::Code::Unknown, "etcdserver: request is too large"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_notifications_and_fragmented_responses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cport, pport) = (etcd_rs_tests::free_port(), etcd_rs_tests::free_port());
    let initial = format!("m0=http://127.0.0.1:{pport}");
    let extra = ["--experimental-watch-progress-notify-interval=1s"];
    let mut member = Member::new(dir.path(), "m0", cport, pport, &initial, "new", &extra);
    member.spawn();
    member.wait_healthy();
    let url = member.url();

    // An idle watcher that asked for progress hears the store's revision.
    let quiet = WatchCreateRequest { key: b"quiet".to_vec(), progress_notify: true, ..Default::default() };
    let (tx, mut s) = watch(&url, vec![quiet]).await;
    let id = s.next().await.expect("created").expect("ok").watch_id;
    let rev = put(&url, "elsewhere", "v").await.expect("put");
    let progress = tokio::time::timeout(Duration::from_secs(5), s.next()).await.expect("a progress notification");
    let progress = progress.expect("item").expect("ok");
    assert!(progress.events.is_empty() && progress.watch_id == id, "{progress:?}");
    assert!(progress.header.expect("header").revision >= rev);
    // An explicit progress request is answered for the whole stream (watch id -1).
    let request = etcd_proto::etcdserverpb::WatchProgressRequest {};
    tx.send(WatchRequest { request_union: Some(RequestUnion::ProgressRequest(request)) }).await.expect("send");
    let answer = loop {
        let r = tokio::time::timeout(Duration::from_secs(5), s.next()).await.expect("answer").expect("item");
        let r = r.expect("ok");
        if r.watch_id == -1 {
            break r;
        }
    };
    assert_eq!(answer.header.expect("header").revision, rev);

    // Three 700 KB values: with `fragment` the 2.1 MB of events come in pieces smaller
    // than etcd's limit for them (the request limit plus 512 KiB), all but the last
    // marked as a fragment.
    let first = put_values(&url, "big/", 3, &vec![b'x'; 700 * 1024]).await;
    let fragmented = WatchCreateRequest { fragment: true, ..prefix("big/", first) };
    let (_tx, mut s) = watch(&url, vec![fragmented]).await;
    assert!(s.next().await.expect("created").expect("ok").created);
    let mut pieces = Vec::new();
    let mut events = 0;
    while events < 3 {
        let r = tokio::time::timeout(Duration::from_secs(5), s.next()).await.expect("events").expect("item");
        let r = r.expect("ok");
        events += r.events.len();
        pieces.push((r.events.len(), r.fragment));
    }
    assert_eq!(pieces, [(2, true), (1, false)], "2.1 MB of events as two fragments");

    // Two 900 KB values, 1.8 MB of events: under etcd's limit, so one response.
    let first = put_values(&url, "large/", 2, &vec![b'y'; 900 * 1024]).await;
    let (_tx, mut s) = watch(&url, vec![WatchCreateRequest { fragment: true, ..prefix("large/", first) }]).await;
    assert!(s.next().await.expect("created").expect("ok").created);
    let r = tokio::time::timeout(Duration::from_secs(5), s.next()).await.expect("events").expect("item").expect("ok");
    assert_eq!((r.events.len(), r.fragment), (2, false), "1.8 MB of events in one response");

    // A request over the gRPC server's limit (max-request-bytes + 512 KiB) ends the
    // stream with grpc-go's status, as etcd's does. (Sent by a client without etcd's own
    // 2 MiB limit on what it sends, which etcd-rs-client keeps too.)
    let oversized = WatchRequest { request_union: Some(RequestUnion::CreateRequest(on(&"k".repeat(3_000_000), 0))) };
    let size = prost::Message::encoded_len(&oversized);
    let channel = tonic::transport::Endpoint::from_shared(url.clone()).expect("url").connect().await.expect("connect");
    let (tx, rx) = mpsc::channel(1);
    let mut s = WatchClient::new(channel).watch(ReceiverStream::new(rx)).await.expect("watch").into_inner();
    tx.send(oversized).await.expect("send");
    let end = tokio::time::timeout(Duration::from_secs(5), s.next()).await.expect("an answer").expect("item");
    let e = end.expect_err("an oversized request");
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert_eq!(e.message(), format!("grpc: received message larger than max ({size} vs. 2097152)"));

    // A keep-alive stream alike: its request has one small field, so the oversized one
    // carries an unknown field as padding (which a request within the limit may carry).
    let fat = |pad: usize| FatKeepAlive { id: 1, pad: vec![0; pad] };
    let size = prost::Message::encoded_len(&fat(3_000_000));
    let (tx, rx) = mpsc::channel(2);
    tx.send(fat(10)).await.expect("queue");
    tx.send(fat(3_000_000)).await.expect("queue");
    let channel = tonic::transport::Endpoint::from_shared(url.clone()).expect("url").connect().await.expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/etcdserverpb.Lease/LeaseKeepAlive");
    let codec = tonic_prost::ProstCodec::<FatKeepAlive, LeaseKeepAliveResponse>::default();
    let mut s =
        grpc.streaming(tonic::Request::new(ReceiverStream::new(rx)), path, codec).await.expect("call").into_inner();
    let first = s.message().await.expect("an answer").expect("one");
    assert_eq!((first.id, first.ttl), (1, 0), "the padded request within the limit is read (no lease 1)");
    let e = s.message().await.expect_err("an oversized request");
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert_eq!(e.message(), format!("grpc: received message larger than max ({size} vs. 2097152)"));
}

/// A `LeaseKeepAliveRequest` with an unknown field the server skips.
#[derive(Clone, PartialEq, prost::Message)]
struct FatKeepAlive {
    #[prost(int64, tag = "1")]
    id: i64,
    #[prost(bytes = "vec", tag = "15")]
    pad: Vec<u8>,
}

/// The value of gauge `name` on the member's `/metrics`.
fn gauge(port: u16, name: &str) -> i64 {
    let (status, text) = etcd_rs_tests::http_get(port, "/metrics").expect("scrape /metrics");
    assert_eq!(status, 200, "{text}");
    let line = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')).expect("the gauge is exported");
    line.trim().parse().unwrap_or_else(|_| panic!("{name} is {line:?}"))
}

/// Waits until gauge `name` reads `want`: a stream's end is noticed by its task soon
/// after the client goes, not at once.
async fn gauge_reaches(port: u16, name: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while gauge(port, name) != want {
        assert!(Instant::now() < deadline, "{name} stayed {} instead of {want}", gauge(port, name));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_watch_streams_watchers_and_v2_long_polls() {
    const STREAMS: &str = "etcd_debugging_mvcc_watch_stream_total";
    const WATCHERS: &str = "etcd_debugging_mvcc_watcher_total";
    const V2_WATCHERS: &str = "etcd_debugging_store_watchers";
    let dir = tempfile::tempdir().expect("tempdir");
    let member = Member::start(dir.path(), "m0");
    let (url, port) = (member.url(), member.client_port);
    assert_eq!((gauge(port, STREAMS), gauge(port, WATCHERS), gauge(port, V2_WATCHERS)), (0, 0, 0));

    // Counted by the time the client hears that its watchers were created.
    let (tx, mut s) = watch(&url, vec![on("a", 0), on("b", 0), prefix("c/", 0)]).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(s.next().await.expect("created").expect("ok").watch_id);
    }
    assert_eq!((gauge(port, STREAMS), gauge(port, WATCHERS)), (1, 3));

    // A cancel, and a watcher cancelled because its history was compacted.
    let cancel = etcd_proto::etcdserverpb::WatchCancelRequest { watch_id: ids[0] };
    tx.send(WatchRequest { request_union: Some(RequestUnion::CancelRequest(cancel)) }).await.expect("send");
    assert!(s.next().await.expect("canceled").expect("ok").canceled);
    assert_eq!(gauge(port, WATCHERS), 2);
    put(&url, "x", "1").await.expect("put");
    let rev = put(&url, "x", "2").await.expect("put");
    let c = client(&url).await.expect("client");
    c.kv()
        .compact(etcd_proto::etcdserverpb::CompactionRequest { revision: rev, physical: true })
        .await
        .expect("compact");
    tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(on("x", 1))) }).await.expect("send");
    let compacted = loop {
        let r = s.next().await.expect("a response").expect("ok");
        if r.compact_revision != 0 {
            break r;
        }
    };
    assert!(compacted.canceled, "{compacted:?}");
    assert_eq!(gauge(port, WATCHERS), 2);

    // The stream ends with its client: nothing of it stays counted.
    drop((tx, s));
    gauge_reaches(port, STREAMS, 0).await;
    assert_eq!(gauge(port, WATCHERS), 0);

    // A v2 long poll counts while it waits.
    let poll = std::thread::spawn(move || etcd_rs_tests::http_get(port, "/v2/keys/lp?wait=true"));
    gauge_reaches(port, V2_WATCHERS, 1).await;
    let (status, _) = etcd_rs_tests::http(port, "PUT", "/v2/keys/lp?value=v").expect("v2 set");
    assert_eq!(status, 201);
    let (status, body) = poll.join().expect("poll thread").expect("long poll");
    assert!(status == 200 && body.contains("\"action\":\"set\""), "{status} {body}");
    assert_eq!(gauge(port, V2_WATCHERS), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_replaying_a_long_stretch_without_its_key_still_gets_the_later_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = Member::start(dir.path(), "m0");
    let url = member.url();
    let c = client(&url).await.expect("client");
    // 2,500 revisions of another key: more than two of the reads a stream makes of the
    // history at a time, none of them with an event for the watcher.
    let puts = (0..2500).map(|i| {
        let kv = c.kv();
        async move {
            let mut kv = kv;
            kv.put(PutRequest { key: b"other".to_vec(), value: i.to_string().into_bytes(), ..Default::default() }).await
        }
    });
    let done: Vec<_> = futures::stream::iter(puts).buffer_unordered(32).collect().await;
    assert!(done.iter().all(Result::is_ok), "the puts of the other key");
    let rev = put(&url, "k", "v").await.expect("put");

    let (tx, mut s) = watch(&url, vec![on("k", 1)]).await;
    assert!(s.next().await.expect("created").expect("ok").created);
    // No write follows: the event must come from reading on through the empty stretch.
    let r = tokio::time::timeout(Duration::from_secs(10), s.next()).await.expect("the event, without another write");
    let r = r.expect("item").expect("ok");
    assert_eq!(r.events.iter().map(|e| e.kv.as_ref().map_or(0, |kv| kv.mod_revision)).collect::<Vec<_>>(), [rev]);
    // And progress is reported only up to what was sent.
    let request = etcd_proto::etcdserverpb::WatchProgressRequest {};
    tx.send(WatchRequest { request_union: Some(RequestUnion::ProgressRequest(request)) }).await.expect("send");
    let progress = tokio::time::timeout(Duration::from_secs(5), s.next()).await.expect("progress");
    let progress = progress.expect("item").expect("ok");
    assert_eq!((progress.watch_id, progress.header.expect("header").revision), (-1, rev));
}
