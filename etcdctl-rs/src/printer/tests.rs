//! Printer output checked against etcdctl 3.4.23's (spec Appendix A).

use etcd_proto::etcdserverpb::response_op::Response;
use etcd_proto::etcdserverpb::{
    AlarmMember, AlarmResponse, DeleteRangeResponse, HashKvResponse, LeaseLeasesResponse, LeaseStatus,
    LeaseTimeToLiveResponse, Member, MemberListResponse, PutResponse, RangeResponse, ResponseHeader, ResponseOp,
    StatusResponse, TxnResponse,
};
use etcd_proto::mvccpb::KeyValue;

use super::*;

const CLUSTER: u64 = 324952591200643719;
const MEMBER: u64 = 3319814642761637952;

fn header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader { cluster_id: CLUSTER, member_id: MEMBER, revision, raft_term: 2 })
}

fn kv(key: &str, value: &str, create: i64, modr: i64, version: i64) -> KeyValue {
    KeyValue { key: key.into(), create_revision: create, mod_revision: modr, version, value: value.into(), lease: 0 }
}

fn text(bytes: Result<Vec<u8>, CtlError>) -> String {
    String::from_utf8(bytes.unwrap_or_else(|e| e.stderr_text().into_bytes())).unwrap_or_default()
}

fn two_keys() -> RangeResponse {
    RangeResponse {
        header: header(9),
        kvs: vec![kv("foo", "bar5", 2, 6, 5), kv("foo1", "v1", 7, 7, 1)],
        more: true,
        count: 3,
    }
}

#[test]
fn simple_get_variants() {
    let p = Printer::new(Format::Simple, false);
    assert_eq!(text(p.get(&two_keys(), false)), "foo\nbar5\nfoo1\nv1\n");
    assert_eq!(text(p.get(&two_keys(), true)), "bar5\nv1\n");
    let keys_only = RangeResponse { kvs: vec![kv("foo", "", 2, 6, 5)], ..Default::default() };
    assert_eq!(text(p.get(&keys_only, false)), "foo\n\n");
    let hex = Printer::new(Format::Simple, true);
    let one = RangeResponse { kvs: vec![kv("foo", "bar5", 2, 6, 5)], ..Default::default() };
    assert_eq!(text(hex.get(&one, false)), "\\x66\\x6f\\x6f\n\\x62\\x61\\x72\\x35\n");
}

#[test]
fn json_get_matches_appendix() {
    let p = Printer::new(Format::Json, false);
    assert_eq!(
        text(p.get(&two_keys(), false)),
        "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"revision\":9,\"raft_term\":2},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":2,\"mod_revision\":6,\"version\":5,\"value\":\"YmFyNQ==\"},{\"key\":\"Zm9vMQ==\",\"create_revision\":7,\"mod_revision\":7,\"version\":1,\"value\":\"djE=\"}],\"more\":true,\"count\":3}\n"
    );
    let missing = RangeResponse { header: header(9), ..Default::default() };
    assert_eq!(
        text(p.get(&missing, false)),
        "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"revision\":9,\"raft_term\":2}}\n"
    );
}

#[test]
fn put_in_each_format() {
    let resp = PutResponse { header: header(6), prev_kv: Some(kv("foo", "bar4", 2, 5, 4)) };
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(text(simple.put(&resp)), "OK\nfoo\nbar4\n");
    let json = Printer::new(Format::Json, false);
    assert_eq!(
        text(json.put(&resp)),
        "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"revision\":6,\"raft_term\":2},\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":2,\"mod_revision\":5,\"version\":4,\"value\":\"YmFyNA==\"}}\n"
    );
    let fields = Printer::new(Format::Fields, false);
    assert_eq!(
        text(fields.put(&resp)),
        "\"ClusterID\" : 324952591200643719\n\"MemberID\" : 3319814642761637952\n\"Revision\" : 6\n\"RaftTerm\" : 2\n\"PrevKey\" : \"foo\"\n\"PrevCreateRevision\" : 2\n\"PrevModRevision\" : 5\n\"PrevVersion\" : 4\n\"PrevValue\" : \"bar4\"\n\"PrevLease\" : 0\n"
    );
    let table = Printer::new(Format::Table, false);
    assert_eq!(text(table.put(&resp)), "Error: table not supported as output format\n");
}

