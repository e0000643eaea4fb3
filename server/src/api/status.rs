//! Errors to gRPC statuses: the one place that decides codes.

use axum::http::HeaderMap;
use tonic::{Code, Status};

use crate::error::Error;

/// The gRPC code etcd uses for `e`.
pub fn code(e: &Error) -> Code {
    match e {
        Error::KeyNotProvided
        | Error::KeyNotFound
        | Error::ValueProvided
        | Error::LeaseProvided
        | Error::TooManyOps
        | Error::DuplicateKey
        | Error::RequestTooLarge
        | Error::InvalidSortOption
        | Error::InvalidPeerUrls => Code::InvalidArgument,
        Error::PeerUrlExists
        | Error::MemberIdExists
        | Error::NotALearner
        | Error::TooManyLearners
        | Error::LearnerNotReady
        | Error::NotLeader
        | Error::BadLeaderTransferee
        | Error::AuthNotEnabled
        | Error::RootUserNotExist
        | Error::UserNotFound
        | Error::RoleNotFound => Code::FailedPrecondition,
        Error::AuthUnsupported => Code::Unimplemented,
        Error::MemberNotFound | Error::MemberRemoved => Code::NotFound,
        Error::Membership(_) => Code::Unknown,
        Error::Compacted | Error::FutureRevision => Code::OutOfRange,
        Error::LeaseNotFound => Code::NotFound,
        Error::LeaseExists => Code::FailedPrecondition,
        Error::LeaseTtlTooLarge => Code::OutOfRange,
        Error::NoSpace | Error::TooManyRequests => Code::ResourceExhausted,
        Error::StreamSortUnsupported => Code::Unimplemented,
        Error::Corrupt => Code::DataLoss,
        Error::Stopped | Error::NotSupportedForLearner | Error::NoLeader | Error::LeaderChanged | Error::Timeout => {
            Code::Unavailable
        }
        Error::Storage(_)
        | Error::V2(_)
        | Error::SessionExpired
        | Error::ElectionNotLeader
        | Error::ElectionNoLeader
        | Error::MissingLeaderKey => Code::Unknown,
    }
}

/// The status a client receives for `e`, with etcd's message.
pub fn status(e: Error) -> Status {
    Status::new(code(&e), e.to_string())
}

/// The status etcd's Lock and Election services answer a failure with. They run their
/// recipes over etcd's own client, which turns every error into a plain Go error, so
/// gRPC sends code Unknown and only the message tells what went wrong (etcd 3.4's
/// gateway: `{"error":"etcdserver: key is not provided",...,"code":2}` for an Unlock
/// without a key). Only the learner check, which runs before them, keeps its code.
pub fn through_client(s: Status) -> Status {
    Status::new(Code::Unknown, s.message())
}

/// [`through_client`] for an error of ours.
pub fn through_client_error(e: Error) -> Status {
    Status::new(Code::Unknown, e.to_string())
}

/// `s` in grpc-go's words where tonic's differ. A request message over the size limit
/// is tonic's OutOfRange "Error, decoded message length too large: found N bytes, the
/// limit is: M bytes"; grpc-go, etcd's server, answers it with ResourceExhausted
/// "grpc: received message larger than max (N vs. M)".
pub fn as_grpc_go(s: Status) -> Status {
    match oversized(&s) {
        Some((found, limit)) => {
            Status::resource_exhausted(format!("grpc: received message larger than max ({found} vs. {limit})"))
        }
        None => s,
    }
}

/// [`as_grpc_go`] for a status carried in response headers, where tonic puts the status
/// of a call that failed before it answered (a unary request it could not decode).
pub fn headers_as_grpc_go(headers: &mut HeaderMap) {
    if let Some(s) = Status::from_header_map(headers).filter(|s| oversized(s).is_some()) {
        // The rewritten status only holds ASCII, which a header always takes.
        as_grpc_go(s).add_header(headers).ok();
    }
}

/// The size and limit in tonic's status for an oversized request message.
fn oversized(s: &Status) -> Option<(&str, &str)> {
    if s.code() != Code::OutOfRange {
        return None;
    }
    let rest = s.message().strip_prefix("Error, decoded message length too large: found ")?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    Some((found, rest.strip_suffix(" bytes")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_etcd() {
        assert_eq!(status(Error::Compacted).code(), Code::OutOfRange);
        assert_eq!(status(Error::LeaseNotFound).message(), "etcdserver: requested lease not found");
        assert_eq!(status(Error::TooManyOps).code(), Code::InvalidArgument);
    }

    #[test]
    fn oversized_messages_are_reported_as_grpc_go_reports_them() {
        let tonic = Status::out_of_range(
            "Error, decoded message length too large: found 3145740 bytes, the limit is: 2097152 bytes",
        );
        let go = as_grpc_go(tonic.clone());
        assert_eq!(go.code(), Code::ResourceExhausted);
        assert_eq!(go.message(), "grpc: received message larger than max (3145740 vs. 2097152)");
        let mut headers = HeaderMap::new();
        tonic.add_header(&mut headers).expect("ascii");
        headers_as_grpc_go(&mut headers);
        let read = Status::from_header_map(&headers).expect("a status");
        assert_eq!((read.code(), read.message()), (go.code(), go.message()));
        // Other statuses pass as they are.
        let other = as_grpc_go(status(Error::Compacted));
        assert_eq!(
            (other.code(), other.message()),
            (Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted")
        );
        let mut headers = HeaderMap::new();
        status(Error::Compacted).add_header(&mut headers).expect("ascii");
        let before = headers.clone();
        headers_as_grpc_go(&mut headers);
        assert_eq!(headers, before);
    }
}
