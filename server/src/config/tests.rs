use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults_are_etcds() {
    let c = Config::from_pairs(Vec::new()).expect("defaults");
    assert_eq!(c.name, "default");
    assert_eq!(c.data_dir, PathBuf::from("default.etcd"));
    assert_eq!(c.listen_client_urls[0].addr.to_string(), "127.0.0.1:2379");
    assert_eq!(c.initial_cluster, vec![("default".to_string(), vec!["http://localhost:2380".to_string()])]);
    assert_eq!((c.max_request_bytes, c.max_txn_ops), (1_572_864, 128));
    assert_eq!(c.initial_cluster_token, "etcd-cluster");
}

#[test]
fn the_issue_yaml_loads_as_is() {
    let text = r#"
name: "node1"
data-dir: "/home/etcd"
listen-peer-urls: "http://192.168.2.151:2380"
listen-client-urls: "http://192.168.2.151:2379,http://127.0.0.1:2379"
initial-advertise-peer-urls: "http://192.168.2.151:2380"
advertise-client-urls: "http://192.168.2.151:2379"
initial-cluster-state: "new"
initial-cluster-token: "etcd-cluster"
initial-cluster: "node1=http://192.168.2.151:2380,node2=http://192.168.2.152:2380"
"#;
    let c = Config::from_pairs(yaml::pairs("etcd.yml", text).expect("yaml")).expect("config");
    assert_eq!(c.name, "node1");
    assert_eq!(c.data_dir, PathBuf::from("/home/etcd"));
    assert_eq!(c.listen_client_urls.len(), 2);
    assert_eq!(c.initial_cluster.len(), 2);
    assert_eq!(c.initial_cluster_state, ClusterState::New);
}

#[test]
fn errors_name_the_key() {
    let e = Config::from_pairs(pairs(&[("max-txn-ops", "many")])).expect_err("bad number");
    assert!(e.to_string().contains("'max-txn-ops'"), "{e}");
    let e = Config::from_pairs(pairs(&[("bogus-key", "1")])).expect_err("unknown");
    assert_eq!(e, ConfigError::Unknown { key: "bogus-key".into() });
    let e = Config::from_pairs(pairs(&[("wal-dir", "/x")])).expect_err("refused");
    assert_eq!(e.to_string(), "'wal-dir' is not supported by etcd-rs yet");
    let e = Config::from_pairs(pairs(&[("initial-cluster-state", "old")])).expect_err("bad state");
    assert!(e.to_string().contains("initial-cluster-state"), "{e}");
    let e = Config::from_pairs(pairs(&[("election-timeout", "300")])).expect_err("election vs heartbeat");
    assert!(e.to_string().contains("at least 5 times heartbeat-interval"), "{e}");
    let e = Config::from_pairs(pairs(&[("enable-v2", "yes")])).expect_err("bad bool");
    assert!(e.to_string().contains("'enable-v2'"), "{e}");
    let e = Config::from_pairs(pairs(&[("listen-client-urls", "http://127.0.0.1:1")])).expect_err("no advertise");
    assert!(e.to_string().contains("--advertise-client-urls is required"), "{e}");
    let e = Config::from_pairs(pairs(&[("name", "x"), ("initial-cluster", "y=http://127.0.0.1:2380")]))
        .expect_err("name not in cluster");
    assert!(e.to_string().contains("couldn't find local name"), "{e}");
}

#[test]
fn unused_keys_are_accepted_and_reported() {
    let c = Config::from_pairs(pairs(&[("max-wals", "5"), ("pre-vote", "true")])).expect("config");
    assert_eq!(c.unused_keys, vec!["max-wals", "pre-vote"]);
}