#[test]
fn del_in_each_format() {
    let resp = DeleteRangeResponse { header: header(12), deleted: 1, prev_kvs: vec![kv("zoo", "z", 9, 9, 1)] };
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(text(simple.del(&resp)), "1\nzoo\nz\n");
    let json = Printer::new(Format::Json, false);
    assert_eq!(
        text(json.del(&resp)),
        "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"revision\":12,\"raft_term\":2},\"deleted\":1,\"prev_kvs\":[{\"key\":\"em9v\",\"create_revision\":9,\"mod_revision\":9,\"version\":1,\"value\":\"eg==\"}]}\n"
    );
}

fn txn_resp() -> TxnResponse {
    let inner = |revision| Some(ResponseHeader { revision, ..Default::default() });
    TxnResponse {
        header: header(15),
        succeeded: true,
        responses: vec![
            ResponseOp { response: Some(Response::ResponsePut(PutResponse { header: inner(15), prev_kv: None })) },
            ResponseOp {
                response: Some(Response::ResponseRange(RangeResponse {
                    header: inner(15),
                    kvs: vec![kv("k1", "v1", 13, 13, 1)],
                    more: false,
                    count: 1,
                })),
            },
            ResponseOp {
                response: Some(Response::ResponseDeleteRange(DeleteRangeResponse {
                    header: inner(15),
                    ..Default::default()
                })),
            },
        ],
    }
}

#[test]
fn simple_txn_matches_appendix() {
    let p = Printer::new(Format::Simple, false);
    assert_eq!(text(p.txn(&txn_resp())), "SUCCESS\n\nOK\n\nk1\nv1\n\n0\n");
}

#[test]
fn json_txn_uses_go_oneof_names() {
    let p = Printer::new(Format::Json, false);
    assert_eq!(
        text(p.txn(&txn_resp())),
        "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"revision\":15,\"raft_term\":2},\"succeeded\":true,\"responses\":[{\"Response\":{\"ResponsePut\":{\"header\":{\"revision\":15}}}},{\"Response\":{\"ResponseRange\":{\"header\":{\"revision\":15},\"kvs\":[{\"key\":\"azE=\",\"create_revision\":13,\"mod_revision\":13,\"version\":1,\"value\":\"djE=\"}],\"count\":1}}},{\"Response\":{\"ResponseDeleteRange\":{\"header\":{\"revision\":15}}}}]}\n"
    );
}

#[test]
fn fields_txn_prints_inner_headers() {
    let p = Printer::new(Format::Fields, false);
    let out = text(p.txn(&txn_resp()));
    assert!(out.starts_with("\"ClusterID\" : 324952591200643719\n"));
    assert!(out.contains("\"Succeeded\" : true\n\"ClusterID\" : 0\n\"MemberID\" : 0\n\"Revision\" : 15\n"));
    assert!(out.ends_with("\"Deleted\" : 0\n"));
}

fn members() -> MemberListResponse {
    MemberListResponse {
        header: Some(ResponseHeader { cluster_id: CLUSTER, member_id: MEMBER, revision: 0, raft_term: 2 }),
        members: vec![
            Member {
                id: 0x1bdec04eeac7fe66,
                name: String::new(),
                peer_ur_ls: vec!["http://127.0.0.1:23801".into()],
                client_ur_ls: vec![],
                is_learner: true,
            },
            Member {
                id: MEMBER,
                name: "default".into(),
                peer_ur_ls: vec!["http://127.0.0.1:23800".into()],
                client_ur_ls: vec!["http://127.0.0.1:23790".into()],
                is_learner: false,
            },
        ],
    }
}

