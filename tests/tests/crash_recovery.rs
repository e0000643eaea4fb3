//! Acknowledged means durable: writers race a SIGKILL, and after every restart each
//! acknowledged write is there, nothing is applied twice, and nothing appears that was
//! never written.

use std::time::Duration;

use etcd_proto::etcdserverpb::kv_client::KvClient;
use etcd_proto::etcdserverpb::{PutRequest, RangeRequest};
use etcd_rs_client::Transport;
use etcd_rs_tests::Member;

const WRITERS: usize = 8;

async fn connect(url: String) -> KvClient<Transport> {
    etcd_rs_tests::grpc::client(&url).await.expect("client").kv()
}

/// Writes `w{writer}/{n:08}` = `n` until the server goes away; returns acknowledged `n`s.
async fn writer(mut kv: KvClient<Transport>, id: usize, start: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    for n in start.. {
        let req = PutRequest {
            key: format!("w{id}/{n:08}").into_bytes(),
            value: n.to_string().into_bytes(),
            ..Default::default()
        };
        match kv.put(req).await {
            Ok(_) => acked.push(n),
            Err(_) => break,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut member = Member::start(dir.path(), "crash");
    let mut acked: Vec<Vec<u64>> = vec![Vec::new(); WRITERS];
    let mut next = [0u64; WRITERS];
    for round in 0..3 {
        let kv = connect(member.url()).await;
        let tasks: Vec<_> = (0..WRITERS).map(|id| tokio::spawn(writer(kv.clone(), id, next[id]))).collect();
        tokio::time::sleep(Duration::from_millis(700 + 300 * round)).await;
        member.kill9();
        for (id, t) in tasks.into_iter().enumerate() {
            let got = t.await.expect("writer task");
            assert!(!got.is_empty() || round > 0 || id > 0, "writers made progress before the kill");
            next[id] = got.last().map_or(next[id], |n| n + 1) + 1;
            acked[id].extend(got);
        }
        member.restart();

        let mut kv = connect(member.url()).await;
        let all = kv
            .range(RangeRequest { key: b"w".to_vec(), range_end: b"x".to_vec(), ..Default::default() })
            .await
            .expect("range")
            .into_inner();
        let stored: std::collections::HashMap<Vec<u8>, Vec<u8>> =
            all.kvs.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
        for (id, ns) in acked.iter().enumerate() {
            for n in ns {
                let key = format!("w{id}/{n:08}").into_bytes();
                assert_eq!(
                    stored.get(&key),
                    Some(&n.to_string().into_bytes()),
                    "acknowledged write {id}/{n} lost in round {round}"
                );
            }
        }
        // Nothing beyond what some writer attempted: at most one unacknowledged put per
        // writer per round (the one in flight at the kill).
        let acked_total: usize = acked.iter().map(Vec::len).sum();
        assert!(stored.len() >= acked_total && stored.len() <= acked_total + WRITERS * (round as usize + 1));
        // Each put is one revision: replay applied nothing twice and skipped nothing.
        let header = all.header.expect("header");
        assert_eq!(header.revision, 1 + stored.len() as i64, "revision counts every applied put exactly once");
        for kv in &all.kvs {
            assert_eq!(kv.version, 1, "no put was applied twice");
        }
    }
}
