//! A full disk, on a tmpfs of the test's own (root needed to mount it): the write that
//! cannot be made durable is not acknowledged, the member stops with the error (etcd
//! exits when it cannot write its WAL), and once there is space again it restarts with
//! every write it acknowledged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use etcd_rs_tests::grpc::{get_prefix, put};
use etcd_rs_tests::{Member, free_port};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, megabytes: u32) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        let size = format!("size={megabytes}m");
        mount(&["-t", "tmpfs", "-o", &size, "tmpfs"], at);
        Tmpfs(at.to_path_buf())
    }

    fn resize(&self, megabytes: u32) {
        mount(&["-o", &format!("remount,size={megabytes}m")], &self.0);
    }
}

fn mount(args: &[&str], at: &Path) {
    let out = Command::new("mount").args(args).arg(at).output().expect("run mount");
    assert!(
        out.status.success(),
        "mount {args:?} {at:?} (this test needs root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        Command::new("umount").arg("-l").arg(&self.0).status().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_member_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, peer) = (free_port(), free_port());
    let cluster = format!("full=http://127.0.0.1:{peer}");
    let mut member = Member::new(dir.path(), "full", client, peer, &cluster, "new", &[]);
    // Only the data dir is on the small disk (the member's log file stays outside).
    let disk = Tmpfs::mount(&member.data_dir, 24);
    member.spawn();
    member.wait_healthy();
    let url = member.url();
    let value = |i: usize| format!("{i:04}{}", "x".repeat(100_000));
    let mut acknowledged = 0;
    let failure = loop {
        assert!(acknowledged < 1000, "24 MB never filled up");
        let key = format!("fill/{acknowledged:04}");
        match tokio::time::timeout(Duration::from_secs(15), put(&url, &key, &value(acknowledged))).await {
            Ok(Ok(_)) => acknowledged += 1,
            Ok(Err(status)) => break status.message().to_string(),
            Err(_) => break "no answer in 15 s".to_string(),
        }
    };
    assert!(acknowledged > 20, "the disk filled after {acknowledged} puts: {failure}");
    let status = member.exit_status_within(Duration::from_secs(20));
    let log = member.log();
    assert!(
        status.is_some_and(|s| !s.success()),
        "the member did not stop with an error status ({status:?}) after {failure:?}; log:\n{log}"
    );
    assert!(log.contains("No space left on device"), "the log names the cause:\n{log}");
    // Which write failed varies (the log's, the state's): say which, for the record.
    eprintln!("after {acknowledged} puts: {}", log.lines().find(|l| l.contains("fatal error")).unwrap_or_default());

    disk.resize(200);
    member.spawn();
    member.wait_healthy();
    let r = get_prefix(&url, "fill/", false).await.expect("read after the restart");
    let kept = r.kvs.len();
    assert!(kept >= acknowledged, "{kept} of {acknowledged} acknowledged puts survived");
    for (i, kv) in r.kvs.iter().enumerate().take(acknowledged) {
        assert!(kv.value == value(i).as_bytes(), "fill/{i:04} came back altered");
    }
    put(&url, "after", "space").await.expect("a write once there is space again");
}
