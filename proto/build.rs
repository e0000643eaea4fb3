//! Compiles etcd's .proto files with protox (pure Rust), so no system `protoc` is needed.
//!
//! The etcd packages also get serde impls from pbjson-build, rendering JSON as etcd's
//! grpc-gateway (jsonpb with `OrigName`) does: proto field names, 64-bit integers as
//! strings, bytes as base64, enums by name and default values left out; unknown
//! fields are ignored on input, as the gateway does.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "etcd/kv.proto",
        "etcd/auth.proto",
        "etcd/rpc.proto",
        "etcd/v3lock.proto",
        "etcd/v3election.proto",
        "etcdrs/peer.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    let descriptors = fds.encode_to_vec();
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .preserve_proto_field_names()
        .ignore_unknown_fields()
        .build(&[".etcdserverpb", ".mvccpb", ".authpb", ".v3lockpb", ".v3electionpb"])?;
    Ok(())
}
