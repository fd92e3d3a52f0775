//! Framing: an HTTP body becomes the call's message [`Frame`](crate::rpc::Frame)s, and the
//! response's frames become the protocol's HTTP body.
//!
//! - Unary and server-streaming requests are read whole (bounded by the
//!   receive limit) into exactly one frame: the unary fast path, one buffer
//!   in and one out.
//! - Client- and bidi-streaming requests become a stream of frames decoded
//!   envelope by envelope as the body arrives.
//! - Envelope lengths over the limit are refused before any buffering.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use bytes::Bytes;
//! use connect_core::{Code, Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
//! use connect_layers::framing::server::FramingLayer;
//! use connect_layers::protocol::{Call, Negotiated};
//! use connect_layers::rpc::*;
//! use http_body_util::{BodyExt, Full};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! static M: MethodDescriptor =
//!     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
//!
//! let echo = ServiceBuilder::new()
//!     .layer(FramingLayer::new().read_max_bytes(16))
//!     .service_fn(|req: RpcRequest| async move {
//!         let RequestMessages::Unary(frame) = req.messages else { unreachable!() };
//!         Ok::<_, ConnectError>(RpcResponse {
//!             messages: ResponseMessages::Unary(frame),
//!             ..Default::default()
//!         })
//!     });
//! let request = |body: &'static [u8]| {
//!     let req = http::Request::post("/a.v1.S/M").body(Full::new(Bytes::from_static(body))).unwrap();
//!     let n = Negotiated {
//!         method: &M, protocol: Protocol::Connect, codec: Codec::Proto, enveloped: false, implicit_codec: false,
//!     };
//!     Call::new(n, req)
//! };
//! let resp = echo.clone().oneshot(request(b"hello")).await.unwrap();
//! assert_eq!(&resp.into_body().collect().await.unwrap().to_bytes()[..], b"hello");
//! let err = echo.oneshot(request(b"seventeen bytes!!")).await.unwrap_err();
//! assert_eq!(err.code(), Code::ResourceExhausted);
//! # }
//! ```

mod body;
mod future;

use std::task::{Context, Poll};

use connect_core::ConnectError;
use tower_layer::Layer;
use tower_service::Service;

pub use self::body::FrameDecoder;
pub use self::future::ResponseFuture;
use crate::framing::DEFAULT_READ_MAX_BYTES;
use crate::protocol::Call;
use crate::rpc::{RequestHead, RequestMessages, RpcRequest, RpcResponse};

/// Layer applying [`Framing`].
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct FramingLayer {
    read_max_bytes: usize,
}

impl Default for FramingLayer {
    fn default() -> Self {
        FramingLayer::new()
    }
}

impl FramingLayer {
    /// Framing with the default receive limit.
    pub const fn new() -> Self {
        FramingLayer {
            read_max_bytes: DEFAULT_READ_MAX_BYTES,
        }
    }

    /// Sets the largest message (after decompression) a request may carry.
    pub const fn read_max_bytes(mut self, limit: usize) -> Self {
        self.read_max_bytes = limit;
        self
    }
}

impl<S> Layer<S> for FramingLayer {
    type Service = Framing<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Framing {
            inner,
            read_max_bytes: self.read_max_bytes,
        }
    }
}

/// Turns HTTP requests into [`RpcRequest`]s and [`RpcResponse`]s back into
/// HTTP responses. See the module docs.
#[derive(Clone, Debug)]
pub struct Framing<S> {
    inner: S,
    read_max_bytes: usize,
}

crate::macros::define_inner_service_accessors!(Framing);

impl<S> Framing<S> {
    /// Sets the largest message a request may carry.
    pub fn read_max_bytes(mut self, limit: usize) -> Self {
        self.read_max_bytes = limit;
        self
    }
}

impl<S, B> Service<Call<B>> for Framing<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError> + Clone,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<crate::body::server::ResponseBody>;
    type Error = ConnectError;
    type Future = ResponseFuture<S, B>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call<B>) -> Self::Future {
        let n = call.negotiated;
        let (parts, body) = call.request.into_parts();
        let head = RequestHead {
            method: n.method,
            protocol: n.protocol,
            codec: n.codec,
            headers: parts.headers,
            extensions: parts.extensions,
            deadline: None,
        };
        if n.method.stream_type().client_streams() {
            let frames = FrameDecoder::new(body, self.read_max_bytes);
            let req = RpcRequest {
                head,
                messages: RequestMessages::Stream(Box::pin(frames)),
            };
            ResponseFuture::called(self.inner.call(req), n)
        } else {
            // Take the readied service; leave a fresh clone behind.
            let clone = self.inner.clone();
            let svc = std::mem::replace(&mut self.inner, clone);
            ResponseFuture::collect(svc, head, body, n, self.read_max_bytes)
        }
    }
}
