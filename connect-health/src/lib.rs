//! The gRPC health checking service, `grpc.health.v1.Health`, ready to
//! register on a [`Router`](connect_server::Router) next to your own
//! services.
//!
//! [`HealthService`] answers `Check`, `List` and the streaming `Watch` over
//! Connect, gRPC and gRPC-Web; its [`HealthReporter`] (cheap to clone,
//! `Send + Sync`) sets each service's status at run time. Kubernetes' gRPC
//! probes and `grpc-health-probe` call `Check`.
//!
//! ```
//! use connect_health::{HealthService, ServingStatus};
//! use connect_server::Router;
//!
//! let health = HealthService::new(); // the server as a whole ("") is SERVING
//! let reporter = health.reporter();
//! reporter.set_serving("greet.v1.GreetService");
//! let router = health.register(Router::new());
//! # let _ = router;
//!
//! assert_eq!(reporter.status(""), Some(ServingStatus::SERVING));
//! reporter.set_not_serving("greet.v1.GreetService");
//! assert_eq!(
//!     reporter.status("greet.v1.GreetService"),
//!     Some(ServingStatus::NOT_SERVING)
//! );
//!
//! // When graceful shutdown begins: every service NOT_SERVING, and later
//! // `set_serving` calls are ignored.
//! reporter.shutdown();
//! assert_eq!(reporter.status(""), Some(ServingStatus::NOT_SERVING));
//! ```
//!
//! With the standalone server, have `Server::on_shutdown` call
//! [`HealthReporter::shutdown`] when the graceful shutdown begins: probes then see `NOT_SERVING` while calls in flight
//! drain, and open `Watch` streams get `NOT_SERVING` and end.
//!
//! ```no_run
//! # async fn run(router: connect_server::Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
//! # let reporter = connect_health::HealthService::new().reporter();
//! connect_server::Server::new(router)
//!     .with_graceful_shutdown(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .on_shutdown(move || reporter.shutdown())
//!     .serve_with_listener(listener)
//!     .await
//! # }
//! ```
//!
//! | call | known service | unknown service |
//! | --- | --- | --- |
//! | `Check` | its status | `not_found` |
//! | `Watch` | its status, then each change | `SERVICE_UNKNOWN`, then each change |
//! | `List` | every status (at most 100, else `resource_exhausted`) | |
//!
//! The generated code is public in [`proto`]: the messages, the
//! [`HealthClient`](proto::grpc::health::v1::HealthClient) for checking
//! other servers, and [`FILE_DESCRIPTOR_SET`] for server reflection.

mod service;

pub use service::{HealthReporter, HealthService, MAX_LIST};

/// `grpc.health.v1.HealthCheckResponse.ServingStatus`: `SERVING`,
/// `NOT_SERVING`, `UNKNOWN` and (`Watch` only) `SERVICE_UNKNOWN`.
pub use proto::grpc::health::v1::health_check_response::ServingStatus;

/// The serialized `FileDescriptorSet` of `grpc/health/v1/health.proto`,
/// to register with server reflection so tools can describe the health
/// service.
pub const FILE_DESCRIPTOR_SET: &[u8] = proto::grpc::health::v1::health::FILE_DESCRIPTOR_SET;

/// Code generated from `grpc/health/v1/health.proto` by `connectrpc-build`:
/// `proto::grpc::health::v1::{HealthCheckRequest, HealthCheckResponse,
/// HealthClient, HealthServer, ...}`.
pub mod proto {
    #![allow(unreachable_pub)]
    include!(concat!(env!("OUT_DIR"), "/_connectrpc.rs"));
}

/// What the generated code names (it is generated with
/// `runtime_crate("crate")`, so this crate does not depend on the
/// `connectrpc` facade that re-exports it).
#[allow(unused_imports)]
mod __codegen {
    pub(crate) use buffa::view::OwnedView;
    pub(crate) use connect_client::{
        BidiStream, CallOptions, Channel, Client, ClientConfig, Response, ServerStreaming,
    };
    pub(crate) use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
    pub(crate) use connect_layers::handler::{
        BoxFuture, ResponseStream, Streaming, bidi_stream, boxed, client_stream, server_stream,
        unary, unimplemented,
    };
    pub(crate) use connect_layers::rpc::{
        Context, NamedService, RpcRequest, RpcResponse, RpcService,
    };
    pub(crate) use connect_server::Router;
    pub(crate) use futures_core::Stream;
    pub(crate) use std::future::Future;
    pub(crate) use std::sync::Arc;
    pub(crate) use std::task::{Context as TaskContext, Poll};
    pub(crate) use tower_service::Service;
}
