//! etcd's v3 wire protocol, generated at build time from the .proto files in this crate.
//!
//! Package and message names, field numbers and service paths are etcd 3.4's, so etcd's own
//! clients (etcdctl, clientv3, python etcd3) talk to etcd-rs unchanged. The etcd packages
//! also implement serde's traits in etcd's grpc-gateway JSON form (see `build.rs`).
#![allow(missing_docs, clippy::all)]

/// `mvccpb`: KeyValue and Event.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
    include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
}

/// `authpb`: users, roles and permissions.
pub mod authpb {
    tonic::include_proto!("authpb");
    include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
}

/// `etcdserverpb`: the KV, Watch, Lease, Cluster, Maintenance and Auth services.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
}

/// `v3lockpb`: the Lock service.
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.serde.rs"));
}

/// `v3electionpb`: the Election service.
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.serde.rs"));
}

/// `etcdrspb`: etcd-rs's internal peer protocol (Raft messages, forwarding).
pub mod etcdrspb {
    tonic::include_proto!("etcdrspb");
}
