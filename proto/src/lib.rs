//! etcd's v3 wire protocol, generated at build time from the .proto files in this crate.
//!
//! Package and message names, field numbers and service paths are etcd 3.4's, so etcd's own
//! clients (etcdctl, clientv3, python etcd3) talk to etcd-rs unchanged.
#![allow(missing_docs, clippy::all)]

/// `mvccpb`: KeyValue and Event.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// `authpb`: users, roles and permissions.
pub mod authpb {
    tonic::include_proto!("authpb");
}

/// `etcdserverpb`: the KV, Watch, Lease, Cluster, Maintenance and Auth services.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// `v3lockpb`: the Lock service.
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
}

/// `v3electionpb`: the Election service.
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
}

/// `etcdrspb`: etcd-rs's internal peer protocol (Raft messages, forwarding).
pub mod etcdrspb {
    tonic::include_proto!("etcdrspb");
}