#[test]
fn member_list_formats() {
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(
        text(simple.member_list(&members())),
        "1bdec04eeac7fe66, unstarted, , http://127.0.0.1:23801, , true\n2e1259d415f2a040, started, default, http://127.0.0.1:23800, http://127.0.0.1:23790, false\n"
    );
    let json = Printer::new(Format::Json, false);
    assert_eq!(
        text(json.member_list(&members())),
        "{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"raft_term\":2},\"members\":[{\"ID\":2008253929032777318,\"peerURLs\":[\"http://127.0.0.1:23801\"],\"isLearner\":true},{\"ID\":3319814642761637952,\"name\":\"default\",\"peerURLs\":[\"http://127.0.0.1:23800\"],\"clientURLs\":[\"http://127.0.0.1:23790\"]}]}\n"
    );
    let table = Printer::new(Format::Table, false);
    assert_eq!(
        text(table.member_list(&members())),
        "\
+------------------+-----------+---------+------------------------+------------------------+------------+
|        ID        |  STATUS   |  NAME   |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |
+------------------+-----------+---------+------------------------+------------------------+------------+
| 1bdec04eeac7fe66 | unstarted |         | http://127.0.0.1:23801 |                        |       true |
| 2e1259d415f2a040 |   started | default | http://127.0.0.1:23800 | http://127.0.0.1:23790 |      false |
+------------------+-----------+---------+------------------------+------------------------+------------+
"
    );
}

fn status(errors: Vec<String>) -> Vec<EpStatus> {
    vec![EpStatus {
        ep: "127.0.0.1:23790".into(),
        resp: StatusResponse {
            header: Some(ResponseHeader { cluster_id: CLUSTER, member_id: MEMBER, revision: 1, raft_term: 2 }),
            version: "3.4.23".into(),
            db_size: 20480,
            leader: MEMBER,
            raft_index: 4,
            raft_term: 2,
            raft_applied_index: 4,
            errors,
            db_size_in_use: 16384,
            is_learner: false,
        },
    }]
}

#[test]
fn endpoint_status_formats() {
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(
        text(simple.endpoint_status(&status(vec![]))),
        "127.0.0.1:23790, 2e1259d415f2a040, 3.4.23, 20 kB, true, false, 2, 4, 4, \n"
    );
    let json = Printer::new(Format::Json, false);
    assert_eq!(
        text(json.endpoint_status(&status(vec![]))),
        "[{\"Endpoint\":\"127.0.0.1:23790\",\"Status\":{\"header\":{\"cluster_id\":324952591200643719,\"member_id\":3319814642761637952,\"revision\":1,\"raft_term\":2},\"version\":\"3.4.23\",\"dbSize\":20480,\"leader\":3319814642761637952,\"raftIndex\":4,\"raftTerm\":2,\"raftAppliedIndex\":4,\"dbSizeInUse\":16384}}]\n"
    );
    assert_eq!(text(json.endpoint_status(&[])), "[]\n");
    let fields = Printer::new(Format::Fields, false);
    let alarm = "memberID:3319814642761637952 alarm:NOSPACE ".to_string();
    assert!(text(fields.endpoint_status(&status(vec![alarm.clone()]))).contains(
        "\"Errors\" : [memberID:3319814642761637952 alarm:NOSPACE ]\n\"Endpoint\" : \"127.0.0.1:23790\"\n\n"
    ));
    let protobuf = Printer::new(Format::Protobuf, false);
    assert_eq!(text(protobuf.endpoint_status(&[])), "Error: protobuf not supported as output format\n");
    let table = Printer::new(Format::Table, false);
    let out = text(table.endpoint_status(&status(vec![alarm])));
    assert!(out.contains("|   memberID:3319814642761637952 |\n"));
    assert!(out.contains("|                 alarm:NOSPACE  |\n"));
}

#[test]
fn endpoint_health_formats() {
    let list = vec![
        EpHealth { ep: "127.0.0.1:23790".into(), health: true, took: "2.294077ms".into(), error: String::new() },
        EpHealth {
            ep: "127.0.0.1:23999".into(),
            health: false,
            took: "5.002558742s".into(),
            error: "context deadline exceeded".into(),
        },
    ];
    let simple = Printer::new(Format::Simple, false);
    let (stream, out) = simple.endpoint_health(&list).unwrap_or((Stream::Stdout, Vec::new()));
    assert_eq!(stream, Stream::Stderr);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "127.0.0.1:23790 is healthy: successfully committed proposal: took = 2.294077ms\n127.0.0.1:23999 is unhealthy: failed to commit proposal: context deadline exceeded\n"
    );
    let json = Printer::new(Format::Json, false);
    let (stream, out) = json.endpoint_health(&list).unwrap_or((Stream::Stderr, Vec::new()));
    assert_eq!(stream, Stream::Stdout);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "[{\"endpoint\":\"127.0.0.1:23790\",\"health\":true,\"took\":\"2.294077ms\"},{\"endpoint\":\"127.0.0.1:23999\",\"health\":false,\"took\":\"5.002558742s\",\"error\":\"context deadline exceeded\"}]\n"
    );
    let fields = Printer::new(Format::Fields, false);
    let (_, out) = fields.endpoint_health(&list[..1]).unwrap_or((Stream::Stderr, Vec::new()));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "\"Endpoint\" : \"127.0.0.1:23790\"\n\"Health\" : true\n\"Took\" : 2.294077ms\n\"Error\" : \n\n"
    );
}

