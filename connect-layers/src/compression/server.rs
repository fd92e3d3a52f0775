//! The server half of compression: negotiate the call's encodings,
//! decompress request frames (bounded by the receive limit) and compress
//! response frames, with the rules of [`super`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use bytes::Bytes;
//! use connect_core::{Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
//! use connect_layers::compression::server::CompressionLayer;
//! use connect_layers::rpc::*;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! static M: MethodDescriptor =
//!     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
//!
//! let svc = ServiceBuilder::new()
//!     .layer(CompressionLayer::new().compress_min_bytes(0))
//!     .service_fn(|_req: RpcRequest| async {
//!         let frame = Frame::new(Bytes::from_static(b"a response worth compressing"));
//!         Ok::<_, ConnectError>(RpcResponse {
//!             messages: ResponseMessages::Unary(frame),
//!             ..Default::default()
//!         })
//!     });
//! let mut headers = http::HeaderMap::new();
//! headers.insert("accept-encoding", "zstd, gzip".parse().unwrap());
//! let req = RpcRequest {
//!     head: RequestHead {
//!         method: &M,
//!         protocol: Protocol::Connect,
//!         codec: Codec::Proto,
//!         headers,
//!         extensions: Default::default(),
//!         deadline: None,
//!     },
//!     messages: RequestMessages::Unary(Frame::default()),
//! };
//! let resp = svc.oneshot(req).await.unwrap();
//! assert_eq!(resp.headers["content-encoding"], "zstd");
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use connect_codec::compression::{CompressionRegistry, IDENTITY};
use connect_core::ConnectError;
use futures_util::StreamExt as _;
use http::{HeaderName, HeaderValue};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{accept_value, compress, decompress};
use crate::framing::DEFAULT_READ_MAX_BYTES;
use crate::rpc::{RequestMessages, ResponseMessages, RpcRequest, RpcResponse};

/// Response messages smaller than this (1 KiB) go uncompressed by default,
/// whatever the client accepts: below it gzip's and zstd's framing and
/// per-message set-up (a 32 KiB window to clear on each side) cost more
/// than the bytes they save — a 7-byte echo came back larger and took 45 %
/// of the client's instructions to inflate. connect-es uses the same
/// threshold.
pub const DEFAULT_COMPRESS_MIN_BYTES: usize = 1024;

/// Layer applying [`Compression`].
#[derive(Clone, Debug)]
#[must_use]
pub struct CompressionLayer {
    config: Arc<Config>,
}

#[derive(Clone, Debug)]
struct Config {
    registry: CompressionRegistry,
    /// The registry's names as a header value, built once.
    accept: Option<HeaderValue>,
    read_max_bytes: usize,
    min_bytes: usize,
}

impl Config {
    fn new(registry: CompressionRegistry, read_max_bytes: usize, min_bytes: usize) -> Self {
        Config {
            accept: accept_value(&registry),
            registry,
            read_max_bytes,
            min_bytes,
        }
    }
}

impl Default for CompressionLayer {
    fn default() -> Self {
        CompressionLayer::new()
    }
}

impl CompressionLayer {
    /// Compression with the built-in encodings, the default receive limit,
    /// and response messages of [`DEFAULT_COMPRESS_MIN_BYTES`] or more
    /// compressed when the client accepts an encoding.
    pub fn new() -> Self {
        CompressionLayer {
            config: Arc::new(Config::new(
                CompressionRegistry::new(),
                DEFAULT_READ_MAX_BYTES,
                DEFAULT_COMPRESS_MIN_BYTES,
            )),
        }
    }

    /// Uses `registry` for the encodings on offer.
    pub fn registry(mut self, registry: CompressionRegistry) -> Self {
        let c = &self.config;
        self.config = Arc::new(Config::new(registry, c.read_max_bytes, c.min_bytes));
        self
    }

    /// Bounds decompressed messages to `limit` bytes.
    pub fn read_max_bytes(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.config).read_max_bytes = limit;
        self
    }

    /// Leaves response messages smaller than `min` bytes uncompressed
    /// (default [`DEFAULT_COMPRESS_MIN_BYTES`]; `0` compresses every one).
    pub fn compress_min_bytes(mut self, min: usize) -> Self {
        Arc::make_mut(&mut self.config).min_bytes = min;
        self
    }
}

