//! Turning etcdctl-style endpoint strings into tonic endpoints.

use std::time::Duration;

use tonic::transport::Endpoint;

use crate::Error;

/// Builds the tonic endpoint for `endpoint`, which may be `host:port` or `http://host:port`
/// (etcdctl accepts both; clientv3 treats a bare address as plaintext).
pub(crate) fn build(endpoint: &str, dial_timeout: Duration) -> Result<Endpoint, Error> {
    let uri = to_uri(endpoint)?;
    let invalid = |reason: String| Error::InvalidEndpoint { endpoint: endpoint.to_string(), reason };
    let built = Endpoint::from_shared(uri).map_err(|e| invalid(e.to_string()))?;
    Ok(built.connect_timeout(dial_timeout).tcp_nodelay(true))
}

/// The `http://` URI for an endpoint string; other schemes are rejected because this client
/// speaks plaintext HTTP/2 only.
fn to_uri(endpoint: &str) -> Result<String, Error> {
    match endpoint.split_once("://") {
        None => Ok(format!("http://{endpoint}")),
        Some(("http", _)) => Ok(endpoint.to_string()),
        Some((scheme, _)) => Err(Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason: format!("unsupported scheme {scheme:?} (only plaintext http is supported)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_http_endpoints_are_accepted() {
        assert_eq!(to_uri("127.0.0.1:2379").ok().as_deref(), Some("http://127.0.0.1:2379"));
        assert_eq!(to_uri("http://127.0.0.1:2379").ok().as_deref(), Some("http://127.0.0.1:2379"));
    }

    #[test]
    fn tls_and_garbage_are_rejected() {
        assert!(to_uri("https://127.0.0.1:2379").is_err());
        assert!(build("127.0.0.1:bad port", Duration::from_secs(1)).is_err());
    }
}
