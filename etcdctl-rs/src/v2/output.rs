//! What the v2 commands print: the Go client's `Response` in etcdctl's `simple`,
//! `extended` and `json` formats.

use serde_json::Value;

use super::http::Reply;
use crate::go::json::{Object, string};

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The value (or `PrevNode.Value:` for deletions).
    Simple,
    /// RFC 2822 style fields, then the value.
    Extended,
    /// The Go client's response, re-encoded.
    Json,
    /// Anything else: etcdctl says so on stderr.
    Unknown(&'static str),
}

impl Format {
    /// Parses `-o`.
    pub fn parse(s: &str) -> Self {
        match s {
            "simple" => Format::Simple,
            "extended" => Format::Extended,
            "json" => Format::Json,
            _ => Format::Unknown("unsupported"),
        }
    }
}

/// A key response: the event and the store index from `X-Etcd-Index`.
pub struct Response {
    event: Value,
    index: u64,
}

/// A successful key response, or the error text etcdctl prints (empty for an empty body,
/// which watchers retry).
pub fn response(reply: Reply) -> Result<Response, String> {
    if reply.body.is_empty() {
        return Err(String::new());
    }
    let Ok(v) = serde_json::from_slice::<Value>(&reply.body) else {
        return Err(
            "Error:  client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.\n"
                .into(),
        );
    };
    if (200..300).contains(&reply.status) {
        return Ok(Response { event: v, index: reply.index });
    }
    Err(format!(
        "Error:  {}: {} ({}) [{}]\n",
        v["errorCode"].as_u64().unwrap_or(0),
        v["message"].as_str().unwrap_or_default(),
        v["cause"].as_str().unwrap_or_default(),
        v["index"].as_u64().unwrap_or(0)
    ))
}

impl Response {
    /// The event's action.
    pub fn action(&self) -> &str {
        self.event["action"].as_str().unwrap_or_default()
    }

    /// A string field of the node.
    pub fn node_str(&self, field: &str) -> &str {
        self.event["node"][field].as_str().unwrap_or_default()
    }

    /// A boolean field of the node.
    pub fn node_bool(&self, field: &str) -> bool {
        self.event["node"][field].as_bool().unwrap_or(false)
    }

    /// The node's modified index.
    pub fn modified_index(&self) -> u64 {
        self.event["node"]["modifiedIndex"].as_u64().unwrap_or(0)
    }
}

/// A node as the Go client marshals it: `key`, `dir`, `value`, `nodes`, indexes, then the
/// expiry fields when set.
fn node(n: &Value) -> String {
    if n.is_null() {
        return "null".into();
    }
    let mut o = Object::new();
    o.raw("key", &string(n["key"].as_str().unwrap_or_default().as_bytes()));
    o.bool_nz("dir", n["dir"].as_bool().unwrap_or(false));
    o.raw("value", &string(n["value"].as_str().unwrap_or_default().as_bytes()));
    match n["nodes"].as_array() {
        Some(list) => o.raw("nodes", &format!("[{}]", list.iter().map(node).collect::<Vec<_>>().join(","))),
        None => o.raw("nodes", "null"),
    };
    o.num("createdIndex", n["createdIndex"].as_u64().unwrap_or(0));
    o.num("modifiedIndex", n["modifiedIndex"].as_u64().unwrap_or(0));
    if let Some(e) = n["expiration"].as_str() {
        o.raw("expiration", &string(e.as_bytes()));
    }
    o.num_nz("ttl", n["ttl"].as_i64().unwrap_or(0));
    o.finish()
}

/// etcdctl's `printResponseKey`.
pub fn print(r: &Response, format: Format) {
    let node_value = r.node_str("value");
    let prev_value = r.event["prevNode"]["value"].as_str().unwrap_or_default();
    match format {
        Format::Simple if r.action() != "delete" => println!("{node_value}"),
        Format::Simple => println!("PrevNode.Value: {prev_value}"),
        Format::Extended => {
            println!("Key: {}", r.node_str("key"));
            println!("Created-Index: {}", r.event["node"]["createdIndex"].as_u64().unwrap_or(0));
            println!("Modified-Index: {}", r.modified_index());
            if !r.event["prevNode"].is_null() {
                println!("PrevNode.Value: {prev_value}");
            }
            println!("TTL: {}", r.event["node"]["ttl"].as_i64().unwrap_or(0));
            println!("Index: {}", r.index);
            if r.action() != "delete" {
                println!();
                println!("{node_value}");
            }
        }
        Format::Json => {
            let mut o = Object::new();
            o.raw("action", &string(r.action().as_bytes()));
            o.raw("node", &node(&r.event["node"]));
            o.raw("prevNode", &node(&r.event["prevNode"]));
            println!("{}", o.finish());
        }
        Format::Unknown(_) => eprintln!("Unsupported output format: {format:?}"),
    }
}

/// etcdctl's `printLs`: the key of a file, then every listed key (recursively).
pub fn ls(r: &Response, format: Format, dir_indicator: bool) {
    if format != Format::Simple {
        print(r, format);
        return;
    }
    if !r.node_bool("dir") {
        println!("{}", r.node_str("key"));
    }
    fn walk(n: &Value, dir_indicator: bool) {
        let key = n["key"].as_str().unwrap_or_default();
        if n["dir"].as_bool().unwrap_or(false) && dir_indicator {
            println!("{key}/");
        } else {
            println!("{key}");
        }
        for c in n["nodes"].as_array().into_iter().flatten() {
            walk(c, dir_indicator);
        }
    }
    for c in r.event["node"]["nodes"].as_array().into_iter().flatten() {
        walk(c, dir_indicator);
    }
}
