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

/// Started on etcd's own data dir (member/wal and member/snap/db, as etcd 3.4 lays them
/// out), etcd-rs refuses to start instead of serving an empty store, and leaves the files.
#[test]
fn an_etcd_data_dir_is_refused_not_served_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("m.etcd");
    std::fs::create_dir_all(data.join("member/wal")).expect("wal dir");
    std::fs::create_dir_all(data.join("member/snap")).expect("snap dir");
    std::fs::write(data.join("member/wal/0000000000000000-0000000000000000.wal"), b"wal").expect("wal");
    std::fs::write(data.join("member/snap/db"), b"bbolt").expect("db");
    let out = run_server_expecting_exit(&[&format!("--data-dir={}", data.display())], &[], Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds an etcd data dir") && err.contains("snapshot restore"), "{err}");
    assert!(!data.join("member/db").exists(), "nothing of etcd-rs's was created beside etcd's files");
    assert_eq!(std::fs::read(data.join("member/snap/db")).expect("db kept"), b"bbolt");
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
    assert_eq!(
        etcd_rs_tests::http(m.client_port, "POST", "/health").expect("post"),
        (405, "Method Not Allowed\n".into())
    );
    // etcd serves these for GET only, HEAD included, and /metrics for any method.
    for path in ["/health", "/version", "/v2/stats/self"] {
        assert_eq!(etcd_rs_tests::http(m.client_port, "HEAD", path).expect("head").0, 405, "HEAD {path}");
    }
    assert_eq!(etcd_rs_tests::http(m.client_port, "POST", "/metrics").expect("post metrics").0, 200);
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

/// gRPC's health service answers for the server as a whole, as etcd's does (liveness
/// probes such as grpc-health-probe call it), and a Watch of it does not keep the server
/// from stopping.
#[tokio::test]
async fn the_grpc_health_service_reports_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = Member::start(dir.path(), "g");
    let channel = tonic::transport::Endpoint::from_shared(m.url()).expect("url").connect().await.expect("connect");
    let mut health = HealthClient::new(channel);
    let r = health.check(HealthCheckRequest { service: String::new() }).await.expect("check").into_inner();
    assert_eq!(r.status, ServingStatus::Serving as i32);
    let unknown = health.check(HealthCheckRequest { service: "nope".into() }).await.expect_err("unknown service");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let mut watch = health.watch(HealthCheckRequest { service: String::new() }).await.expect("watch").into_inner();
    let first = watch.message().await.expect("watch answers").expect("a status");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let stopped = tokio::task::spawn_blocking(move || m.terminate()).await.expect("join");
    assert!(stopped, "SIGTERM with a health watch open stops the member cleanly");
}

/// Authentication is disabled and no users or roles exist, and the Auth service says so
/// as etcd does; a client that logs in by default is told auth is off and carries on.
#[tokio::test]
async fn auth_answers_as_etcd_with_authentication_disabled() {
    use etcd_proto::etcdserverpb::auth_client::AuthClient;
    use etcd_proto::etcdserverpb::{AuthUserAddRequest, AuthUserGetRequest, AuthUserListRequest, AuthenticateRequest};
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Member::start(dir.path(), "a");
    let channel = tonic::transport::Endpoint::from_shared(m.url()).expect("url").connect().await.expect("connect");
    let mut auth = AuthClient::new(channel);
    let login = auth
        .authenticate(AuthenticateRequest { name: "root".into(), password: "pw".into() })
        .await
        .expect_err("auth is off");
    assert_eq!(
        (login.code(), login.message()),
        (tonic::Code::FailedPrecondition, "etcdserver: authentication is not enabled")
    );
    let users = auth.user_list(AuthUserListRequest::default()).await.expect("list").into_inner();
    assert!(users.users.is_empty() && users.header.is_some_and(|h| h.member_id != 0));
    let get = auth.user_get(AuthUserGetRequest { name: "root".into() }).await.expect_err("no users");
    assert_eq!((get.code(), get.message()), (tonic::Code::FailedPrecondition, "etcdserver: user name not found"));
    let add = auth
        .user_add(AuthUserAddRequest { name: "u".into(), password: "p".into(), ..Default::default() })
        .await
        .expect_err("not implemented");
    assert_eq!(add.code(), tonic::Code::Unimplemented);
}
