//! Client gRPC-Web text mode: request bodies are sent as base64 text,
//! response bodies decoded from it (concatenated, independently padded
//! segments accepted) with the server half's decoder.

use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use super::body::ClientBody;
use crate::web_text::{Base64Body, encode_chunk};

/// Layer applying [`WebText`].
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct WebTextLayer {
    enabled: bool,
}

impl WebTextLayer {
    /// Text mode when `enabled`; otherwise bodies pass as they are.
    pub fn new(enabled: bool) -> Self {
        WebTextLayer { enabled }
    }
}

impl<S> Layer<S> for WebTextLayer {
    type Service = WebText<S>;

    fn layer(&self, inner: S) -> WebText<S> {
        WebText {
            inner,
            enabled: self.enabled,
        }
    }
}

/// Encodes request bodies as base64 and decodes responses, when enabled.
#[derive(Clone, Debug)]
pub struct WebText<S> {
    inner: S,
    enabled: bool,
}

/// The response body below [`WebText`]: as received, or decoded from text.
pub type WebTextResponseBody<R> = Either<R, Base64Body<R>>;

impl<S, R> Service<http::Request<ClientBody>> for WebText<S>
where
    S: Service<http::Request<ClientBody>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<WebTextResponseBody<R>>;
    type Error = S::Error;
    type Future = futures_util::future::MapOk<
        S::Future,
        fn(http::Response<R>) -> http::Response<WebTextResponseBody<R>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> Self::Future {
        use futures_util::TryFutureExt as _;
        if !self.enabled {
            return self.inner.call(req).map_ok(|r| r.map(Either::Left));
        }
        let req = req.map(|b| b.map_chunks(|c: Bytes| encode_chunk(&c)));
        self.inner
            .call(req)
            .map_ok(|r| r.map(|b| Either::Right(Base64Body::new(b))))
    }
}
