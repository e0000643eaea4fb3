//! Client errors, rendered the way Go's clientv3 renders them.
//!
//! etcdctl prints `Error: <err>` using Go's error text, and scripts match on it, so the
//! `Display` of [`Error`] follows clientv3 3.4: a status whose message is one of etcd's
//! server errors (`rpctypes`) prints as the bare message (`etcdserver: key is not provided`);
//! any other status prints in grpc-go's form `rpc error: code = <Code> desc = <message>`.

use std::error::Error as StdError;
use std::fmt;

use tonic::{Code, Status};

/// Errors returned by [`crate::Client`] and by requests made through it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `connect` was called with an empty endpoint list.
    #[error("no endpoints given")]
    NoEndpoints,
    /// An endpoint is not `host:port` or `http://host:port`.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The TLS settings are unusable (a client certificate or key that does not parse or
    /// match), worded as Go's `crypto/tls`.
    #[error("{0}")]
    Tls(String),
    /// The request failed with a gRPC status, from the server or from the transport.
    #[error("{}", GoStatus(.0))]
    Status(#[from] Status),
    /// The caller's deadline passed before the request completed (Go's `context.DeadlineExceeded`).
    #[error("context deadline exceeded")]
    DeadlineExceeded,
}

impl Error {
    /// True when the request never reached a server because no connection could be made.
    ///
    /// Such a request is safe to retry, even when it writes: nothing was sent.
    pub fn is_connect_failure(&self) -> bool {
        let Error::Status(status) = self else {
            return false;
        };
        // tonic maps a failed dial to Unavailable and keeps the ConnectError in the source chain.
        let mut source: Option<&(dyn StdError + 'static)> = status.source();
        while let Some(err) = source {
            if err.is::<tonic::ConnectError>() {
                return true;
            }
            source = err.source();
        }
        false
    }

    /// The server's message if this is one of etcd's own errors (`etcdserver: ...`).
    pub fn etcd_message(&self) -> Option<&str> {
        match self {
            Error::Status(status) if is_etcd_error(status.message()) => Some(status.message()),
            _ => None,
        }
    }
}

/// Displays a status as Go's clientv3 does: bare for known etcd errors, grpc-go form otherwise.
struct GoStatus<'a>(&'a Status);

impl fmt::Display for GoStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.0;
        if is_etcd_error(status.message()) {
            f.write_str(status.message())
        } else {
            write!(f, "rpc error: code = {} desc = {}", go_code_name(status.code()), status.message())
        }
    }
}

/// grpc-go's names for status codes (`codes.Code.String()`).
fn go_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Whether clientv3 3.4 knows `message` as a server error (`rpctypes.errStringToError`).
fn is_etcd_error(message: &str) -> bool {
    ETCD_ERRORS.contains(&message)
}

/// The server error strings of etcd 3.4.23's `rpctypes`, which clientv3 turns into typed errors.
const ETCD_ERRORS: &[&str] = &[
    "etcdserver: key is not provided",
    "etcdserver: key not found",
    "etcdserver: value is provided",
    "etcdserver: lease is provided",
    "etcdserver: too many operations in txn request",
    "etcdserver: duplicate key given in txn request",
    "etcdserver: mvcc: required revision has been compacted",
    "etcdserver: mvcc: required revision is a future revision",
    "etcdserver: mvcc: database space exceeded",
    "etcdserver: requested lease not found",
    "etcdserver: lease already exists",
    "etcdserver: too large lease TTL",
    "etcdserver: watch canceled",
    "etcdserver: member ID already exist",
    "etcdserver: Peer URLs already exists",
    "etcdserver: re-configuration failed due to not enough started members",
    "etcdserver: given member URLs are invalid",
    "etcdserver: member not found",
    "etcdserver: can only promote a learner member",
    "etcdserver: can only promote a learner member which is in sync with leader",
    "etcdserver: too many learner members in cluster",
    "etcdserver: request is too large",
    "etcdserver: too many requests",
    "etcdserver: root user does not exist",
    "etcdserver: root user does not have root role",
    "etcdserver: user name already exists",
    "etcdserver: user name is empty",
    "etcdserver: user name not found",
    "etcdserver: role name already exists",
    "etcdserver: role name not found",
    "etcdserver: role name is empty",
    "etcdserver: authentication failed, invalid user ID or password",
    "etcdserver: permission denied",
    "etcdserver: role is not granted to the user",
    "etcdserver: permission is not granted to the role",
    "etcdserver: authentication is not enabled",
    "etcdserver: invalid auth token",
    "etcdserver: invalid auth management",
    "etcdserver: revision of auth store is old",
    "etcdserver: no leader",
    "etcdserver: not leader",
    "etcdserver: leader changed",
    "etcdserver: not capable",
    "etcdserver: server stopped",
    "etcdserver: request timed out",
    "etcdserver: request timed out, possibly due to previous leader failure",
    "etcdserver: request timed out, possibly due to connection lost",
    "etcdserver: request timed out, waiting for the applied index took too long",
    "etcdserver: unhealthy cluster",
    "etcdserver: corrupt cluster",
    "etcdserver: rpc not supported for learner",
    "etcdserver: bad leader transferee",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_errors_print_bare() {
        let err = Error::from(Status::invalid_argument("etcdserver: key is not provided"));
        assert_eq!(err.to_string(), "etcdserver: key is not provided");
        assert_eq!(err.etcd_message(), Some("etcdserver: key is not provided"));
    }

    #[test]
    fn other_statuses_print_like_grpc_go() {
        let err =
            Error::from(Status::resource_exhausted("trying to send message larger than max (2200011 vs. 2097152)"));
        assert_eq!(
            err.to_string(),
            "rpc error: code = ResourceExhausted desc = trying to send message larger than max (2200011 vs. 2097152)"
        );
        assert_eq!(err.etcd_message(), None);
    }

    #[test]
    fn plain_statuses_are_not_connect_failures() {
        assert!(!Error::from(Status::unavailable("etcdserver: no leader")).is_connect_failure());
        assert!(!Error::DeadlineExceeded.is_connect_failure());
    }
}
