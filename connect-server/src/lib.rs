//! The ConnectRPC [`Router`], a standalone hyper [`Server`] (HTTP/1.1 and
//! h2c on one port, graceful shutdown) and axum integration.
//!
//! # Where your own layers go
//!
//! - Around everything: `ServiceBuilder::new().layer(mine).service(router)`
//!   (HTTP requests, before routing). The result is still a tower HTTP
//!   service, so [`Server`] serves it:
//!
//! ```
//! use connect_server::{Router, Server};
//! use tower::ServiceBuilder;
//!
//! let app = ServiceBuilder::new()
//!     // Any tower layer: tracing, auth, concurrency limits...
//!     .map_request(|mut req: http::Request<hyper::body::Incoming>| {
//!         req.headers_mut().insert("x-seen-by", "outer-layer".parse().unwrap());
//!         req
//!     })
//!     .service(Router::new());
//! let server = Server::new(app);
//! # drop(server);
//! ```
//! - Around the protocol stack: [`Router::layer_stacks`] or [`Router::map_connect`] (HTTP requests, after
//!   routing).
//! - Around one typed service: wrap the generated `FooServiceServer` in
//!   layers over [`RpcRequest`](connect_layers::rpc::RpcRequest)s and
//!   register it with [`Router::add_methods`].

mod catch_panic;
mod coalesce;
pub mod cors;
mod detect;
mod drain;
mod lifecycle;
mod linger;
mod router;
mod rpc_service;
mod server;
pub mod shed;
mod stack_call;
#[cfg(feature = "tls")]
mod tls;

pub use catch_panic::{CatchPanic, CatchPanicFuture, CatchPanicLayer, PanicSafeBody};
pub use drain::DrainOnDrop;
pub use router::{DEFAULT_REQUEST_BODY_TIMEOUT, Dispatch, ResponseFuture, Router, detect_protocol};
pub use rpc_service::{ConnectRpcService, DEFAULT_MAX_MESSAGE_SIZE, Limits};
pub use server::{
    DEFAULT_CONNECTION_AGE_GRACE, DEFAULT_FIRST_BYTE_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_CONNECTION_IDLE, DEFAULT_MAX_CONNECTIONS, Http2Settings, Server, shutdown_signal,
};
pub use stack_call::StackCall;
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsError};
