//! Every error a request can meet, with etcd's exact message text.
//!
//! Go clients map errors back to typed values by message, so the strings are part of the
//! API. The mapping to gRPC status codes lives in one place: `api::status`.

use crate::storage::StorageError;

/// An error returned to a client.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Error {
    /// Empty key in a request that needs one.
    #[error("etcdserver: key is not provided")]
    KeyNotProvided,
    /// `ignore_value`/`ignore_lease` on a missing key, or an empty RequestOp.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// `ignore_value` with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ignore_lease` with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// This member's applies trail its commits too far to take more proposals.
    #[error("etcdserver: too many requests")]
    TooManyRequests,
    /// More operations in one txn branch than `max-txn-ops`.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// One txn branch writes the same key twice.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// A read or compaction below the compacted revision.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// A read or compaction above the current revision.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// A lease id that names no lease.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// LeaseGrant with an id in use.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// LeaseGrant with a TTL above etcd's maximum.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// A lock or campaign whose lease expired (its key vanished) while it waited.
    #[error("mutex: session is expired")]
    SessionExpired,
    /// Proclaim or a leader key that is not the current leader's.
    #[error("election: not leader")]
    ElectionNotLeader,
    /// Leader of an election nobody has campaigned in.
    #[error("election: no leader")]
    ElectionNoLeader,
    /// A request without its leader key.
    #[error("\"leader\" field must be provided")]
    MissingLeaderKey,
    /// RangeStream with a sort order that needs every key before the first is sent.
    #[error("etcdserver: RangeStream does not support sorting; use Range")]
    StreamSortUnsupported,
    /// An encoded request larger than `max-request-bytes`.
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// A write that adds data while the NOSPACE alarm is active (or would pass the quota).
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// Any change while the CORRUPT alarm is active.
    #[error("etcdserver: corrupt cluster")]
    Corrupt,
    /// No member leads the cluster.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// The leader changed while the request was in flight; it was not applied.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    /// The request could not be confirmed in time; it may or may not have been applied.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// MemberAdd with peer URLs that do not parse.
    #[error("etcdserver: given member URLs are invalid")]
    InvalidPeerUrls,
    /// MemberAdd/Update with peer URLs another member has.
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    /// MemberAdd with an id already in use.
    #[error("etcdserver: member ID already exist")]
    MemberIdExists,
    /// A member id that names no member.
    #[error("etcdserver: member not found")]
    MemberNotFound,
    /// MemberPromote of a voter.
    #[error("etcdserver: can only promote a learner member")]
    NotALearner,
    /// MemberPromote of a learner that is far behind.
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// MemberAdd of a second learner (etcd allows one).
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    /// Authenticate while authentication is disabled (always, in etcd-rs).
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    /// AuthEnable without a root user.
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    /// A user name that names no user.
    #[error("etcdserver: user name not found")]
    UserNotFound,
    /// A role name that names no role.
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    /// UserAdd or RoleAdd: etcd-rs keeps no users or roles.
    #[error("etcd-rs: authentication is not implemented; users and roles cannot be added")]
    AuthUnsupported,
    /// A request a learner cannot serve.
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    /// MoveLeader sent to a follower.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// MoveLeader to a member that cannot lead.
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    /// Raft refused a membership change (e.g. one is already in progress).
    #[error("etcdserver: {0}")]
    Membership(String),
    /// The member is shutting down.
    #[error("etcdserver: server stopped")]
    Stopped,
    /// A v2 store error (the v2 API renders it; gRPC never meets one).
    #[error(transparent)]
    V2(#[from] crate::v2store::V2Error),
    /// The storage engine failed; the request may not have been applied.
    #[error("{0}")]
    Storage(String),
    /// A range's sort order or target is none of the enum's values (etcd 3.5's check;
    /// 3.4 crashes on an unknown target). Near the end, as errors cross between members.
    #[error("etcdserver: invalid sort option")]
    InvalidSortOption,
    /// A member id of a member removed from the cluster (etcd's `ErrIDRemoved`): not
    /// found to v3 clients, 410 Gone to a v2 removal. Last, so that the variants before
    /// it keep their encoding between members of different versions.
    #[error("etcdserver: member not found")]
    MemberRemoved,
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        Error::Storage(e.to_string())
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
