//! JSON in and out, as etcd's gateway (grpc-gateway's `JSONPb` marshaler with
//! `OrigName`) reads and writes it. The field-level rules (proto names, 64-bit integers
//! as strings, bytes as base64, enums by name, defaults omitted) are in the serde impls
//! that `etcd-proto` generates with pbjson; this module adds what Go's decoder and
//! encoder do around them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::Status;

use super::syntax::{Scan, scan};
use crate::api::go_json::escape_html;

/// One request message from `buf`, which holds a whole body.
///
/// As the gateway: an empty body is the empty request, `null` too, only the first
/// value counts (trailing bytes are not read), and anything but an object is refused.
pub fn decode<T: DeserializeOwned + Default>(buf: &[u8]) -> Result<T, Status> {
    match scan(buf, true) {
        Scan::Value(end) => decode_value(&buf[..end]),
        Scan::Empty => Ok(T::default()),
        Scan::Truncated => Err(Status::invalid_argument("unexpected EOF")),
        Scan::NeedMore => Err(Status::internal("etcd-rs: scanner asked for more of a whole body")),
        Scan::Error(m) => Err(Status::invalid_argument(m)),
    }
}

/// Decodes one complete, well-formed JSON value.
pub fn decode_value<T: DeserializeOwned + Default>(value: &[u8]) -> Result<T, Status> {
    let first = value.iter().copied().find(|c| !c.is_ascii_whitespace());
    let kind = match first {
        Some(b'{') => return serde_json::from_slice(value).map_err(|e| Status::invalid_argument(go_message(e))),
        Some(b'n') => return Ok(T::default()),
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "bool",
        _ => "number",
    };
    // jsonpb first reads the object into a map of raw fields.
    Err(Status::invalid_argument(format!(
        "json: cannot unmarshal {kind} into Go value of type map[string]json.RawMessage"
    )))
}

/// The Go type of each enum a request can hold, by its value names in declaration
/// order (which serde lists when a value is unknown).
const ENUMS: &[(&[&str], &str)] = &[
    (&["NONE", "ASCEND", "DESCEND"], "etcdserverpb.RangeRequest_SortOrder"),
    (&["KEY", "VERSION", "CREATE", "MOD", "VALUE"], "etcdserverpb.RangeRequest_SortTarget"),
    (&["EQUAL", "GREATER", "LESS", "NOT_EQUAL"], "etcdserverpb.Compare_CompareResult"),
    (&["VERSION", "CREATE", "MOD", "VALUE", "LEASE"], "etcdserverpb.Compare_CompareTarget"),
    (&["NOPUT", "NODELETE"], "etcdserverpb.WatchCreateRequest_FilterType"),
    (&["GET", "ACTIVATE", "DEACTIVATE"], "etcdserverpb.AlarmRequest_AlarmAction"),
    (&["NONE", "NOSPACE", "CORRUPT"], "etcdserverpb.AlarmType"),
];

/// What jsonpb says where serde says `e`: for an unknown enum value name, jsonpb's
/// `unknown value "X" for enum <Go type>`; otherwise serde's own words.
fn go_message(e: serde_json::Error) -> String {
    let text = e.to_string();
    // serde: "unknown variant `X`, expected `A` or `B`" (or "expected one of `A`, `B`, `C`"),
    // then serde_json's " at line L column C".
    let unknown = text.strip_prefix("unknown variant `").and_then(|rest| rest.split_once("`, expected "));
    let Some((value, expected)) = unknown else { return text };
    let expected = expected.rsplit_once(" at line ").map_or(expected, |(list, _)| list);
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match ENUMS.iter().find(|(known, _)| *known == names.as_slice()) {
        Some((_, go_type)) => format!("unknown value {} for enum {go_type}", quote(value)),
        None => text,
    }
}