#[test]
fn quota_and_auto_compaction_read_as_etcd() {
    use crate::compactor::AutoCompaction;
    use std::time::Duration;
    let cfg = |p: &[(&str, &str)]| Config::from_pairs(pairs(p));
    let defaults = cfg(&[]).expect("defaults");
    assert_eq!((defaults.quota_backend_bytes, defaults.auto_compaction), (0, None));
    assert_eq!(cfg(&[("quota-backend-bytes", "-1")]).expect("no quota").quota_backend_bytes, -1);
    let periodic = |r: &str| cfg(&[("auto-compaction-retention", r)]).map(|c| c.auto_compaction);
    assert_eq!(periodic("1").expect("hours"), Some(AutoCompaction::Periodic(Duration::from_secs(3600))));
    assert_eq!(periodic("30m").expect("duration"), Some(AutoCompaction::Periodic(Duration::from_secs(1800))));
    assert_eq!(periodic("0").expect("off"), None);
    assert!(periodic("soon").is_err());
    // Beyond what Go's time.Duration holds: an error naming the key, not a panic.
    assert!(periodic("1e300").expect_err("too long").to_string().contains("auto-compaction-retention"));
    assert!(periodic("inf").is_err() && periodic("NaN").is_err());
    let revision = cfg(&[("auto-compaction-mode", "revision"), ("auto-compaction-retention", "1000")]);
    assert_eq!(revision.expect("revisions").auto_compaction, Some(AutoCompaction::Revision(1000)));
    assert!(cfg(&[("auto-compaction-mode", "hourly")]).is_err());
}

#[test]
fn watch_progress_interval_takes_go_durations() {
    let key = "experimental-watch-progress-notify-interval";
    let at = |v: &str| Config::from_pairs(pairs(&[(key, v)])).map(|c| c.watch_progress_notify_interval);
    assert_eq!(Config::from_pairs(pairs(&[])).expect("defaults").watch_progress_notify_interval.as_secs(), 600);
    assert_eq!(at("1m30s").expect("ok").as_secs(), 90);
    assert_eq!(at("500ms").expect("ok").as_millis(), 500);
    assert_eq!(at("2000000000").expect("ns").as_secs(), 2);
    assert!(at("soon").expect_err("bad").to_string().contains(key));
    assert!(at("0s").is_err());
    assert!(at("6000000000000000h").expect_err("too long").to_string().contains(key));
    assert_eq!(at("2562047h").expect("under Go's limit").as_secs(), 2_562_047 * 3600);
    assert!(at("9223372036854775808").is_err(), "nanoseconds past i64::MAX");
    assert_eq!(at("9223372036854775807").expect("i64::MAX ns").as_secs(), 9_223_372_036);
}

#[test]
fn v2_is_on_unless_turned_off() {
    assert!(Config::from_pairs(pairs(&[])).expect("defaults").enable_v2);
    assert!(!Config::from_pairs(pairs(&[("enable-v2", "false")])).expect("off").enable_v2);
}

#[test]
fn yaml_errors_are_clear() {
    let e = yaml::pairs("f.yml", "- a\n- b\n").expect_err("not a mapping");
    assert!(e.to_string().contains("f.yml"), "{e}");
    let p = yaml::pairs("f.yml", "log-outputs: [stderr]\nsnapshot-count: 10\n").expect("list and number");
    assert_eq!(p, pairs(&[("log-outputs", "stderr"), ("snapshot-count", "10")]));
}

#[test]
fn every_deploy_example_loads() {
    for (name, text) in [
        ("etcd.yml", include_str!("../../../deploy/etcd.yml")),
        ("etcd-node2.yml", include_str!("../../../deploy/etcd-node2.yml")),
        ("single.yml", include_str!("../../../deploy/single.yml")),
        ("three-node1.yml", include_str!("../../../deploy/three-node1.yml")),
        ("three-node2.yml", include_str!("../../../deploy/three-node2.yml")),
        ("three-node3.yml", include_str!("../../../deploy/three-node3.yml")),
    ] {
        let pairs = yaml::pairs(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        Config::from_pairs(pairs).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn logger_takes_etcds_names_and_plain_ones() {
    let json = |v: &str| Config::from_pairs(pairs(&[("logger", v)])).map(|c| c.log.json);
    assert_eq!((json("zap").ok(), json("json").ok()), (Some(true), Some(true)));
    assert_eq!((json("capnslog").ok(), json("text").ok()), (Some(false), Some(false)));
    assert!(json("xml").is_err());
}

#[test]
fn cors_takes_etcds_origin_list_from_flags_and_files() {
    let args = ["etcd-rs", "--cors", "http://ui.example, http://other.example"].map(std::ffi::OsString::from);
    let Ok(cli::Invocation::Run { config, .. }) = cli::parse_args(args.to_vec()) else { panic!("--cors is a flag") };
    assert_eq!(config.cors, ["http://ui.example", "http://other.example"]);
    let c = Config::from_pairs(yaml::pairs("etcd.yml", "cors: \"*\"").expect("yaml")).expect("config");
    assert_eq!(c.cors, ["*"]);
    assert_eq!(Config::from_pairs(Vec::new()).expect("defaults").cors, ["*"]);
}
