//! A thin async client for etcd's v3 gRPC API, usable against etcd-rs and etcd.
//!
//! [`Client`] owns one gRPC channel (load-balanced when given several endpoints) and hands
//! out the generated tonic clients for etcd's services (KV, Watch, Lease, Maintenance,
//! Cluster, Lock, Election), configured
//! with Go clientv3's message size limits. [`Client::connect_with`] adds TLS
//! ([`TlsOptions`]), authentication ([`Credentials`]) and HTTP/2 keepalive, as clientv3's
//! `Config` does. Errors are [`Error`], whose text matches what clientv3 (and so etcdctl)
//! prints.

mod auth;
mod endpoint;
mod error;
mod tls;

use std::time::Duration;

use etcd_proto::etcdserverpb::cluster_client::ClusterClient;
use etcd_proto::etcdserverpb::kv_client::KvClient;
use etcd_proto::etcdserverpb::lease_client::LeaseClient;
use etcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use etcd_proto::etcdserverpb::watch_client::WatchClient;
use etcd_proto::v3electionpb::election_client::ElectionClient;
use etcd_proto::v3lockpb::lock_client::LockClient;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use auth::{AuthInterceptor, Credentials};
pub use error::Error;
pub use tls::TlsOptions;

/// What the service clients send through: the channel, with the auth token added to
/// every request when the client authenticated.
pub type Transport = InterceptedService<Channel, AuthInterceptor>;

/// Largest request the client sends: clientv3's default `MaxCallSendMsgSize` (2 MiB).
pub const MAX_SEND_MESSAGE_SIZE: usize = 2 * 1024 * 1024;

/// Largest response the client accepts: clientv3's default `MaxCallRecvMsgSize` (2^31 - 1),
/// so large ranges are never cut off by the client.
pub const MAX_RECEIVE_MESSAGE_SIZE: usize = i32::MAX as usize;

/// How [`Client::connect_with`] connects: clientv3's `Config` fields that etcdctl sets.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Bound on each TCP (and TLS) dial, and on authenticating.
    pub dial_timeout: Duration,
    /// Interval of HTTP/2 keepalive pings while requests are open (zero: no pings). As in
    /// grpc-go, values under 10s are raised to 10s.
    pub keepalive_time: Duration,
    /// How long to wait for a ping's answer before closing the connection.
    pub keepalive_timeout: Duration,
    /// TLS for endpoints without a scheme and for `https://` ones (`None`: bare endpoints
    /// are plaintext, `https://` ones trust the system's roots).
    pub tls: Option<TlsOptions>,
    /// Authenticate as this user and send the token with every request.
    pub credentials: Option<Credentials>,
}

impl ClientOptions {
    /// Plaintext, no keepalive pings, no authentication: what [`Client::connect`] uses.
    pub fn new(dial_timeout: Duration) -> Self {
        ClientOptions {
            dial_timeout,
            keepalive_time: Duration::ZERO,
            keepalive_timeout: Duration::ZERO,
            tls: None,
            credentials: None,
        }
    }
}

/// A connection to an etcd cluster.
///
/// Cloning is cheap: clones share the underlying HTTP/2 connections.
#[derive(Clone, Debug)]
pub struct Client {
    transport: Transport,
    endpoints: Vec<String>,
}

impl Client {
    /// Creates a plaintext client for `endpoints` (`host:port`, `http://host:port`, or
    /// `https://host:port` trusting the system's roots); see [`Client::connect_with`].
    pub async fn connect(endpoints: Vec<String>, dial_timeout: Duration) -> Result<Self, Error> {
        Self::connect_with(endpoints, &ClientOptions::new(dial_timeout)).await
    }

