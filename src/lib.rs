//! ConnectRPC for Rust: the Connect, gRPC and gRPC-Web protocols, server and
//! client, built as a toolkit of `tower` layers, with protobuf messages from
//! `buffa`.
//!
//! # Crates
//!
//! | re-export | crate | what it holds |
//! | --- | --- | --- |
//! | (root) | `connect-core` | [`Code`], [`ConnectError`], [`MethodDescriptor`], timeouts, metadata |
//! | [`codec`] | `connect-codec` | proto/JSON codecs, envelopes, compression registry |
//! | [`layers`] | `connect-layers` | one `tower::Layer` per protocol concern, and the stacks |
//! | [`server`] | `connect-server` | [`Router`], [`ConnectRpcService`], [`Server`], axum integration |
//! | [`client`] | `connect-client` | [`Client`], [`ClientConfig`], [`CallOptions`], transports |
//! | `health` | `connect-health` | the `grpc.health.v1.Health` service (feature `health`) |
//! | `reflection` | `connect-reflection` | gRPC server reflection, v1 and v1alpha (feature `reflection`) |
//!
//! # Feature flags
//!
//! | feature | default | enables |
//! | --- | --- | --- |
//! | `gzip` | yes | the gzip compression provider |
//! | `zstd` | yes | the zstd compression provider |
//! | `streaming` | yes | async streaming compression adapters |
//! | `br` | no | the brotli provider, offered by `CompressionRegistry::all()` (docs/compression.md) |
//! | `deflate` | no | the deflate (zlib) provider, offered by `all()` |
//! | `snappy` | no | the snappy (framing format) provider, offered by `all()` |
//! | `server` | yes | [`Router`] and [`Server`] |
//! | `axum` | no | `Router::into_axum_service` |
//! | `client` | yes | [`Client`], generated clients, [`HttpClient`], [`Http2Connection`] |
//! | `client-tls` | no | TLS for the client transports (`ClientTlsConfig`) |
//! | `server-tls` | no | TLS for [`Server`] |
//! | `health` | no | `connectrpc::health`: `HealthService` and its `HealthReporter` (docs/health.md) |
//! | `tracing` | no | a span per call with the OpenTelemetry RPC attributes, W3C trace context, metrics hooks (`connectrpc::layers::observe`, docs/observability.md); the server records each request's peer address for spans |
//! | `reflection` | no | `connectrpc::reflection`: `Reflection`, for grpcurl and `buf curl --reflect` (docs/reflection.md) |
//!
//! # Serving a generated service
//!
//! ```ignore
//! use std::sync::Arc;
//! use connectrpc::{Router, Server};
//!
//! let router = Arc::new(MyGreeter).register(Router::new());
//! Server::new(router).serve("127.0.0.1:8080".parse()?).await?;
//! ```
//!
//! # Coming from the original `connectrpc` crate
//!
//! The forms its README documents compile here unchanged (the
//! `compat-tests` crate compiles and runs them): [`ConnectRpcService`] with
//! [`Limits`], generated client methods taking the request by value or by
//! reference, `CallOptions::with_timeout` and its siblings,
//! `ClientConfig::default_header("name", "value")` with strings,
//! [`CompressionProvider`] in its `compress` / `decompressor` form registered
//! with `CompressionRegistry::default().register(…)`, and
//! `Http2Connection::connect_tls`. `docs/client.md` maps the client's
//! names to tonic's and the original crate's.
//!
//! # Names in generated code
//!
//! A handler of the generated service trait receives
//! [`OwnedView`]`<GreetRequestView<'static>>` (or [`Streaming`] of them for
//! a client stream) and answers a server stream with a
//! [`ResponseStream`]; clients answer with `Response`, `ServerStreaming`
//! and `BidiStream` (feature `client`), all at the top of this crate. The
//! view types are re-exported in the service's module
//! (`proto::greet::v1::greet_service::GreetRequestView`), so user code never
//! names `__buffa` or `connectrpc::__codegen`.

