//! The ConnectRPC protocol concerns, each a `tower::Layer` with a server
//! half and a client half, and the protocol stacks composed from them.
//!
//! Each concern is one module holding what both halves share and the two
//! halves, `server` and `client`:
//!
//! | concern | shared | server half | client half |
//! | --- | --- | --- | --- |
//! | [`protocol`] | the content-type table, [`Negotiated`](protocol::Negotiated), per-protocol header names | | |
//! | [`negotiate`] | (the table) | decide protocol and codec, or 405 / 415 / 505 | write `content-type`, `user-agent`, `te` |
//! | [`errors`] | metadata and `trailer-` rules | `ConnectError` → the protocol's error shape | non-RPC answers, Connect errors, channel failures → `ConnectError` |
//! | [`get`] | query parameter names | GET → the POST it stands for | side-effect-free unary → GET |
//! | [`web_text`] | base64 body and chunks | decode requests, encode responses | encode requests, decode responses |
//! | [`framing`] | envelope writing, bounded collection, read limit | body → frames, frames → body | frames → body, body → frames and trailers |
//! | [`deadline`] | timeout header, deadline, error | header → deadline, enforced | timeout → header, enforced |
//! | [`compression`] | compress, decompress, accept value | negotiate, decompress requests, compress responses | compress requests, decompress responses |
//! | `observe` (feature `tracing`) | span fields, hooks, trace context | span per call | span per call |
//! | [`intercept`] | [`Interceptor`](intercept::Interceptor), the layer, `headers` / `from_fn` helpers | around a generated service: [`RpcRequest`]s, the unary message | around a channel: HTTP requests with the method, the unary message |
//! | [`body`] | | [`ResponseBody`](body::server::ResponseBody) | [`ClientBody`] |
//! | [`rpc`] | [`Frame`], [`RequestMessages`] | [`RpcRequest`], [`RpcResponse`], [`Context`] | [`ClientRequest`], [`ClientResponse`] |
//! | [`stack`] | | [`ConnectLayer`](stack::server::ConnectLayer), [`GrpcLayer`](stack::server::GrpcLayer), [`GrpcWebLayer`](stack::server::GrpcWebLayer) | [`ClientStack`] |
//!
//! The halves use the same names for the same kind of thing: a concern's
//! layer is `<Concern>Layer`, its service `<Concern>`, its future
//! `ResponseFuture`; the module path (`compression::server`,
//! `compression::client`) tells the sides apart, as hyper's
//! `server::conn` and `client::conn` do.

mod macros;

pub mod body;
pub mod compression;
pub mod deadline;
pub mod errors;
pub mod framing;
pub mod future;
pub mod get;
pub mod handler;
pub mod intercept;
pub mod negotiate;
#[cfg(feature = "tracing")]
pub mod observe;
pub mod protocol;
pub mod rpc;
pub mod stack;
pub mod web_text;

pub use body::client::ClientBody;
pub use rpc::{
    CallSettings, ClientRequest, ClientResponse, Context, Frame, FrameStream, NamedService,
    RequestHead, RequestMessages, ResponseFrames, ResponseMessages, RpcRequest, RpcResponse,
    RpcService, StreamItem, Trailers,
};
pub use stack::client::{ClientStack, ClientStackConfig, client_stack};

/// The error type of boxed errors from channels and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed, sendable future.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