#[test]
fn unknown_format_is_a_bad_feature() {
    assert_eq!(
        Format::parse("yaml").err().map(|e| e.stderr_text()),
        Some("Error: unsupported output format\n".to_string())
    );
}

/// `endpoint hashkv` as etcdctl 3.4.23 printed it for one etcd 3.4 member, listed twice.
fn hashes() -> Vec<EpHashKv> {
    let resp = HashKvResponse {
        header: Some(ResponseHeader {
            cluster_id: 15118495548433857066,
            member_id: 13668033151171901709,
            revision: 2,
            raft_term: 2,
        }),
        hash: 3305255506,
        compact_revision: -1,
    };
    vec![EpHashKv { ep: "127.0.0.1:23791".into(), resp }; 2]
}

#[test]
fn endpoint_hashkv_formats() {
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(text(simple.endpoint_hashkv(&hashes())), "127.0.0.1:23791, 3305255506\n127.0.0.1:23791, 3305255506\n");
    let json = Printer::new(Format::Json, false);
    assert_eq!(
        text(json.endpoint_hashkv(&hashes()[..1])),
        "[{\"Endpoint\":\"127.0.0.1:23791\",\"HashKV\":{\"header\":{\"cluster_id\":15118495548433857066,\"member_id\":13668033151171901709,\"revision\":2,\"raft_term\":2},\"hash\":3305255506,\"compact_revision\":-1}}]\n"
    );
    assert_eq!(text(json.endpoint_hashkv(&[])), "[]\n");
    let fields = Printer::new(Format::Fields, false);
    assert_eq!(
        text(fields.endpoint_hashkv(&hashes()[..1])),
        "\"ClusterID\" : 15118495548433857066\n\"MemberID\" : 13668033151171901709\n\"Revision\" : 2\n\"RaftTerm\" : 2\n\"Endpoint\" : \"127.0.0.1:23791\"\n\"Hash\" : 3305255506\n\n"
    );
    let table = Printer::new(Format::Table, false);
    assert_eq!(
        text(table.endpoint_hashkv(&hashes())),
        "\
+-----------------+------------+
|    ENDPOINT     |    HASH    |
+-----------------+------------+
| 127.0.0.1:23791 | 3305255506 |
| 127.0.0.1:23791 | 3305255506 |
+-----------------+------------+
"
    );
    let protobuf = Printer::new(Format::Protobuf, false);
    assert_eq!(text(protobuf.endpoint_hashkv(&hashes())), "Error: protobuf not supported as output format\n");
}

/// A NOSPACE alarm as etcd 3.4 lists it (no header).
fn nospace() -> AlarmResponse {
    AlarmResponse { header: None, alarms: vec![AlarmMember { member_id: 185828541645115251, alarm: 1 }] }
}

