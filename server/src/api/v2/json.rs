//! The JSON etcd's v2 API writes: events, nodes and errors, with Go's field order and
//! `omitempty` rules.

use serde::Serialize;

use crate::api::go_json::escape_html;
use crate::calendar::civil_from_days;
use std::borrow::Cow;

use crate::v2store::{Event, NodeView, V2Error, text};

/// A node on the wire.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Node<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    ttl: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<Node<'a>>,
    #[serde(skip_serializing_if = "is_zero_u")]
    modified_index: u64,
    #[serde(skip_serializing_if = "is_zero_u")]
    created_index: u64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u(v: &u64) -> bool {
    *v == 0
}

impl<'a> Node<'a> {
    fn new(n: &'a NodeView, now_ms: u64) -> Self {
        Node {
            key: &n.key,
            value: n.value.as_deref().map(text),
            dir: n.dir,
            expiration: n.expire_at.map(rfc3339),
            ttl: n.expire_at.map_or(0, |t| ttl_seconds(t, now_ms)),
            nodes: n.nodes.iter().flatten().map(|c| Node::new(c, now_ms)).collect(),
            modified_index: n.modified_index,
            created_index: n.created_index,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<Node<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_node: Option<Node<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorJson<'a> {
    error_code: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cause: &'a str,
    index: u64,
}

/// Whole seconds left, rounded up (etcd's `ttl`); 0 or less is left out.
fn ttl_seconds(expire_at: u64, now_ms: u64) -> i64 {
    let left = i128::from(expire_at) - i128::from(now_ms);
    i64::try_from((left + 999).div_euclid(1000)).unwrap_or(0)
}

/// An event as a response body: JSON and a newline. `nodes_too = false` leaves out
/// the nodes (`noValueOnSuccess`).
pub fn event(e: &Event, now_ms: u64, nodes_too: bool) -> String {
    let body = EventJson {
        action: e.action.as_str(),
        node: nodes_too.then(|| Node::new(&e.node, now_ms)),
        prev_node: e.prev_node.as_ref().filter(|_| nodes_too).map(|p| Node::new(p, now_ms)),
    };
    line(&body)
}

/// A v2 error as a response body.
pub fn error(e: &V2Error) -> String {
    line(&ErrorJson { error_code: e.code.number(), message: e.code.message(), cause: &e.cause, index: e.index })
}

/// `value` as JSON followed by a newline, as Go's `json.Encoder` writes it (HTML
/// characters escaped).
pub fn line<T: Serialize>(value: &T) -> String {
    let s = serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"message\":\"{e}\"}}"));
    let mut s = escape_html(s);
    s.push('\n');
    s
}

/// Milliseconds since the Unix epoch as Go's RFC 3339 with nanoseconds, in UTC, trailing
/// zeros of the fraction dropped.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let frac = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if frac != 0 {
        let f = format!("{frac:03}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2store::Action;

    #[test]
    fn times_print_like_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_200_120), "2024-03-01T00:00:00.12Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(ttl_seconds(10_001, 0), 11);
        assert_eq!(ttl_seconds(10_000, 0), 10);
        assert_eq!(ttl_seconds(5, 10), 0);
    }

    #[test]
    fn events_have_etcds_shape() {
        let node = NodeView {
            key: "/message".into(),
            value: Some("Hello world".into()),
            modified_index: 4,
            created_index: 4,
            ..NodeView::default()
        };
        let prev = NodeView { value: Some("Hello etcd".into()), modified_index: 3, created_index: 3, ..node.clone() };
        let e = Event { action: Action::Set, node, prev_node: Some(prev), index: 4, refresh: false };
        assert_eq!(
            event(&e, 0, true),
            "{\"action\":\"set\",\"node\":{\"key\":\"/message\",\"value\":\"Hello world\",\"modifiedIndex\":4,\
             \"createdIndex\":4},\"prevNode\":{\"key\":\"/message\",\"value\":\"Hello etcd\",\"modifiedIndex\":3,\
             \"createdIndex\":3}}\n"
        );
        assert_eq!(event(&e, 0, false), "{\"action\":\"set\"}\n");
        let err = V2Error::new(crate::v2store::Code::NodeExist, "/foo", 39776);
        assert_eq!(
            error(&err),
            "{\"errorCode\":105,\"message\":\"Key already exists\",\"cause\":\"/foo\",\"index\":39776}\n"
        );
    }
}
