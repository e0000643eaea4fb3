//! The MVCC rules, end to end through [`MvccStore`] on a temporary sled database.

use std::sync::Arc;

use super::*;
use crate::error::Error;
use crate::storage::{Backend, SledBackend, WriteBatch};

type Store = MvccStore<SledBackend>;

fn store() -> Store {
    let b = SledBackend::temporary().expect("temporary sled");
    MvccStore::open(Arc::new(b), Revisions::default()).expect("open store")
}

/// Runs `f` as one change and writes its batch, as the state machine does.
fn change<T>(
    s: &mut Store,
    f: impl FnOnce(&mut WriteTxn<'_, SledBackend>) -> crate::error::Result<T>,
) -> crate::error::Result<T> {
    let mut batch = WriteBatch::default();
    let mut w = s.write(&mut batch);
    let out = f(&mut w);
    w.end();
    s.backend().write(batch).expect("backend write");
    out
}

/// Removes every discarded record from the backend, as the state machine's sweep does.
fn sweep(s: &mut Store) {
    let revs = s.discarded(usize::MAX);
    let mut batch = WriteBatch::default();
    for rev in &revs {
        batch.delete(crate::storage::Tree::Kv, rev.to_bytes().to_vec());
    }
    s.backend().write(batch).expect("backend write");
    s.discarded_removed(&revs);
}

/// Every stored record: revision and key.
fn stored(s: &Store) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    s.backend()
        .scan(crate::storage::Tree::Kv, .., &mut |k, v| {
            let main = Revision::from_bytes(k).map_or(0, |r| r.main);
            out.push((main, Record::decode(v).map(|r| r.kv.key).unwrap_or_default()));
            Ok(true)
        })
        .expect("scan");
    out
}

fn put(s: &mut Store, k: &str, v: &str) -> PutResponse {
    let req = PutRequest { key: k.into(), value: v.into(), prev_kv: true, ..Default::default() };
    change(s, |w| w.put(&req)).expect("put")
}

fn del(s: &mut Store, k: &str, end: &str) -> DeleteRangeResponse {
    let req = DeleteRangeRequest { key: k.into(), range_end: end.into(), prev_kv: true };
    change(s, |w| w.delete_range(&req)).expect("delete")
}

fn get(s: &Store, k: &str, end: &str, rev: i64) -> crate::error::Result<RangeResponse> {
    s.range(&RangeRequest { key: k.into(), range_end: end.into(), revision: rev, ..Default::default() })
}

fn keys(r: &RangeResponse) -> Vec<String> {
    r.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.key).into_owned()).collect()
}

#[test]
fn revisions_versions_and_tombstones() {
    let mut s = store();
    assert_eq!(s.current_revision(), 1, "a fresh store is at revision 1");
    assert_eq!(put(&mut s, "a", "1").revision, 2);
    let second = put(&mut s, "a", "2");
    assert_eq!(second.revision, 3);
    assert_eq!(second.prev_kv.as_ref().map(|kv| kv.value.clone()), Some(b"1".to_vec()));
    let kv = &get(&s, "a", "", 0).expect("get").kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));

    let d = del(&mut s, "a", "");
    assert_eq!((d.deleted, d.revision), (1, 4));
    assert!(get(&s, "a", "", 0).expect("get").kvs.is_empty());
    // History is still there.
    assert_eq!(get(&s, "a", "", 3).expect("old read").kvs[0].value, b"2");

    // A new incarnation starts again at version 1.
    put(&mut s, "a", "3");
    let kv = &get(&s, "a", "", 0).expect("get").kvs[0];
    assert_eq!((kv.create_revision, kv.version), (5, 1));

    // Deleting nothing does not advance the revision.
    assert_eq!(del(&mut s, "zzz", "").revision, 5);
    assert_eq!(s.current_revision(), 5);
}

