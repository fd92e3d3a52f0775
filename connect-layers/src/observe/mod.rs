//! Observability (feature `tracing`): a `tracing` span for every call,
//! with the OpenTelemetry RPC semantic-convention attributes, trace
//! context from `traceparent`, and a hook for metrics.
//!
//! - Server: [`TraceLayer`] around a typed service (over
//!   [`RpcRequest`](crate::rpc::RpcRequest)s, inside the protocol stack),
//!   so it sees the method, the protocol, every message and the call's
//!   [`ConnectError`](connect_core::ConnectError), and its span lasts until
//!   the last response message of a stream has been written.
//! - Client: [`ClientTrace`], the outermost layer of every client stack
//!   when the feature is on; nothing to configure.
//! - [`Propagator`] moves trace context between headers and spans (plug
//!   `tracing-opentelemetry` in there); [`Observer`] receives each call's
//!   start and end (plug the `metrics` crate or OpenTelemetry meters in
//!   there). This crate depends on neither.
//!
//! # Span fields
//!
//! Spans are named `rpc.server` and `rpc.client` (level INFO, targets
//! `connect_layers::observe::server` and `::client`); `otel.name` carries
//! the semantic-convention name `package.Service/Method`.
//!
//! | field | value |
//! | --- | --- |
//! | `otel.kind` | `server` / `client` |
//! | `rpc.system` | `connect_rpc` (Connect), `grpc` (gRPC and gRPC-Web) |
//! | `rpc.service`, `rpc.method` | `greet.v1.GreetService`, `Greet` |
//! | `connectrpc.protocol` | `connect`, `grpc`, `grpc_web` |
//! | `rpc.grpc.status_code` | gRPC and gRPC-Web: the status number, `0` on success |
//! | `rpc.connect_rpc.error_code` | Connect, on error: `not_found`, ... |
//! | `error.type` | on error: the code |
//! | `otel.status_code`, `otel.status_message` | `ERROR` and the message: a client on any error; a server on `unknown`, `deadline_exceeded`, `unimplemented`, `internal`, `unavailable`, `data_loss` |
//! | `server.address`, `server.port` | client: the base URI; server: the `host` header (HTTP/2: a [`ServerAuthority`] extension) |
//! | `client.address`, `client.port` | server: from a [`PeerAddr`] extension |
//! | `rpc.request.messages`, `rpc.request.size` | request messages and their uncompressed bytes |
//! | `rpc.response.messages`, `rpc.response.size` | the same for the response |
//! | `trace_id`, `parent_span_id`, `trace_flags`, `tracestate` | server: the caller's W3C trace context, when `traceparent` is valid (a malformed one is ignored) |
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use connect_core::{Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
//! use connect_layers::observe::TraceLayer;
//! use connect_layers::rpc::{Frame, RequestHead, RequestMessages, RpcRequest, RpcResponse};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! static M: MethodDescriptor =
//!     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
//!
//! // In a server: `router.add_service(TraceLayer::new().layer(FooServiceServer::new(imp)))`.
//! let svc = ServiceBuilder::new()
//!     .layer(TraceLayer::new())
//!     .service_fn(|_req: RpcRequest| async {
//!         tracing::info!("inside the rpc.server span");
//!         Ok::<_, ConnectError>(RpcResponse::default())
//!     });
//! let req = RpcRequest {
//!     head: RequestHead {
//!         method: &M,
//!         protocol: Protocol::Grpc,
//!         codec: Codec::Proto,
//!         headers: Default::default(),
//!         extensions: Default::default(),
//!         deadline: None,
//!     },
//!     messages: RequestMessages::Unary(Frame::default()),
//! };
//! svc.oneshot(req).await.unwrap();
//! # }
//! ```
//!
//! # Metrics
//!
//! An [`Observer`] sees every call start and end; with the `metrics` crate
//! (its exporter is the user's choice) the four RPC metrics are:
//!
//! ```ignore
//! use connect_layers::observe::{CallInfo, CallSummary, Observer, Side};
//!
//! struct Metrics;
//!
//! impl Observer for Metrics {
//!     fn call_started(&self, call: &CallInfo) {
//!         metrics::gauge!(in_flight(call.side), "rpc.method" => call.method.path()).increment(1.0);
//!     }
//!     fn call_finished(&self, call: &CallInfo, end: &CallSummary) {
//!         let labels = [("rpc.method", call.method.path()), ("rpc.code", end.code.as_str())];
//!         metrics::gauge!(in_flight(call.side), "rpc.method" => call.method.path()).decrement(1.0);
//!         metrics::counter!("rpc.calls", &labels).increment(1);
//!         metrics::histogram!("rpc.call.duration", &labels).record(end.duration.as_secs_f64());
//!         metrics::histogram!("rpc.request.size", &labels).record(end.request_bytes as f64);
//!         metrics::histogram!("rpc.response.size", &labels).record(end.response_bytes as f64);
//!     }
//! }
//!
//! fn in_flight(side: Side) -> &'static str {
//!     match side {
//!         Side::Server => "rpc.server.active_calls",
//!         Side::Client => "rpc.client.active_calls",
//!     }
//! }
//!
//! connect_layers::observe::set_observer(Metrics).unwrap();
//! ```

mod client;
mod hooks;
mod record;
mod server;
mod traceparent;

pub use client::{ClientTrace, ClientTraceFuture, ClientTraceLayer};
pub use hooks::{
    AlreadySet, CallInfo, CallSummary, Observer, PeerAddr, Propagator, ServerAuthority, Side,
    set_observer, set_propagator,
};
pub use server::{ResponseFuture, Trace, TraceLayer};
pub use traceparent::{TRACEPARENT, TRACESTATE, TraceParent, tracestate};
