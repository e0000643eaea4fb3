//! Errors to gRPC statuses: the one place that decides codes.

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
        | Error::BadLeaderTransferee => Code::FailedPrecondition,
        Error::MemberNotFound => Code::NotFound,
        Error::Membership(_) => Code::Unknown,
        Error::Compacted | Error::FutureRevision => Code::OutOfRange,
        Error::LeaseNotFound => Code::NotFound,
        Error::LeaseExists => Code::FailedPrecondition,
        Error::LeaseTtlTooLarge => Code::OutOfRange,
        Error::NoSpace => Code::ResourceExhausted,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_etcd() {
        assert_eq!(status(Error::Compacted).code(), Code::OutOfRange);
        assert_eq!(status(Error::LeaseNotFound).message(), "etcdserver: requested lease not found");
        assert_eq!(status(Error::TooManyOps).code(), Code::InvalidArgument);
    }
}