/// etcd's quirk: with a limit and no sort order, the first `limit + 1` keys in key order
/// are sorted by the target, then cut to the limit; an explicit order sorts every key.
#[test]
fn a_limited_sort_without_an_order_sorts_only_the_first_keys() {
    let mut s = store();
    for k in ["b", "d", "e", "f", "a", "c"] {
        put(&mut s, k, "v");
    }
    let mut req = RangeRequest {
        key: b"a".to_vec(),
        range_end: b"\0".to_vec(),
        limit: 3,
        sort_target: SortTarget::Mod,
        ..Default::default()
    };
    let r = s.range(&req).expect("limited sort");
    assert_eq!((keys(&r), r.more, r.count), (vec!["b".into(), "d".into(), "a".into()], true, 6));
    req.sort_order = SortOrder::Ascend;
    assert_eq!(keys(&s.range(&req).expect("ascending")), vec!["b", "d", "e"]);
    req.limit = 6;
    req.sort_order = SortOrder::None;
    let r = s.range(&req).expect("all");
    assert_eq!(
        (keys(&r), r.more),
        (vec!["b".into(), "d".into(), "e".into(), "f".into(), "a".into(), "c".into()], false)
    );
}

#[test]
fn range_limit_count_sort_and_filters() {
    let mut s = store();
    for (k, v) in [("k1", "c"), ("k2", "a"), ("k3", "b"), ("z", "z")] {
        put(&mut s, k, v);
    }
    put(&mut s, "k2", "a2");
    let mut req = RangeRequest { key: b"k".to_vec(), range_end: b"l".to_vec(), limit: 2, ..Default::default() };
    let r = s.range(&req).expect("range");
    assert_eq!((keys(&r), r.more, r.count), (vec!["k1".into(), "k2".into()], true, 3));

    req.limit = 0;
    req.sort_order = SortOrder::Descend;
    req.sort_target = SortTarget::Value;
    assert_eq!(keys(&s.range(&req).expect("sorted")), vec!["k1", "k3", "k2"]);

    req.sort_order = SortOrder::None;
    req.sort_target = SortTarget::Version;
    let r = s.range(&req).expect("version sort ascends");
    assert_eq!(keys(&r), vec!["k1", "k3", "k2"]);

    let r = s
        .range(&RangeRequest {
            key: b"k".to_vec(),
            range_end: b"l".to_vec(),
            min_mod_revision: 4,
            ..Default::default()
        })
        .expect("filtered");
    assert_eq!((keys(&r), r.count), (vec!["k2".to_string(), "k3".to_string()], 3), "filters do not change count");

    let all = get(&s, "\0", "\0", 0).expect("all keys");
    assert_eq!(all.count, 4);
    let from = get(&s, "k3", "\0", 0).expect("from key");
    assert_eq!(keys(&from), vec!["k3", "z"]);

    let co = s
        .range(&RangeRequest { key: b"k".to_vec(), range_end: b"l".to_vec(), count_only: true, ..Default::default() })
        .expect("count only");
    assert!(co.kvs.is_empty() && co.count == 3);
    let ko = s.range(&RangeRequest { key: b"k1".to_vec(), keys_only: true, ..Default::default() }).expect("keys only");
    assert!(ko.kvs[0].value.is_empty() && ko.kvs[0].version == 1);
}

/// A store where `a` was put twice (revisions 2, 3) and `b` put and deleted (4, 5).
fn overwritten_and_deleted() -> Store {
    let mut s = store();
    put(&mut s, "a", "1");
    put(&mut s, "a", "2");
    put(&mut s, "b", "1");
    del(&mut s, "b", "");
    s
}

#[test]
fn compaction_rules() {
    let mut s = overwritten_and_deleted();
    assert_eq!(get(&s, "a", "", 6), Err(Error::FutureRevision));
    let compact = |s: &mut Store, rev| change(s, |w| w.compact(&CompactRequest { revision: rev, physical: true }));
    assert_eq!(compact(&mut s, 6), Err(Error::FutureRevision));
    compact(&mut s, 4).expect("compact");
    assert_eq!(compact(&mut s, 4), Err(Error::Compacted));
    assert_eq!(get(&s, "a", "", 2), Err(Error::Compacted));
    // Reading exactly at the compaction revision still works.
    assert_eq!(get(&s, "a", "", 4).expect("at compact rev").kvs[0].value, b"2");
    assert_eq!(get(&s, "b", "", 4).expect("b at 4").kvs.len(), 1);
    compact(&mut s, 5).expect("compact to 5");
    assert!(get(&s, "b", "", 5).expect("b gone").kvs.is_empty());
    assert_eq!(s.current_revision(), 5, "compaction never advances the revision");
}

