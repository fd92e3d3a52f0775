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
