//! The protocol-neutral request and response that flow between the
//! protocol layers and the typed service.
//!
//! Framing turns an HTTP body into [`RequestMessages`] (one buffer for unary
//! calls, a stream of [`Frame`]s otherwise); the typed service answers with
//! [`ResponseMessages`]. Nothing here knows which protocol is on the wire.

use std::fmt;

use connect_core::{Codec, ConnectError, MethodDescriptor, Protocol};
use http::{Extensions, HeaderMap, Method};
use tokio::time::Instant;

use super::{Frame, FrameStream, RequestMessages};

/// The messages of a response.
pub enum ResponseMessages {
    /// Exactly one message.
    Unary(Frame),
    /// A stream of messages; an error ends the stream and becomes the
    /// call's status.
    Stream(FrameStream),
}

impl fmt::Debug for ResponseMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseMessages::Unary(frame) => f.debug_tuple("Unary").field(frame).finish(),
            ResponseMessages::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// What the protocol layers learned about a call before it reached the
/// service.
#[derive(Debug)]
pub struct RequestHead {
    /// The method being called.
    pub method: &'static MethodDescriptor,
    /// The protocol on the wire.
    pub protocol: Protocol,
    /// The message codec.
    pub codec: Codec,
    /// The request headers, as received.
    pub headers: HeaderMap,
    /// Request extensions (from the HTTP request and the layers above).
    pub extensions: Extensions,
    /// When the call must be finished, if the client set a timeout.
    pub deadline: Option<Instant>,
}

/// A protocol-neutral RPC request.
#[derive(Debug)]
pub struct RpcRequest {
    /// What is known about the call.
    pub head: RequestHead,
    /// The request messages.
    pub messages: RequestMessages,
}

/// A protocol-neutral RPC response.
#[derive(Debug, Default)]
pub struct RpcResponse {
    /// Response headers (user metadata and the layers' own).
    pub headers: HeaderMap,
    /// Response trailers (user metadata).
    pub trailers: HeaderMap,
    /// The response messages.
    pub messages: ResponseMessages,
}

impl Default for ResponseMessages {
    fn default() -> Self {
        ResponseMessages::Unary(Frame::default())
    }
}

/// The per-call context a handler receives and hands back.
///
/// It carries the request's metadata and deadline in, and the response's
/// headers and trailers out.
///
/// ```
/// use connect_layers::rpc::Context;
///
/// let mut ctx = Context::default();
/// ctx.response_headers_mut().insert("x-served-by", "a".parse().unwrap());
/// ctx.response_trailers_mut().insert("x-cost", "3".parse().unwrap());
/// assert_eq!(ctx.response_headers()["x-served-by"], "a");
/// ```
#[derive(Debug, Default)]
pub struct Context {
    method: Option<&'static MethodDescriptor>,
    protocol: Option<Protocol>,
    request_headers: HeaderMap,
    extensions: Extensions,
    deadline: Option<Instant>,
    /// Created on first use: most calls set no response metadata, and a
    /// small context is cheap to move through the handler's future.
    response: Option<Box<ResponseMetadata>>,
}

#[derive(Debug, Default)]
struct ResponseMetadata {
    headers: HeaderMap,
    trailers: HeaderMap,
}

/// What `response_headers()` and `response_trailers()` show before anything
/// was set.
static EMPTY: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);

// ===== impl Context =====

impl Context {
    /// The context of a request arriving with `head`.
    pub fn from_head(head: RequestHead) -> Self {
        Context {
            method: Some(head.method),
            protocol: Some(head.protocol),
            request_headers: head.headers,
            extensions: head.extensions,
            deadline: head.deadline,
            response: None,
        }
    }

    /// The method being called (`None` only for a default context).
    pub fn method(&self) -> Option<&'static MethodDescriptor> {
        self.method
    }

    /// The protocol of the call (`None` only for a default context).
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// The HTTP method the call arrived with: `GET` for a Connect GET
    /// (which the server handles as the POST it stands for), `POST`
    /// otherwise.
    ///
    /// ```
    /// use connect_layers::get::server::ReceivedAsGet;
    /// use connect_layers::rpc::Context;
    /// use http::Method;
    ///
    /// let mut ctx = Context::default();
    /// assert_eq!(ctx.http_method(), Method::POST);
    /// ctx.extensions_mut().insert(ReceivedAsGet); // as the GET layer does
    /// assert_eq!(ctx.http_method(), Method::GET);
    /// ```
    pub fn http_method(&self) -> Method {
        if self.extensions.get::<ReceivedAsGet>().is_some() {
            Method::GET
        } else {
            Method::POST
        }
    }

    /// The request headers.
    pub fn request_headers(&self) -> &HeaderMap {
        &self.request_headers
    }

    /// Request extensions, set by the HTTP stack or by layers.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Request extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The call's deadline, if the client sent a timeout.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left before the deadline, if there is one.
    pub fn remaining(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The response headers.
    pub fn response_headers(&self) -> &HeaderMap {
        self.response.as_ref().map_or(&EMPTY, |r| &r.headers)
    }

    /// The response headers, mutably.
    pub fn response_headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.response.get_or_insert_default().headers
    }

    /// The response trailers.
    pub fn response_trailers(&self) -> &HeaderMap {
        self.response.as_ref().map_or(&EMPTY, |r| &r.trailers)
    }

    /// The response trailers, mutably.
    pub fn response_trailers_mut(&mut self) -> &mut HeaderMap {
        &mut self.response.get_or_insert_default().trailers
    }

    /// Splits the context into the response headers and trailers.
    pub fn into_response_metadata(self) -> (HeaderMap, HeaderMap) {
        match self.response {
            Some(r) => (r.headers, r.trailers),
            None => (HeaderMap::new(), HeaderMap::new()),
        }
    }
}

/// A service answering [`RpcRequest`]s through a shared reference, as
/// generated servers do: it is always ready and keeps no per-call state, so
/// a router calls the one registered instance for every request instead of
/// cloning it (and its reference counts) per call, as a `tower::Service`
/// must be.
///
/// Generated servers implement it (and `tower::Service` on top of it);
/// `connect_server::Router::add_service` takes it.
pub trait RpcService: Send + Sync + 'static {
    /// Serves one call.
    fn call_rpc(&self, req: RpcRequest) -> crate::BoxFuture<Result<RpcResponse, ConnectError>>;
}

/// Implemented by generated servers: the service's name and its methods,
/// so a router can route to it.
pub trait NamedService {
    /// The fully-qualified service name (`greet.v1.GreetService`).
    const SERVICE_NAME: &'static str;
    /// Every method of the service.
    const METHODS: &'static [MethodDescriptor];
}

/// Marks, in the request's extensions, a call that arrived as a Connect
/// GET: the layers below [`ConnectGet`](crate::get::server::ConnectGet) see the POST it stands for, and a
/// handler that wants to know (to set cache headers only on GETs, say)
/// asks [`Context::http_method`](crate::rpc::Context::http_method).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceivedAsGet;