#[test]
fn txn_one_revision_reads_own_writes_and_fails_whole() {
    let mut s = store();
    put(&mut s, "k", "v"); // 2
    let cmp = |result, target| Compare { result, target, key: b"k".to_vec(), range_end: vec![] };
    let txn = TxnRequest {
        compare: vec![
            cmp(CompareResult::Equal, CompareTarget::Value(b"v".to_vec())),
            cmp(CompareResult::Greater, CompareTarget::Create(1)),
        ],
        success: vec![
            RequestOp::Put(PutRequest { key: b"x".to_vec(), value: b"1".to_vec(), ..Default::default() }),
            RequestOp::Put(PutRequest { key: b"y".to_vec(), value: b"2".to_vec(), ..Default::default() }),
            RequestOp::Range(RangeRequest { key: b"x".to_vec(), ..Default::default() }),
        ],
        failure: vec![],
    };
    let r = change(&mut s, |w| w.txn(&txn)).expect("txn");
    assert!(r.succeeded);
    assert_eq!(r.revision, 3, "all writes share one revision");
    let ResponseOp::Range(read) = &r.responses[2] else { panic!("third response is a range") };
    assert_eq!(read.kvs[0].value, b"1", "the txn reads its own write");
    assert_eq!(get(&s, "y", "", 0).expect("y").kvs[0].mod_revision, 3);

    // A failing compare with a read-only failure branch changes nothing.
    let ro = TxnRequest {
        compare: vec![cmp(CompareResult::Equal, CompareTarget::Version(9))],
        success: vec![],
        failure: vec![RequestOp::Range(RangeRequest { key: b"k".to_vec(), ..Default::default() })],
    };
    let r = change(&mut s, |w| w.txn(&ro)).expect("read-only txn");
    assert!(!r.succeeded && r.revision == 3);

    // A put with ignore_value on a missing key fails the whole txn before anything lands.
    let bad = TxnRequest {
        compare: vec![],
        success: vec![
            RequestOp::Put(PutRequest { key: b"n1".to_vec(), value: b"1".to_vec(), ..Default::default() }),
            RequestOp::Put(PutRequest { key: b"missing".to_vec(), ignore_value: true, ..Default::default() }),
        ],
        failure: vec![],
    };
    assert_eq!(change(&mut s, |w| w.txn(&bad)), Err(Error::KeyNotFound));
    assert!(get(&s, "n1", "", 0).expect("n1").kvs.is_empty());
    assert_eq!(s.current_revision(), 3);
}

#[test]
fn calls_are_counted_as_etcd_counts_them() {
    let mut s = store();
    let totals = |s: &Store| s.op_counts().totals();
    let plain = PutRequest { key: b"k".to_vec(), value: b"val".to_vec(), ..Default::default() };
    change(&mut s, |w| w.put(&plain)).expect("put");
    assert_eq!(totals(&s), OpTotals { puts: 1, put_bytes: 4, ..OpTotals::default() }, "one call, no txn");

    put(&mut s, "k", "v2"); // prev_kv: etcd reads the old value with a range of the change
    assert_eq!((totals(&s).ranges, totals(&s).puts, totals(&s).txns), (1, 2, 1));

    get(&s, "k", "", 0).expect("get");
    del(&mut s, "nothing", "");
    let t = totals(&s);
    assert_eq!((t.ranges, t.deletes, t.txns), (2, 1, 1), "a range and a delete of no key are one call each");

    let cmp = |target| Compare { result: CompareResult::Equal, target, key: b"k".to_vec(), range_end: vec![] };
    let writing = TxnRequest {
        compare: vec![cmp(CompareTarget::Value(b"v2".to_vec())), cmp(CompareTarget::Version(2))],
        success: vec![RequestOp::Put(PutRequest { key: b"x".to_vec(), value: b"1".to_vec(), ..Default::default() })],
        failure: vec![],
    };
    change(&mut s, |w| w.txn(&writing)).expect("txn");
    let t = totals(&s);
    assert_eq!((t.ranges, t.puts, t.txns), (4, 3, 2), "two compares read apart (a txn), then one put (not one)");

    let reading = TxnRequest {
        compare: vec![cmp(CompareTarget::Version(2))],
        success: vec![RequestOp::Range(RangeRequest { key: b"k".to_vec(), ..Default::default() })],
        failure: vec![],
    };
    change(&mut s, |w| w.txn(&reading)).expect("read-only txn");
    let t = totals(&s);
    assert_eq!((t.ranges, t.txns), (6, 3), "a compare and a range read as one txn");
}

