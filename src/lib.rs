//! ConnectRPC for Rust: the Connect, gRPC and gRPC-Web protocols, server and
//! client, built as a toolkit of `tower` layers, with protobuf messages from
//! `buffa`.

pub use connect_codec as codec;
pub use connect_core::{
    Code, Codec, ConnectError, ErrorDetail, Idempotency, MethodDescriptor, Protocol, StreamType,
    metadata, timeout,
};
pub use connect_layers as layers;
pub use connect_layers::handler::{ResponseStream, Streaming};
pub use connect_layers::rpc::Context;
#[cfg(feature = "server")]
pub use connect_server as server;
#[cfg(feature = "server")]
pub use connect_server::Router;

/// What generated code names. Not a public API: it changes with the code
/// generator.
#[doc(hidden)]
pub mod __codegen {
    pub use buffa::view::OwnedView;
    pub use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
    pub use connect_layers::handler::{
        BoxFuture, ResponseStream, Streaming, bidi_stream, client_stream, server_stream, unary,
        unimplemented,
    };
    pub use connect_layers::rpc::{Context, NamedService, RpcRequest, RpcResponse};
    #[cfg(feature = "server")]
    pub use connect_server::Router;
    pub use std::future::Future;
    pub use std::sync::Arc;
    pub use std::task::{Context as TaskContext, Poll};
    pub use tower_service::Service;
}
