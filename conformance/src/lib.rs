//! The server-under-test for the official ConnectRPC conformance suite
//! (`connectrpc.com/conformance`): the `ConformanceService` implementation
//! and the code generated from the suite's `.proto` files.

pub mod client;
pub mod service;

/// Code generated from the suite's `.proto` files.
#[allow(missing_docs, rust_2018_idioms, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/_connectrpc.rs"));
}

/// Installs the JSON type registry for the suite's messages and the
/// well-known types, so `google.protobuf.Any` fields (echoed requests,
/// error details) read and write in JSON.
pub fn install_type_registry() {
    let mut reg = buffa::type_registry::TypeRegistry::new();
    proto::connectrpc::conformance::v1::register_types(&mut reg);
    buffa_types::register_wkt_types(&mut reg);
    buffa::type_registry::set_type_registry(reg);
}