#[test]
fn range_compare_needs_every_key() {
    let mut s = store();
    put(&mut s, "p/a", "1");
    put(&mut s, "p/b", "2");
    let txn = |v: i64| TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Greater,
            target: CompareTarget::Mod(v),
            key: b"p/".to_vec(),
            range_end: b"p0".to_vec(),
        }],
        success: vec![],
        failure: vec![],
    };
    assert!(change(&mut s, |w| w.txn(&txn(1))).expect("txn").succeeded);
    assert!(!change(&mut s, |w| w.txn(&txn(2))).expect("txn").succeeded);
}

#[test]
fn put_with_unknown_lease_or_ignore_flags_on_missing_key() {
    let mut s = store();
    let lease = PutRequest { key: b"k".to_vec(), lease: 5, ..Default::default() };
    assert_eq!(change(&mut s, |w| w.put(&lease)), Err(Error::LeaseNotFound));
    let ign = PutRequest { key: b"k".to_vec(), ignore_lease: true, ..Default::default() };
    assert_eq!(change(&mut s, |w| w.put(&ign)), Err(Error::KeyNotFound));
    put(&mut s, "k", "v");
    let keep = PutRequest { key: b"k".to_vec(), ignore_value: true, ..Default::default() };
    change(&mut s, |w| w.put(&keep)).expect("ignore_value on existing key");
    assert_eq!(get(&s, "k", "", 0).expect("k").kvs[0].value, b"v");
}

#[test]
fn reopen_rebuilds_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let revs = {
        let b = Arc::new(SledBackend::open(dir.path()).expect("open"));
        let mut s = MvccStore::open(b.clone(), Revisions::default()).expect("store");
        put(&mut s, "a", "1");
        put(&mut s, "a", "2");
        del(&mut s, "a", "");
        put(&mut s, "b", "1");
        change(&mut s, |w| w.compact(&CompactRequest { revision: 3, physical: false })).expect("compact");
        let revs = s.revisions();
        // A change the crash interrupted: its record landed, its revisions did not.
        put(&mut s, "c", "unfinished");
        b.flush().expect("flush");
        revs
    };
    let s = MvccStore::open(Arc::new(SledBackend::open(dir.path()).expect("reopen")), revs).expect("store");
    assert!(get(&s, "c", "", 0).expect("c").kvs.is_empty(), "records above the current revision are dropped");
    assert_eq!((s.current_revision(), s.compacted_revision()), (5, 3));
    assert_eq!(get(&s, "a", "", 3).expect("a at 3").kvs[0].value, b"2");
    assert!(get(&s, "a", "", 0).expect("a now").kvs.is_empty());
    assert_eq!(get(&s, "a", "", 2), Err(Error::Compacted));
    assert_eq!(s.key_count(), 1);
    // The next put of "b" continues its create revision and version from the records.
    let mut s = s;
    put(&mut s, "b", "2");
    let kv = &get(&s, "b", "", 0).expect("b").kvs[0];
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (5, 6, 2));
}