/// A message as the gateway renders it.
pub fn encode<T: Serialize>(msg: &T) -> String {
    match serde_json::to_string(msg) {
        Ok(s) => escape_html(s),
        // The generated impls do not fail; say so rather than panic if one ever does.
        Err(e) => format!(r#"{{"error":{}}}"#, quote(&e.to_string())),
    }
}

/// `s` as a JSON string, the way Go's encoder writes it.
pub fn quote(s: &str) -> String {
    escape_html(serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\"")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_proto::etcdserverpb::{
        AlarmRequest, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, WatchRequest, range_request::SortOrder,
    };
    use etcd_proto::mvccpb::{Event, KeyValue, event::EventType};

    #[test]
    fn renders_as_etcds_gateway() {
        let resp = RangeResponse {
            header: Some(ResponseHeader { cluster_id: u64::MAX, member_id: 1, revision: 3, raft_term: 0 }),
            kvs: vec![KeyValue { key: b"foo".to_vec(), value: vec![0xff], mod_revision: 3, ..Default::default() }],
            count: 1,
            more: false,
        };
        assert_eq!(
            encode(&resp),
            r#"{"header":{"cluster_id":"18446744073709551615","member_id":"1","revision":"3"},"kvs":[{"key":"Zm9v","mod_revision":"3","value":"/w=="}],"count":"1"}"#
        );
        let ev = Event { r#type: EventType::Delete as i32, kv: Some(KeyValue::default()), prev_kv: None };
        assert_eq!(encode(&ev), r#"{"type":"DELETE","kv":{}}"#);
        assert_eq!(quote("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
    }

    #[test]
    fn reads_as_etcds_gateway() {
        let r: RangeRequest =
            decode(br#"{"key":"Zm9v","limit":"2","revision":5,"sort_order":"DESCEND","rangeEnd":"AA==","x":1}"#)
                .expect("decodes");
        assert_eq!((r.key.as_slice(), r.limit, r.revision), (&b"foo"[..], 2, 5));
        assert_eq!((r.sort_order, r.range_end), (SortOrder::Descend as i32, vec![0]));
        assert_eq!(decode::<RangeRequest>(b"").expect("empty"), RangeRequest::default());
        assert_eq!(decode::<RangeRequest>(b"null").expect("null"), RangeRequest::default());
        let e = decode::<RangeRequest>(b"[]").expect_err("array");
        assert_eq!(e.message(), "json: cannot unmarshal array into Go value of type map[string]json.RawMessage");
        assert_eq!(decode::<RangeRequest>(b"{\"key\":").expect_err("cut").message(), "unexpected EOF");
    }

    #[test]
    fn unknown_enum_values_are_named_as_jsonpb_names_them() {
        let e = decode::<RangeRequest>(br#"{"sort_order":"UP"}"#).expect_err("unknown order");
        assert_eq!(e.message(), r#"unknown value "UP" for enum etcdserverpb.RangeRequest_SortOrder"#);
        let e = decode::<RangeRequest>(br#"{"sort_target":"NAME"}"#).expect_err("unknown target");
        assert_eq!(e.message(), r#"unknown value "NAME" for enum etcdserverpb.RangeRequest_SortTarget"#);
        let e = decode::<TxnRequest>(br#"{"compare":[{"target":"SIZE"}]}"#).expect_err("unknown compare target");
        assert_eq!(e.message(), r#"unknown value "SIZE" for enum etcdserverpb.Compare_CompareTarget"#);
        let e = decode::<TxnRequest>(br#"{"compare":[{"result":"BIG"}]}"#).expect_err("unknown compare result");
        assert_eq!(e.message(), r#"unknown value "BIG" for enum etcdserverpb.Compare_CompareResult"#);
        let e = decode::<WatchRequest>(br#"{"create_request":{"filters":["NOPUT","X"]}}"#).expect_err("filter");
        assert_eq!(e.message(), r#"unknown value "X" for enum etcdserverpb.WatchCreateRequest_FilterType"#);
        let e = decode::<AlarmRequest>(br#"{"action":"BOGUS"}"#).expect_err("unknown action");
        assert_eq!(e.message(), r#"unknown value "BOGUS" for enum etcdserverpb.AlarmRequest_AlarmAction"#);
        let e = decode::<AlarmRequest>(br#"{"alarm":"FULL"}"#).expect_err("unknown alarm");
        assert_eq!(e.message(), r#"unknown value "FULL" for enum etcdserverpb.AlarmType"#);
        // Other type errors keep serde's words.
        let e = decode::<RangeRequest>(br#"{"keys_only":"yes"}"#).expect_err("not a bool");
        assert!(e.message().starts_with("invalid type: string"), "{}", e.message());
    }
}