pub use buffa::view::OwnedView;
#[cfg(feature = "client")]
pub use connect_client as client;
#[cfg(feature = "client-tls")]
pub use connect_client::transport::ClientTlsConfig;
#[cfg(feature = "client")]
pub use connect_client::transport::{Http2Connection, HttpClient};
#[cfg(feature = "client")]
pub use connect_client::{
    BidiReceiver, BidiSender, BidiStream, CallOptions, Channel, Client, ClientConfig, GetPolicy,
    Response, ServerStreaming,
};
pub use connect_codec as codec;
pub use connect_codec::compression::{CompressionProvider, CompressionRegistry};
pub use connect_codec::details::{ErrorDetailExt, ErrorDetailsExt};
pub use connect_core::{
    Code, Codec, ConnectError, ErrorDetail, Idempotency, MethodDescriptor, Protocol, StreamType,
    metadata, timeout,
};
/// The gRPC health checking service (`grpc.health.v1.Health`): see
/// `docs/health.md`.
#[cfg(feature = "health")]
pub use connect_health as health;
pub use connect_layers as layers;
pub use connect_layers::handler::{ResponseStream, Streaming};
/// Interceptors on either side, as tower layers: see
/// [`layers::intercept`].
pub use connect_layers::intercept;
pub use connect_layers::intercept::{InterceptLayer, Interceptor};
pub use connect_layers::rpc::Context;
pub use connect_layers::stack::client::ClientStackConfig;
pub use connect_layers::stack::server::{ConnectLayer, GrpcLayer, GrpcWebLayer, StackConfig};
/// gRPC server reflection (`grpc.reflection.v1` and `v1alpha`): see
/// `docs/reflection.md`.
#[cfg(feature = "reflection")]
pub use connect_reflection as reflection;
#[cfg(feature = "server")]
pub use connect_server as server;
/// The server's TLS settings (`connectrpc::server::TlsConfig`), named for
/// its side at the top of the crate, beside `ClientTlsConfig`.
#[cfg(feature = "server-tls")]
pub use connect_server::TlsConfig as ServerTlsConfig;
#[cfg(feature = "server")]
pub use connect_server::{ConnectRpcService, Limits, Router, Server, shutdown_signal};

/// Includes the code `connectrpc-build` generated into `OUT_DIR`: with no
/// argument the file `_connectrpc.rs` (what `Config::include_file` names in
/// the usual `build.rs`), or the file named. The original `connectrpc`
/// crate's macro of the same name, for the same `build.rs`:
///
/// ```ignore
/// // build.rs
/// connectrpc_build::Config::new()
///     .files(&["proto/greet.proto"])
///     .includes(&["proto/"])
///     .include_file("_connectrpc.rs")
///     .compile()
///     .unwrap();
///
/// // lib.rs
/// pub mod proto {
///     connectrpc::include_generated!();
/// }
/// ```
#[macro_export]
macro_rules! include_generated {
    () => {
        include!(concat!(env!("OUT_DIR"), "/_connectrpc.rs"));
    };
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file));
    };
}

/// What generated code names. Not a public API: it changes with the code
/// generator.
#[doc(hidden)]
pub mod __codegen {
    pub use buffa::view::OwnedView;
    #[cfg(feature = "client")]
    pub use connect_client::{
        BidiStream, CallOptions, Channel, Client, ClientConfig, Response, ServerStreaming,
    };
    pub use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
    pub use connect_layers::handler::{
        BoxFuture, ResponseStream, Streaming, bidi_stream, boxed, client_stream, server_stream,
        unary, unimplemented,
    };
    pub use connect_layers::rpc::{Context, NamedService, RpcRequest, RpcResponse, RpcService};
    #[cfg(feature = "server")]
    pub use connect_server::Router;
    pub use futures_core::Stream;
    pub use std::future::Future;
    pub use std::sync::Arc;
    pub use std::task::{Context as TaskContext, Poll};
    pub use tower_service::Service;
}