#[test]
fn alarm_formats() {
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(text(simple.alarm(&nospace())), "memberID:185828541645115251 alarm:NOSPACE \n");
    assert_eq!(text(simple.alarm(&AlarmResponse::default())), "");
    let json = Printer::new(Format::Json, false);
    assert_eq!(text(json.alarm(&nospace())), "{\"alarms\":[{\"memberID\":185828541645115251,\"alarm\":1}]}\n");
    assert_eq!(text(json.alarm(&AlarmResponse::default())), "{}\n");
    let protobuf = Printer::new(Format::Protobuf, false);
    assert_eq!(
        protobuf.alarm(&nospace()).ok(),
        Some(vec![0x12, 0x0c, 0x08, 0xf3, 0x9e, 0x8b, 0xaf, 0xaf, 0xc2, 0x8c, 0xca, 0x02, 0x10, 0x01])
    );
    let fields = Printer::new(Format::Fields, false);
    let panic = fields.alarm(&nospace()).err();
    assert_eq!(panic.as_ref().map(CtlError::code), Some(2));
    assert_eq!(
        panic.map(|e| e.stderr_text()),
        Some("panic: runtime error: invalid memory address or nil pointer dereference\n".to_string())
    );
    let with_header = AlarmResponse { header: header(5), ..nospace() };
    assert_eq!(
        text(fields.alarm(&with_header)),
        "\"ClusterID\" : 324952591200643719\n\"MemberID\" : 3319814642761637952\n\"Revision\" : 5\n\"RaftTerm\" : 2\n\"MemberID\" : 185828541645115251\n\"AlarmType\" : NOSPACE\n\n"
    );
    let table = Printer::new(Format::Table, false);
    assert_eq!(text(table.alarm(&nospace())), "Error: table not supported as output format\n");
}

#[test]
fn get_table_is_etcdctl_rs_own() {
    let resp = RangeResponse {
        kvs: vec![kv("foo", "hello world", 2, 6, 5), KeyValue { lease: 0x390da22009ee1825, ..kv("k2", "v2", 7, 7, 1) }],
        ..Default::default()
    };
    let table = Printer::new(Format::Table, false);
    assert_eq!(
        text(table.get(&resp, false)),
        "\
+-----+-------------+-----------------+--------------+---------+------------------+
| KEY |    VALUE    | CREATE REVISION | MOD REVISION | VERSION |      LEASE       |
+-----+-------------+-----------------+--------------+---------+------------------+
| foo | hello world |               2 |            6 |       5 |                0 |
|  k2 |          v2 |               7 |            7 |       1 | 390da22009ee1825 |
+-----+-------------+-----------------+--------------+---------+------------------+
"
    );
    let hex = Printer::new(Format::Table, true);
    let one = RangeResponse { kvs: vec![kv("k", "v", 2, 2, 1)], ..Default::default() };
    assert!(text(hex.get(&one, false)).contains("| \\x6b |  \\x76 |"));
}

#[test]
fn lease_list_table_is_etcdctl_rs_own() {
    let ids = [0x390da22009ee1825, 0x390da22009ee1830];
    let leases = LeaseLeasesResponse { header: header(3), leases: ids.iter().map(|&id| LeaseStatus { id }).collect() };
    let ttls = vec![LeaseTimeToLiveResponse { id: ids[0], ttl: 299, granted_ttl: 300, ..Default::default() }];
    let table = Printer::new(Format::Table, false);
    assert_eq!(
        text(table.lease_leases(&leases, &ttls)),
        "\
+------------------+-----+-------------+
|     LEASE ID     | TTL | GRANTED TTL |
+------------------+-----+-------------+
| 390da22009ee1825 | 299 |         300 |
| 390da22009ee1830 |     |             |
+------------------+-----+-------------+
"
    );
    let simple = Printer::new(Format::Simple, false);
    assert_eq!(text(simple.lease_leases(&leases, &[])), "found 2 leases\n390da22009ee1825\n390da22009ee1830\n");
}

#[test]
fn snapshot_status_in_every_format() {
    // Captured from etcdctl 3.4.23 `snapshot status` on a 20 kB snapshot of etcd 3.4.
    let st = SnapshotStatus { hash: 0x9aabe6f5, revision: 2, total_keys: 5, total_size: 20480 };
    let p = |f| text(Printer::new(f, false).snapshot_status(&st));
    assert_eq!(p(Format::Simple), "9aabe6f5, 2, 5, 20 kB\n");
    assert_eq!(p(Format::Json), "{\"hash\":2594957045,\"revision\":2,\"totalKey\":5,\"totalSize\":20480}\n");
    assert_eq!(p(Format::Fields), "\"Hash\" : 2594957045\n\"Revision\" : 2\n\"Keys\" : 5\n\"Size\" : 20480\n");
    assert_eq!(
        p(Format::Table),
        "+----------+----------+------------+------------+\n\
         |   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n\
         +----------+----------+------------+------------+\n\
         | 9aabe6f5 |        2 |          5 |      20 kB |\n\
         +----------+----------+------------+------------+\n"
    );
}
