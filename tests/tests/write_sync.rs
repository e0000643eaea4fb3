//! An acknowledged write is on stable storage: between a client sending a write and the
//! answer, the member has completed an `fdatasync` (or `fsync`) of its database file, as
//! etcd does of its WAL; in a cluster, a quorum of members has. A kill -9 cannot tell
//! synced writes from writes left in the page cache (the kernel keeps both), a power
//! failure can; so these tests watch the system calls themselves, with `strace` attached
//! to the running members.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use etcd_proto::etcdserverpb::PutRequest;
use etcd_proto::etcdserverpb::kv_client::KvClient;
use etcd_rs_client::Transport;
use etcd_rs_tests::Member;
use etcd_rs_tests::cluster::Cluster;

/// Writes through each API, one at a time.
const WRITES: usize = 20;

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A client of the member at `url` whose first put has settled the connection, so that
/// the traced writes time only themselves.
async fn warm_client(url: &str) -> KvClient<Transport> {
    let mut kv = etcd_rs_tests::grpc::client(url).await.expect("client").kv();
    let warm = PutRequest { key: b"warm".to_vec(), value: b"up".to_vec(), ..Default::default() };
    kv.put(warm).await.expect("warm-up put");
    kv
}

/// Puts `key` and returns when it was sent and when it was acknowledged.
async fn timed_put(kv: &mut KvClient<Transport>, key: String) -> (f64, f64) {
    let sent = now();
    kv.put(PutRequest { key: key.into_bytes(), value: b"x".to_vec(), ..Default::default() }).await.expect("put");
    (sent, now())
}

/// A running strace, stopped and reaped when dropped.
struct Strace(Child);

impl Drop for Strace {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Attaches strace to every thread of `pid`, logging the sync calls to `out`.
fn attach_strace(pid: u32, out: &Path) -> Strace {
    let strace = Command::new("strace")
        .args(["-f", "-qq", "-y", "-ttt", "-T", "-e", "trace=fdatasync,fsync,sync_file_range", "-o"])
        .arg(out)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Strace)
        .expect("this test needs strace (Debian: apt-get install strace); .ci/run installs it");
    // Attached once every thread of the member has a tracer.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("member's threads");
        let traced = tasks.flatten().all(|t| {
            std::fs::read_to_string(t.path().join("status"))
                .map(|s| s.lines().any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0"))
                .unwrap_or(false)
        });
        if traced {
            return strace;
        }
        assert!(Instant::now() < deadline, "strace did not attach to the member");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills `member`, lets its strace end with it, and returns what strace logged: the
/// times at which syncs of the member's database file returned, and the log itself.
fn stop_and_read(member: &mut Member, mut strace: Strace, trace: &Path) -> (Vec<f64>, String) {
    member.kill9();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(strace.0.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(strace);
    let log = std::fs::read_to_string(trace).expect("strace log");
    (sync_returns(&log, &member.data_dir.display().to_string()), log)
}

/// Whether one of `returns` lies between `sent` and `acked`.
fn synced_between(returns: &[f64], sent: f64, acked: f64) -> bool {
    returns.iter().any(|r| *r >= sent && *r <= acked)
}

/// When each successful sync of a file under `data_dir` in strace's log returned (seconds
/// since the epoch, as `strace -ttt` prints them). A call that another traced call
/// interrupted in the log is split into an `unfinished` line (with the path) and a
/// `resumed` line (with the result), both led by the thread id.
fn sync_returns(log: &str, data_dir: &str) -> Vec<f64> {
    let mut pending: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        // strace pads the thread id with spaces.
        let Some((tid, rest)) = line.split_once(' ') else { continue };
        let Some((ts, call)) = rest.trim_start().split_once(' ') else { continue };
        let Ok(ts) = ts.parse::<f64>() else { continue };
        let is_sync = call.starts_with("fdatasync(") || call.starts_with("fsync(");
        if is_sync && call.ends_with("<unfinished ...>") {
            pending.insert(tid, call.contains(data_dir));
            continue;
        }
        let ours = if is_sync {
            call.contains(data_dir)
        } else if call.starts_with("<... fdatasync resumed>") || call.starts_with("<... fsync resumed>") {
            pending.remove(tid).unwrap_or(false)
        } else {
            false
        };
        // `... = 0 <0.000150>`: the result, then the time spent in the call.
        let Some((result, spent)) = call.rsplit_once(" <") else { continue };
        let spent = spent.trim_end_matches('>').parse::<f64>().unwrap_or(0.0);
        if ours && result.ends_with("= 0") {
            // A whole line is stamped with the call's start, a resumed line with its return.
            out.push(if is_sync { ts + spent } else { ts });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_waits_for_a_sync_of_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut member = Member::start(dir.path(), "sync");
    let mut kv = warm_client(&member.url()).await;

    let trace = dir.path().join("strace.log");
    let strace = attach_strace(member.pid(), &trace);
    // (sent, acknowledged, what) per write.
    let mut writes = Vec::new();
    for i in 0..WRITES {
        let (sent, acked) = timed_put(&mut kv, format!("v3/{i}")).await;
        writes.push((sent, acked, format!("v3 put {i}")));
    }
    for i in 0..WRITES {
        let sent = now();
        let (status, body) =
            etcd_rs_tests::http(member.client_port, "PUT", &format!("/v2/keys/v2/{i}?value=x")).expect("v2 set");
        assert_eq!(status, 201, "v2 set {i}: {body}");
        writes.push((sent, now(), format!("v2 set {i}")));
    }
    let (returns, log) = stop_and_read(&mut member, strace, &trace);
    for (sent, acked, what) in &writes {
        assert!(
            synced_between(&returns, *sent, *acked),
            "{what} was acknowledged without a sync of the database file in between; strace log:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_in_a_cluster_waits_for_syncs_on_a_quorum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::start(dir.path(), 3, &[]);
    let leader = cluster.leader().await;
    // Puts alternate between the leader and a follower, which forwards them.
    let mut via = [
        warm_client(&cluster.members[leader].url()).await,
        warm_client(&cluster.members[(leader + 1) % 3].url()).await,
    ];

    let traces: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("strace-{i}.log"))).collect();
    let straces: Vec<Strace> = cluster.members.iter().zip(&traces).map(|(m, t)| attach_strace(m.pid(), t)).collect();
    let mut writes = Vec::new();
    for i in 0..WRITES {
        let (sent, acked) = timed_put(&mut via[i % 2], format!("q/{i}")).await;
        writes.push((sent, acked, i));
    }
    let stopped: Vec<(Vec<f64>, String)> = cluster
        .members
        .iter_mut()
        .zip(straces)
        .zip(&traces)
        .map(|((m, strace), trace)| stop_and_read(m, strace, trace))
        .collect();
    for (sent, acked, i) in &writes {
        let synced = stopped.iter().filter(|(returns, _)| synced_between(returns, *sent, *acked)).count();
        assert!(
            synced >= 2,
            "put {i} was acknowledged after syncs on {synced} of 3 members, not a quorum; strace logs:\n{}",
            stopped.iter().map(|(_, log)| log.as_str()).collect::<Vec<_>>().join("\n--\n")
        );
    }
}
