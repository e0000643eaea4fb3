//! Small helpers over the v3 gRPC clients, for tests.

use std::time::Duration;

use etcd_proto::etcdserverpb::kv_client::KvClient;
use etcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use etcd_proto::etcdserverpb::{PutRequest, RangeRequest, RangeResponse, StatusRequest, StatusResponse};
use tonic::transport::{Channel, Endpoint};

/// A channel to `url`.
pub async fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(url.to_string())?.connect_timeout(Duration::from_secs(2)).connect().await
}

/// Maintenance.Status of the member at `url`.
pub async fn status(url: &str) -> Result<StatusResponse, Box<dyn std::error::Error>> {
    let mut c = MaintenanceClient::new(channel(url).await?);
    Ok(c.status(StatusRequest {}).await?.into_inner())
}

/// Puts `key` = `value` through the member at `url`.
pub async fn put(url: &str, key: &str, value: &str) -> Result<i64, tonic::Status> {
    let ch = channel(url).await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let req = PutRequest { key: key.into(), value: value.into(), ..Default::default() };
    let resp = KvClient::new(ch).put(req).await?.into_inner();
    Ok(resp.header.map_or(0, |h| h.revision))
}

/// Reads the keys with `prefix` from the member at `url`.
pub async fn get_prefix(url: &str, prefix: &str, serializable: bool) -> Result<RangeResponse, tonic::Status> {
    let ch = channel(url).await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let req = RangeRequest { key: prefix.into(), range_end: end, serializable, ..Default::default() };
    Ok(KvClient::new(ch).range(req).await?.into_inner())
}