impl<S> Layer<S> for CompressionLayer {
    type Service = Compression<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Compression {
            inner,
            config: self.config.clone(),
        }
    }
}

/// Decompresses requests and compresses responses. See the module docs.
#[derive(Clone, Debug)]
pub struct Compression<S> {
    inner: S,
    config: Arc<Config>,
}

crate::macros::define_inner_service_accessors!(Compression);

impl<S> Service<RpcRequest> for Compression<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError>,
{
    type Response = RpcResponse;
    type Error = ConnectError;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: RpcRequest) -> Self::Future {
        let registry = &self.config.registry;
        let (enc_name, accept_name) =
            crate::protocol::encoding_headers(req.head.protocol, req.head.method.stream_type());
        let requested = connect_core::metadata::find(&req.head.headers, &enc_name)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"))
            .filter(|v| *v != IDENTITY);
        let encoding = match requested {
            None => None,
            Some(name) => match registry.get(name) {
                Some(p) => Some(p.name()),
                None => {
                    let mut err = registry.unsupported(name);
                    if let Some(v) = &self.config.accept {
                        err.headers_mut().insert(accept_name, v.clone());
                    }
                    return ResponseFuture::failed(err);
                }
            },
        };
        let limit = self.config.read_max_bytes;
        req.messages = match req.messages {
            RequestMessages::Unary(frame) => match decompress(registry, encoding, frame, limit) {
                Ok(f) => RequestMessages::Unary(f),
                Err(e) => return ResponseFuture::failed(e),
            },
            RequestMessages::Stream(frames) => {
                let registry = registry.clone();
                RequestMessages::Stream(Box::pin(
                    frames.map(move |f| f.and_then(|f| decompress(&registry, encoding, f, limit))),
                ))
            }
        };
        let response_encoding = encoding.or_else(|| {
            let accepted = connect_core::metadata::find_all(&req.head.headers, &accept_name);
            registry.negotiate(accepted.map(HeaderValue::as_bytes))
        });
        ResponseFuture::from_state(State::Called {
            fut: self.inner.call(req),
            encoding: response_encoding.map(|e| (e, self.config.clone())),
            accept: self.config.accept.clone(),
            headers: (enc_name, accept_name),
        })
    }
}

pin_project! {
    /// Response future of [`Compression`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        /// The inner service is answering.
        Called {
            #[pin]
            fut: F,
            // The response's encoding and the configuration to apply it,
            // only when there is one: no shared count touched otherwise.
            encoding: Option<(&'static str, Arc<Config>)>,
            accept: Option<HeaderValue>,
            headers: (HeaderName, HeaderName),
        },
        /// The request was refused.
        Failed {
            error: Option<ConnectError>,
        },
    }
}

impl<F> ResponseFuture<F> {
    fn failed(error: ConnectError) -> Self {
        ResponseFuture::from_state(State::Failed { error: Some(error) })
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, ConnectError>>,
{
    type Output = Result<RpcResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Failed { error } => {
                Poll::Ready(Err(error.take().expect("polled after completion")))
            }
            StateProj::Called {
                fut,
                encoding,
                accept,
                headers: (enc_header, accept_header),
            } => {
                let mut resp = std::task::ready!(fut.poll(cx))?;
                if let Some(v) = accept.take() {
                    resp.headers.insert(accept_header.clone(), v);
                }
                let Some((encoding, config)) = encoding.take() else {
                    return Poll::Ready(Ok(resp));
                };
                let name = HeaderValue::from_static(encoding);
                resp.messages = match resp.messages {
                    ResponseMessages::Unary(frame) => {
                        let frame = compress(&config.registry, encoding, frame, config.min_bytes)?;
                        if frame.compressed {
                            resp.headers.insert(enc_header.clone(), name);
                        }
                        ResponseMessages::Unary(frame)
                    }
                    ResponseMessages::Stream(frames) => {
                        resp.headers.insert(enc_header.clone(), name);
                        let registry = config.registry.clone();
                        let min = config.min_bytes;
                        ResponseMessages::Stream(Box::pin(
                            frames.map(move |f| {
                                f.and_then(|f| compress(&registry, encoding, f, min))
                            }),
                        ))
                    }
                };
                Poll::Ready(Ok(resp))
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    fn from_state(state: State<F>) -> Self {
        ResponseFuture { state }
    }
}
