//! txn input parsing checked against etcdctl 3.4.23's behaviour.

use etcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcd_proto::etcdserverpb::request_op::Request;

use super::*;

fn read(input: &str) -> Result<TxnRequest, CtlError> {
    read_txn(&mut input.as_bytes(), &mut |_: &str| {})
}

fn message(err: CtlError) -> (i32, String) {
    (err.code(), err.stderr_text())
}

#[test]
fn reads_three_blocks() {
    let txn = read("value(\"k1\") = \"v1\"\n\nput k2 v2\nget k1\ndel k3\n\nput k4 v4\n\n");
    let txn = txn.unwrap_or_default();
    assert_eq!(txn.compare.len(), 1);
    assert_eq!(txn.success.len(), 3);
    assert_eq!(txn.failure.len(), 1);
    let c = &txn.compare[0];
    assert_eq!(c.key, b"k1");
    assert_eq!(c.target, CompareTarget::Value as i32);
    assert_eq!(c.result, CompareResult::Equal as i32);
    assert_eq!(c.target_union, Some(TargetUnion::Value(b"v1".to_vec())));
    assert!(matches!(
        &txn.success[1].request,
        Some(Request::RequestRange(r)) if r.key == b"k1"
    ));
}

#[test]
fn prompts_come_before_each_block() {
    let mut prompts = Vec::new();
    let res = read_txn(&mut "\n\n\n".as_bytes(), &mut |p: &str| prompts.push(p.to_string()));
    assert!(res.is_ok());
    assert_eq!(prompts, ["compares:", "success requests (get, put, del):", "failure requests (get, put, del):"]);
}

#[test]
fn missing_final_newline_is_eof() {
    let err = read("\n\nput k4 v4\n").err().map(message);
    assert_eq!(err, Some((3, "Error: EOF\n".to_string())));
}

#[test]
fn numeric_compares() {
    let txn = read("mod(\"k1\") > \"0\"\nver(\"k1\") != \"1\"\nc(\"k\") < \"5\"\n\n\n\n").unwrap_or_default();
    let unions: Vec<_> = txn.compare.iter().map(|c| c.target_union.clone()).collect();
    assert_eq!(
        unions,
        [Some(TargetUnion::ModRevision(0)), Some(TargetUnion::Version(1)), Some(TargetUnion::CreateRevision(5))]
    );
    assert_eq!(txn.compare[1].result, CompareResult::NotEqual as i32);
}

#[test]
fn compare_errors_match_etcdctl() {
    let cases = [
        ("bogus", "Error: malformed comparison: bogus\n"),
        ("value(\"foo\")=\"bar\"", "Error: malformed comparison: value(\"foo\")=\"bar\"; got value(\"foo\")  \"\"\n"),
        ("value(\"foo\") = bar", "Error: malformed comparison: value(\"foo\") = bar; got value(\"foo\") = \"\"\n"),
        ("value(foo) = \"bar\"", "Error: malformed comparison: value(foo) = \"bar\"; got value(\"\")  \"\"\n"),
        (
            "value(\"foo) = \"bar\"",
            "Error: malformed comparison: value(\"foo) = \"bar\"; got value(\"foo) = \")  \"\"\n",
        ),
        ("vx(\"foo\") = \"bar\"", "Error: malformed comparison: vx(\"foo\") = \"bar\" (unknown target vx)\n"),
        ("ver(\"foo\") = \"x\"", "Error: invalid txn compare request: ver(\"foo\") = \"x\"\n"),
    ];
    for (line, want) in cases {
        let got = parse_compare(line.as_bytes()).err().map(message);
        assert_eq!(got, Some((3, want.to_string())), "{line}");
    }
}

#[test]
fn compare_quirks() {
    let ok = |line: &str| parse_compare(line.as_bytes()).ok().map(|c| c.key);
    assert_eq!(ok("value(\"foo\") = \"bar\" trailing"), Some(b"foo".to_vec()));
    assert_eq!(ok("value(`fo\"o`) != \"bar\""), Some(b"fo\"o".to_vec()));
    assert_eq!(ok("value(\"foo\")\t=\t`bar`"), Some(b"foo".to_vec()));
    let panic = |line: &str| parse_compare(line.as_bytes()).err();
    assert_eq!(panic("value(\"foo\") ~ \"bar\""), Some(CtlError::Panic("Unknown result op".into())));
    assert_eq!(panic("lease(\"foo\") = \"1\""), Some(CtlError::Panic("bad value".into())));
}

#[test]
fn argify_splits_and_unquotes() {
    let args = argify(b"put \"a b\" \"c\\td\" --prev-kv").unwrap_or_default();
    assert_eq!(args, [&b"put"[..], b"a b", b"c\td", b"--prev-kv"]);
    assert_eq!(argify(b"put x \"bad\\q\"").err().map(message), Some((3, "Error: invalid syntax\n".to_string())));
}

#[test]
fn argify_keeps_etcdctls_single_quote_bug() {
    // 3 arguments: 'abcdefgh'[1:2] == "a".
    let args = argify(b"put 'abcdefgh' v").unwrap_or_default();
    assert_eq!(args[1], b"a");
    assert_eq!(
        argify(b"put 'a' 1 2 3 4").err(),
        Some(CtlError::Panic("runtime error: slice bounds out of range [:5] with length 3".into()))
    );
}

#[test]
fn request_lines() {
    let op = parse_request(b"g k2").ok().and_then(|op| op.request);
    assert!(matches!(op, Some(Request::RequestRange(r)) if r.key == b"k2"));
    let op = parse_request(b"put --prev-kv x v").ok().and_then(|op| op.request);
    assert!(matches!(op, Some(Request::RequestPut(p)) if p.prev_kv && p.value == b"v"));
    let op = parse_request(b"del k --prefix").ok().and_then(|op| op.request);
    assert!(matches!(op, Some(Request::RequestDeleteRange(d)) if d.range_end == b"l"));
}

#[test]
fn request_line_errors() {
    assert_eq!(parse_request(b"get").err().map(message), Some((3, "Error: invalid txn compare request: get\n".into())));
    assert_eq!(parse_request(b"foo bar").err().map(message), Some((3, "Error: invalid txn request: foo bar\n".into())));
    assert_eq!(
        parse_request(b"put k").err().map(message),
        Some((128, "Error: put command needs 1 argument and input from stdin or 2 arguments\n".into()))
    );
    let usage = parse_request(b"del x --bogus").err().map(message);
    assert_eq!(usage, Some((3, format!("{DEL_USAGE}Error: invalid txn request: del x --bogus\n"))));
}
