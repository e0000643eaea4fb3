//! `/v2/stats/self`, `/v2/stats/leader` and `/v2/stats/store`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::json::rfc3339;
use super::{V2Api, json_response, message, now_ms};
use crate::v2store::Counter;

/// Go's `time.Duration.String()` for a whole number of milliseconds.
fn go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let secs = format!("{}.{:03}", ms / 1000 % 60, ms % 1000);
    let secs = secs.trim_end_matches('0').trim_end_matches('.');
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// This member's Raft role and leader.
pub async fn this_member(State(api): State<Arc<V2Api>>) -> Response {
    let status = api.node.status();
    let stats = api.node.peer_stats();
    let (recv, sent) = stats.append_counts();
    let state = match status.leader {
        l if l == api.node.id() => "StateLeader",
        0 => "StateCandidate",
        _ => "StateFollower",
    };
    // As etcd: the leader is dated from its first AppendEntries here (or this member's
    // first as the leader); before any (a single member), from the start.
    let leader_since = match stats.leader_seen() {
        Some(seen) if seen.id == status.leader => seen.since_ms,
        _ => api.started_ms,
    };
    let rates = stats.rates();
    let body = SelfStats {
        name: &api.name,
        id: format!("{:x}", api.node.id()),
        state,
        start_time: rfc3339(api.started_ms),
        leader_info: LeaderInfo {
            leader: format!("{:x}", status.leader),
            uptime: go_duration(now_ms().saturating_sub(leader_since)),
            start_time: rfc3339(leader_since),
        },
        recv_append_request_cnt: recv,
        recv_pkg_rate: rates.received.map(|(m, _)| m),
        recv_bandwidth_rate: rates.received.map(|(_, b)| b),
        send_append_request_cnt: sent,
        send_pkg_rate: rates.sent.map(|(m, _)| m),
        send_bandwidth_rate: rates.sent.map(|(_, b)| b),
    };
    json_response(StatusCode::OK, &body, false)
}

// The JSON of `/v2/stats/self` and `/v2/stats/leader`, fields in the order of etcd's
// structs (serde_json's maps would sort them).

/// etcd's `serverStats`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SelfStats<'a> {
    name: &'a str,
    id: String,
    state: &'static str,
    start_time: String,
    leader_info: LeaderInfo,
    recv_append_request_cnt: u64,
    // etcd leaves the rates out while no AppendEntries flow that way (`omitempty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    recv_pkg_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recv_bandwidth_rate: Option<f64>,
    send_append_request_cnt: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_pkg_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_bandwidth_rate: Option<f64>,
}

/// `serverStats.LeaderInfo`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaderInfo {
    leader: String,
    uptime: String,
    start_time: String,
}

/// etcd's `LeaderStats`.
#[derive(Serialize)]
struct LeaderStats {
    leader: String,
    followers: BTreeMap<String, Follower>,
}

/// etcd's `FollowerStats`.
#[derive(Serialize)]
struct Follower {
    latency: Latency,
    counts: Counts,
}

/// `FollowerStats.Latency`, in milliseconds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Latency {
    current: f64,
    average: f64,
    standard_deviation: f64,
    minimum: f64,
    maximum: f64,
}

/// `FollowerStats.Counts`.
#[derive(Serialize)]
struct Counts {
    fail: u64,
    success: u64,
}

/// The leader's view of its followers; other members answer 403 as etcd's do.
pub async fn leader(State(api): State<Arc<V2Api>>) -> Response {
    if api.node.status().leader != api.node.id() {
        return message(StatusCode::FORBIDDEN, "not current leader");
    }
    let measured = api.node.peer_stats().followers();
    let followers = api
        .node
        .member_list()
        .into_iter()
        .filter(|m| m.id != api.node.id())
        .map(|m| {
            let f = measured.get(&m.id).copied().unwrap_or_default();
            let latency = Latency {
                current: f.current,
                average: f.average,
                standard_deviation: f.standard_deviation,
                minimum: f.minimum,
                maximum: f.maximum,
            };
            (format!("{:x}", m.id), Follower { latency, counts: Counts { fail: f.fail, success: f.success } })
        })
        .collect();
    let body = LeaderStats { leader: format!("{:x}", api.node.id()), followers };
    json_response(StatusCode::OK, &body, false)
}

/// Operation counts of this member's v2 store, in the order of etcd's `Stats` fields.
pub async fn store(State(api): State<Arc<V2Api>>) -> Response {
    let state = api.node.read();
    let v2 = state.v2();
    let mut counts: Vec<(&str, u64)> = Counter::ALL.iter().map(|(c, name)| (*name, v2.stats().get(*c))).collect();
    counts.push(("watchers", v2.watcher_count() as u64));
    drop(state);
    json_response(StatusCode::OK, &InOrder(counts), false)
}

/// A JSON object with its fields in the order given.
struct InOrder<'a>(Vec<(&'a str, u64)>);

impl Serialize for InOrder<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(150), "150ms");
        assert_eq!(go_duration(2_500), "2.5s");
        assert_eq!(go_duration(62_000), "1m2s");
        assert_eq!(go_duration(3_723_004), "1h2m3.004s");
    }
}
