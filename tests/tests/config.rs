//! Configuration: flags, `ETCD_*` variables and YAML files, as etcd reads them.

use std::time::Duration;

use etcd_rs_tests::{Member, free_port, http_get, run_server_expecting_exit};

#[test]
fn the_issue_yaml_with_loopback_addresses_starts_a_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, p) = (free_port(), free_port());
    let yaml = format!(
        r#"name: "node1"
data-dir: "{data}"
listen-peer-urls: "http://127.0.0.1:{p}"
listen-client-urls: "http://127.0.0.1:{c}"
initial-advertise-peer-urls: "http://127.0.0.1:{p}"
advertise-client-urls: "http://127.0.0.1:{c}"
initial-cluster-state: "new"
initial-cluster-token: "etcd-cluster"
initial-cluster: "node1=http://127.0.0.1:{p}"
"#,
        data = dir.path().join("node1.etcd").display()
    );
    let file = dir.path().join("etcd.yml");
    std::fs::write(&file, yaml).expect("write yaml");
    let mut child = std::process::Command::new(etcd_rs_tests::bin("etcd-rs"))
        .arg(format!("--config-file={}", file.display()))
        // Ignored: a config file replaces flags and environment, as in etcd.
        .env("ETCD_NAME", "ignored")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut healthy = false;
    while std::time::Instant::now() < deadline {
        if let Ok((200, body)) = http_get(c, "/health") {
            assert_eq!(body, r#"{"health":"true"}"#);
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.kill().ok();
    child.wait().ok();
    assert!(healthy, "member from the YAML file never became healthy");
    assert!(dir.path().join("node1.etcd/member").is_dir(), "data dir from the file is used");
}

#[test]
fn bad_configuration_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yml");
    std::fs::write(&file, "name: x\nsnapshot-count: lots\n").expect("write");
    let out = run_server_expecting_exit(&[&format!("--config-file={}", file.display())], &[], Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'snapshot-count'"), "{err}");

    std::fs::write(&file, "name: x\nbogus-thing: 1\n").expect("write");
    let out = run_server_expecting_exit(&[&format!("--config-file={}", file.display())], &[], Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown configuration key 'bogus-thing'"));

    let out = run_server_expecting_exit(&["--wal-dir=/tmp/x"], &[], Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'wal-dir' is not supported by etcd-rs yet"));

    let out = run_server_expecting_exit(&[], &[("ETCD_MAX_TXN_OPS", "x")], Duration::from_secs(20));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'max-txn-ops'"), "environment variables are parsed");
}

#[test]
fn http_endpoints_answer_like_etcd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Member::start(dir.path(), "h");
    assert_eq!(
        http_get(m.client_port, "/version").expect("version"),
        (200, r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}"#.to_string())
    );
    assert_eq!(http_get(m.client_port, "/v2/keys/foo").expect("v2").0, 404);
    assert_eq!(etcd_rs_tests::http(m.client_port, "POST", "/health").expect("post").0, 405);
}

#[test]
fn sigterm_stops_cleanly_and_the_identity_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = Member::start(dir.path(), "t");
    assert!(m.terminate(), "SIGTERM exits with status 0; log:\n{}", m.log());
    m.restart();
    let log = m.log();
    let ids: Vec<&str> = log.lines().filter(|l| l.contains("starting member")).collect();
    assert_eq!(ids.len(), 2, "{log}");
    let id = |l: &str| l.split("member_id=").nth(1).and_then(|s| s.split_whitespace().next()).map(str::to_string);
    assert_eq!(id(ids[0]), id(ids[1]));
}
