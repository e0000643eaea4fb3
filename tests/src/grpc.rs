//! Small helpers over the project's client (`etcd-rs-client`), for tests.

use std::time::Duration;

use etcd_proto::etcdserverpb::{PutRequest, RangeRequest, RangeResponse, StatusRequest, StatusResponse};
use etcd_rs_client::Client;

/// A client for the member at `url`.
pub async fn client(url: &str) -> Result<Client, etcd_rs_client::Error> {
    Client::connect(vec![url.to_string()], Duration::from_secs(2)).await
}

fn unavailable(e: etcd_rs_client::Error) -> tonic::Status {
    tonic::Status::unavailable(e.to_string())
}

/// Maintenance.Status of the member at `url`.
pub async fn status(url: &str) -> Result<StatusResponse, Box<dyn std::error::Error>> {
    Ok(client(url).await?.maintenance().status(StatusRequest {}).await?.into_inner())
}

/// Maintenance.Status of the member at `url`, if it answers within `limit`.
pub async fn status_within(url: &str, limit: Duration) -> Option<StatusResponse> {
    tokio::time::timeout(limit, status(url)).await.ok()?.ok()
}

/// Which of `urls` leads, as the first member that answers within `limit` and calls itself
/// the leader says.
pub async fn leader_among(urls: &[String], limit: Duration) -> Option<usize> {
    for (i, url) in urls.iter().enumerate() {
        if let Some(s) = status_within(url, limit).await
            && s.leader != 0
            && s.leader == s.header.map_or(0, |h| h.member_id)
        {
            return Some(i);
        }
    }
    None
}

/// Puts `key` = `value` through the member at `url`.
pub async fn put(url: &str, key: &str, value: &str) -> Result<i64, tonic::Status> {
    let req = PutRequest { key: key.into(), value: value.into(), ..Default::default() };
    let resp = client(url).await.map_err(unavailable)?.kv().put(req).await?.into_inner();
    Ok(resp.header.map_or(0, |h| h.revision))
}

/// Reads the keys with `prefix` from the member at `url`.
pub async fn get_prefix(url: &str, prefix: &str, serializable: bool) -> Result<RangeResponse, tonic::Status> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let req = RangeRequest { key: prefix.into(), range_end: end, serializable, ..Default::default() };
    Ok(client(url).await.map_err(unavailable)?.kv().range(req).await?.into_inner())
}
