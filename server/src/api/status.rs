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