/// Reads `req` page by page (`max` key-values each) and merges the pages into one answer.
fn paged(s: &Store, req: &RangeRequest, max: usize) -> crate::error::Result<(RangeResponse, usize)> {
    let mut cursor = RangeCursor::new(s, req.clone())?;
    let mut merged = RangeResponse::default();
    let mut pages = 0;
    loop {
        let page = cursor.next_page(s, max)?;
        pages += 1;
        merged.kvs.extend(page.kvs);
        if let Some(sum) = page.summary {
            (merged.revision, merged.count, merged.more) = (sum.revision, sum.count, sum.more);
            return Ok((merged, pages));
        }
    }
}

#[test]
fn paged_ranges_merge_into_the_unary_answer() {
    let mut s = store();
    for i in 0..50 {
        put(&mut s, &format!("k{i:02}"), &format!("v{i}"));
    }
    put(&mut s, "k07", "again");
    del(&mut s, "k10", "k15");
    let at = s.current_revision();
    put(&mut s, "k99", "later");
    let base = RangeRequest { key: "k".into(), range_end: "l".into(), ..Default::default() };
    let cases = [
        base.clone(),
        RangeRequest { limit: 7, ..base.clone() },
        RangeRequest { keys_only: true, ..base.clone() },
        RangeRequest { count_only: true, ..base.clone() },
        RangeRequest { min_mod_revision: 40, ..base.clone() },
        RangeRequest { min_mod_revision: 40, limit: 3, ..base.clone() },
        RangeRequest { revision: at, ..base.clone() },
        RangeRequest { key: "k07".into(), ..Default::default() },
        RangeRequest { key: "zz".into(), range_end: vec![0], ..Default::default() },
    ];
    for req in cases {
        let unary = s.range(&req).expect("range");
        for max in [1, 3, 100] {
            let (merged, pages) = paged(&s, &req, max).expect("paged");
            assert_eq!(merged, unary, "{req:?} in pages of {max}");
            if max == 1 && !req.count_only && req.limit == 0 {
                assert!(pages > unary.kvs.len(), "one key per page: {pages} pages");
            }
        }
    }
    let sorted = RangeRequest { sort_order: SortOrder::Descend, ..base };
    assert_eq!(RangeCursor::new(&s, sorted).err(), Some(Error::StreamSortUnsupported));
}

#[test]
fn a_paged_read_fails_once_its_revision_is_compacted() {
    let mut s = store();
    for i in 0..10 {
        put(&mut s, &format!("k{i}"), "v");
    }
    let req = RangeRequest { key: "k".into(), range_end: "l".into(), ..Default::default() };
    let mut cursor = RangeCursor::new(&s, req).expect("cursor");
    assert_eq!(cursor.next_page(&s, 2).expect("first page").kvs.len(), 2);
    put(&mut s, "k0", "newer");
    let revision = s.current_revision();
    change(&mut s, |w| w.compact(&CompactRequest { revision, physical: false })).expect("compact");
    assert_eq!(cursor.next_page(&s, 2).err(), Some(Error::Compacted));
}

#[test]
fn page_sizes_adapt_to_value_sizes() {
    let mut sizer = PageSizer::new(1000);
    let first = sizer.keys();
    sizer.observe(100);
    assert_eq!(sizer.keys(), first * 2, "small pages grow");
    sizer.observe(5000);
    assert_eq!(sizer.keys(), first, "large pages shrink");
    sizer.observe(700);
    assert_eq!(sizer.keys(), first, "pages near the target stay");
}

