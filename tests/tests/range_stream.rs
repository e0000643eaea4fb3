//! RangeStream (etcd 3.7) on a real `etcd-rs` process: the chunks of a large range merge
//! into exactly what unary Range answers.

use etcd_proto::etcdserverpb::range_request::SortOrder;
use etcd_proto::etcdserverpb::{PutRequest, RangeRequest, RangeResponse};
use etcd_rs_tests::Member;
use etcd_rs_tests::grpc::client;

#[tokio::test(flavor = "multi_thread")]
async fn streamed_chunks_merge_into_the_unary_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Member::start(dir.path(), "m0");
    let c = client(&m.url()).await.expect("client");
    let value = vec![b'v'; 2000];
    for i in 0..3000 {
        let req = PutRequest { key: format!("big/{i:05}").into(), value: value.clone(), ..Default::default() };
        c.kv().put(req).await.expect("put");
    }
    let all = RangeRequest { key: "big/".into(), range_end: "big0".into(), ..Default::default() };
    for req in [all.clone(), RangeRequest { limit: 1234, keys_only: true, ..all.clone() }] {
        let unary = c.kv().range(req.clone()).await.expect("range").into_inner();
        let mut stream = c.kv().range_stream(req.clone()).await.expect("range stream").into_inner();
        let mut merged = RangeResponse::default();
        let mut chunks = 0;
        while let Some(chunk) = stream.message().await.expect("chunk") {
            chunks += 1;
            let part = chunk.range_response.expect("a range response in every chunk");
            assert!(merged.header.is_none(), "only the last chunk carries the header");
            merged.kvs.extend(part.kvs);
            (merged.header, merged.count, merged.more) = (part.header, part.count, part.more);
        }
        assert!(chunks > 1, "a 6 MB range comes in several chunks ({chunks})");
        assert_eq!(merged, unary, "merged chunks equal the unary answer for {req:?}");
    }
    let sorted = RangeRequest { sort_order: SortOrder::Descend as i32, ..all };
    let e = c.kv().range_stream(sorted).await.expect_err("sorting is refused");
    assert_eq!(e.code(), tonic::Code::Unimplemented);
}
