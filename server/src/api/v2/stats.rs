//! `/v2/stats/self`, `/v2/stats/leader` and `/v2/stats/store`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

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
    let (recv, sent) = api.node.peer_stats().append_counts();
    let state = match status.leader {
        l if l == api.node.id() => "StateLeader",
        0 => "StateCandidate",
        _ => "StateFollower",
    };
    let body = json!({
        "name": api.name,
        "id": format!("{:x}", api.node.id()),
        "state": state,
        "startTime": rfc3339(api.started_ms),
        "leaderInfo": {
            "leader": format!("{:x}", status.leader),
            "uptime": go_duration(now_ms().saturating_sub(api.started_ms)),
            "startTime": rfc3339(api.started_ms),
        },
        "recvAppendRequestCnt": recv,
        "sendAppendRequestCnt": sent,
    });
    json_response(StatusCode::OK, &body, false)
}

/// The leader's view of its followers; other members answer 403 as etcd's do.
pub async fn leader(State(api): State<Arc<V2Api>>) -> Response {
    if api.node.status().leader != api.node.id() {
        return message(StatusCode::FORBIDDEN, "not current leader");
    }
    let measured = api.node.peer_stats().followers();
    let followers: Map<String, Value> = api
        .node
        .member_list()
        .into_iter()
        .filter(|m| m.id != api.node.id())
        .map(|m| {
            let f = measured.get(&m.id).copied().unwrap_or_default();
            let latency = json!({
                "current": f.current,
                "average": f.average,
                "standardDeviation": f.standard_deviation,
                "minimum": f.minimum,
                "maximum": f.maximum,
            });
            (format!("{:x}", m.id), json!({"latency": latency, "counts": {"fail": f.fail, "success": f.success}}))
        })
        .collect();
    let body = json!({ "leader": format!("{:x}", api.node.id()), "followers": followers });
    json_response(StatusCode::OK, &body, false)
}

/// Operation counts of this member's v2 store.
pub async fn store(State(api): State<Arc<V2Api>>) -> Response {
    let state = api.node.read();
    let v2 = state.v2();
    let mut body: Map<String, Value> =
        Counter::ALL.iter().map(|(c, name)| ((*name).to_string(), Value::from(v2.stats().get(*c)))).collect();
    body.insert("watchers".into(), Value::from(v2.watcher_count()));
    drop(state);
    json_response(StatusCode::OK, &body, false)
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