#[test]
fn a_snapshot_encoded_as_its_records_are_read_equals_one_read_into_memory_first() {
    use crate::raft::types::{decode, encode};
    let mut s = store();
    for i in 0..50 {
        put(&mut s, &format!("k{i:02}"), &"v".repeat(i * 7));
    }
    del(&mut s, "k1", "k2");
    put(&mut s, "k05", "later");
    // At the delete's revision: the deleted keys' puts and tombstones go.
    change(&mut s, |w| w.compact(&CompactRequest { revision: 52, physical: true })).expect("compact");
    // Not swept yet: the export skips the discarded records.
    assert!(s.has_discarded());
    let mut read = s.export();
    read.read_records(&**s.backend(), &s.discarded_view()).expect("read records");
    assert_eq!(read.records.len(), 50 + 10 + 1 - 20, "puts, tombstones, the last put, less the compacted");

    assert_eq!(s.record_count(), read.records.len(), "the index knows how many records there are");

    let scanned = s.export().scanning(&**s.backend(), s.record_count(), s.discarded_view());
    let encoded = encode(&scanned).expect("encode while scanning");
    assert_eq!(encoded, encode(&read).expect("encode"), "same bytes either way");
    let decoded: MvccSnapshot = decode(&encoded).expect("decode");
    assert_eq!(decoded.records, read.records);
    assert_eq!((decoded.current(), decoded.compacted()), (read.current(), read.compacted()));
}

#[test]
fn a_snapshot_whose_records_do_not_match_their_count_fails_to_encode() {
    use crate::raft::types::encode;
    let mut s = store();
    put(&mut s, "a", "1");
    put(&mut s, "b", "2");
    for wrong in [1, 3] {
        let scanned = s.export().scanning(&**s.backend(), wrong, s.discarded_view());
        assert!(encode(&scanned).is_err(), "{wrong} records claimed, 2 stored");
    }
}

#[test]
fn compacted_records_stay_invisible_until_swept_and_a_reopened_store_finds_them_again() {
    let mut s = overwritten_and_deleted();
    put(&mut s, "c", "1"); // 6
    let hash_before = s.hash_kv(0).expect("hash_kv");
    let mut events_before = Vec::new();
    s.changes(5, 6, &mut |r| events_before.push(r.kv.mod_revision)).expect("changes");
    change(&mut s, |w| w.compact(&CompactRequest { revision: 5, physical: true })).expect("compact");

    // a@2 and all of b (its put and the tombstone at 5) are discarded, still stored.
    assert_eq!(stored(&s).len(), 5, "nothing is removed by the compaction itself");
    assert!(s.has_discarded());
    assert_eq!(s.discarded(10), [Revision::new(2, 0), Revision::new(4, 0), Revision::new(5, 0)]);
    assert_eq!(s.physically_compacted(), 1, "a@2 is left, so nothing at or above 2 is done");
    assert_eq!(s.record_count(), 2, "the index keeps a@3 and c@6");
    let unswept = (s.hash_kv(0).expect("hash_kv"), s.hash().expect("hash"));
    let mut events = Vec::new();
    s.changes(5, 6, &mut |r| events.push(r.kv.mod_revision)).expect("changes");
    assert_eq!(events, [6], "the discarded tombstone at 5 is not replayed");
    assert_eq!(events_before, [5, 6]);
    assert_ne!(unswept.0, hash_before, "the compacted history is not hashed");

    // A crash before the sweep: the reopened store discards the same records.
    let reopened = MvccStore::open(s.backend().clone(), s.revisions()).expect("reopen");
    assert_eq!(reopened.discarded(10), s.discarded(10));
    assert_eq!(reopened.record_count(), 2);
    assert_eq!((reopened.hash_kv(0).expect("hash_kv"), reopened.hash().expect("hash")), unswept);
    assert_eq!(get(&reopened, "a", "", 5).expect("get").kvs[0].value, b"2");
    assert_eq!(get(&reopened, "b", "", 0).expect("get").kvs.len(), 0);

    sweep(&mut s);
    assert_eq!(stored(&s), [(3, b"a".to_vec()), (6, b"c".to_vec())]);
    assert_eq!((s.hash_kv(0).expect("hash_kv"), s.hash().expect("hash")), unswept, "sweeping changes no hash");
    assert_eq!(s.physically_compacted(), 5);
    let reopened = MvccStore::open(s.backend().clone(), s.revisions()).expect("reopen");
    assert!(!reopened.has_discarded());
    assert_eq!(reopened.physically_compacted(), 5);
}