    /// Creates a client for `endpoints` configured by `options`.
    ///
    /// Like clientv3 3.4, this does not wait for a connection: connections are made on the
    /// first request, each dial bounded by `options.dial_timeout`, and a request to an
    /// unreachable cluster fails with a connect error (see [`Error::is_connect_failure`]).
    /// With several endpoints, requests are balanced across them. The exception is
    /// authentication: with `options.credentials` the token is fetched here, within the dial
    /// timeout, so a wrong password fails this call (as it fails clientv3's `New`). Must be
    /// called inside a Tokio runtime.
    pub async fn connect_with(endpoints: Vec<String>, options: &ClientOptions) -> Result<Self, Error> {
        let mut built = endpoints.iter().map(|ep| endpoint::build(ep, options)).collect::<Result<Vec<_>, _>>()?;
        let channel = match built.len() {
            0 => return Err(Error::NoEndpoints),
            // A lone endpoint needs no balancer (and its background task).
            1 => built.remove(0).connect_lazy(),
            _ => Channel::balance_list(built.into_iter()),
        };
        let interceptor = match &options.credentials {
            Some(credentials) => auth::authenticate(&channel, credentials, options.dial_timeout).await?,
            None => AuthInterceptor::default(),
        };
        Ok(Client { transport: InterceptedService::new(channel, interceptor), endpoints })
    }

    /// The endpoints this client was created with, as given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The KV service (Range, Put, DeleteRange, Txn, Compact).
    pub fn kv(&self) -> KvClient<Transport> {
        KvClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }

    /// The Maintenance service (Status, Alarm, Defragment, Hash, HashKV, Snapshot, MoveLeader).
    pub fn maintenance(&self) -> MaintenanceClient<Transport> {
        MaintenanceClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }

    /// The Cluster service (MemberList, MemberAdd, ...).
    pub fn cluster(&self) -> ClusterClient<Transport> {
        ClusterClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }

    /// The Watch service (one bidirectional stream, many watchers).
    pub fn watch(&self) -> WatchClient<Transport> {
        WatchClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }

    /// The Lease service (grant, revoke, keep-alive, time-to-live, list).
    pub fn lease(&self) -> LeaseClient<Transport> {
        LeaseClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }

    /// The Lock service (`v3lockpb`).
    pub fn lock(&self) -> LockClient<Transport> {
        LockClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }

    /// The Election service (`v3electionpb`).
    pub fn election(&self) -> ElectionClient<Transport> {
        ElectionClient::new(self.transport.clone())
            .max_decoding_message_size(MAX_RECEIVE_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_SEND_MESSAGE_SIZE)
    }
}

/// Fails, as grpc-go does in clientv3, when `request` encodes to more than
/// [`MAX_SEND_MESSAGE_SIZE`] bytes.
///
/// tonic enforces the same limit on the clients above, but with its own wording; checking
/// first gives callers the error text etcdctl users know:
/// `rpc error: code = ResourceExhausted desc = trying to send message larger than max (N vs. 2097152)`.
pub fn check_request_size<M: prost::Message>(request: &M) -> Result<(), Error> {
    let size = request.encoded_len();
    if size > MAX_SEND_MESSAGE_SIZE {
        return Err(Error::Status(Status::resource_exhausted(format!(
            "trying to send message larger than max ({size} vs. {MAX_SEND_MESSAGE_SIZE})"
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_proto::etcdserverpb::PutRequest;

    #[test]
    fn oversized_requests_fail_like_grpc_go() {
        let put = PutRequest { key: b"big3".to_vec(), value: vec![b'a'; 2_200_000], ..Default::default() };
        let err = check_request_size(&put).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "rpc error: code = ResourceExhausted desc = trying to send message larger than max (2200011 vs. 2097152)"
            )
        );
        let small = PutRequest { key: b"k".to_vec(), value: vec![0; 1024], ..Default::default() };
        assert!(check_request_size(&small).is_ok());
    }

    #[tokio::test]
    async fn connect_needs_an_endpoint() {
        let err = Client::connect(Vec::new(), Duration::from_secs(1)).await;
        assert!(matches!(err, Err(Error::NoEndpoints)));
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_a_connect_failure() {
        // Port 1 on loopback is essentially never listening: the dial is refused at once.
        let client = Client::connect(vec!["127.0.0.1:1".into()], Duration::from_secs(1)).await;
        let Ok(client) = client else {
            panic!("connect is lazy and must not fail");
        };
        let res = client.kv().range(etcd_proto::etcdserverpb::RangeRequest::default()).await;
        let err = Error::from(res.err().unwrap_or_else(|| Status::ok("")));
        assert!(err.is_connect_failure(), "{err:?}");
    }
}
