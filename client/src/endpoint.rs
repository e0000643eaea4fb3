//! Turning etcdctl-style endpoint strings into tonic endpoints.

use std::time::Duration;

use tonic::transport::Endpoint;

use crate::{ClientOptions, Error, TlsOptions};

/// grpc-go's floor for the client keepalive interval: shorter values are raised to it
/// (clientv3 logs "Adjusting keepalive ping interval to minimum period of 10s"), and etcd's
/// servers answer more frequent pings with `GOAWAY too_many_pings`.
const MIN_KEEPALIVE_TIME: Duration = Duration::from_secs(10);

/// Builds the tonic endpoint for `endpoint`, which may be `host:port`, `http://host:port` or
/// `https://host:port`. As in clientv3, a bare address uses TLS exactly when `options.tls`
/// is set, `http://` never does, and `https://` always does (with the system's roots when
/// no TLS options are given).
pub(crate) fn build(endpoint: &str, options: &ClientOptions) -> Result<Endpoint, Error> {
    let invalid = |reason: String| Error::InvalidEndpoint { endpoint: endpoint.to_string(), reason };
    let (uri, tls) = to_uri(endpoint, options.tls.is_some())?;
    let mut built = Endpoint::from_shared(uri)
        .map_err(|e| invalid(e.to_string()))?
        .connect_timeout(options.dial_timeout)
        .tcp_nodelay(true);
    if !options.keepalive_time.is_zero() {
        built = built
            .http2_keep_alive_interval(options.keepalive_time.max(MIN_KEEPALIVE_TIME))
            .keep_alive_timeout(options.keepalive_timeout)
            .keep_alive_while_idle(false);
    }
    match (tls, &options.tls) {
        (false, _) => Ok(built),
        (true, Some(configured)) => configured.apply(built),
        (true, None) => TlsOptions::default().apply(built),
    }
}

/// The URI for an endpoint string and whether it is dialed with TLS.
fn to_uri(endpoint: &str, tls_configured: bool) -> Result<(String, bool), Error> {
    match endpoint.split_once("://") {
        None if tls_configured => Ok((format!("https://{endpoint}"), true)),
        None => Ok((format!("http://{endpoint}"), false)),
        Some(("http", _)) => Ok((endpoint.to_string(), false)),
        Some(("https", _)) => Ok((endpoint.to_string(), true)),
        Some((scheme, _)) => Err(Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason: format!("unsupported scheme {scheme:?} (only http and https are supported)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(endpoint: &str, tls_configured: bool) -> Option<(String, bool)> {
        to_uri(endpoint, tls_configured).ok()
    }

    #[test]
    fn bare_endpoints_follow_the_tls_options() {
        assert_eq!(uri("127.0.0.1:2379", false), Some(("http://127.0.0.1:2379".into(), false)));
        assert_eq!(uri("127.0.0.1:2379", true), Some(("https://127.0.0.1:2379".into(), true)));
    }

    #[test]
    fn schemes_decide_for_themselves() {
        assert_eq!(uri("http://127.0.0.1:2379", true), Some(("http://127.0.0.1:2379".into(), false)));
        assert_eq!(uri("https://127.0.0.1:2379", false), Some(("https://127.0.0.1:2379".into(), true)));
    }

    #[test]
    fn other_schemes_and_garbage_are_rejected() {
        assert!(to_uri("unix:///tmp/etcd.sock", false).is_err());
        assert!(build("127.0.0.1:bad port", &ClientOptions::new(Duration::from_secs(1))).is_err());
    }
}
