//! Client gRPC-Web text mode: request bodies are sent as base64 text,
//! response bodies decoded from it (concatenated, independently padded
//! segments accepted) with the server half's decoder.

use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use super::{Base64Body, encode_chunk};
use crate::ClientBody;

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

crate::macros::define_inner_service_accessors!(WebText);

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
            return self
                .inner
                .call(req)
                .map_ok(plain_response as fn(http::Response<R>) -> _);
        }
        self.inner
            .call(text_request(req))
            .map_ok(text_response as fn(http::Response<R>) -> _)
    }
}

/// A request in text mode: its body as base64.
pub(crate) fn text_request(req: http::Request<ClientBody>) -> http::Request<ClientBody> {
    req.map(|b| b.map_chunks(|c: Bytes| encode_chunk(&c)))
}

/// A binary answer, as the layer hands it up.
pub(crate) fn plain_response<R>(resp: http::Response<R>) -> http::Response<WebTextResponseBody<R>> {
    resp.map(Either::Left)
}

/// A text-mode answer: its body decoded from base64.
pub(crate) fn text_response<R>(resp: http::Response<R>) -> http::Response<WebTextResponseBody<R>> {
    resp.map(|b| Either::Right(Base64Body::new(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[derive(Clone)]
    struct Echo;

    impl Service<http::Request<ClientBody>> for Echo {
        type Response = http::Response<http_body_util::Full<Bytes>>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<ClientBody>) -> Self::Future {
            let body = req.into_body().as_full().unwrap_or_default();
            std::future::ready(Ok(http::Response::new(http_body_util::Full::new(body))))
        }
    }

    async fn round_trip(enabled: bool, body: &'static [u8]) -> (Bytes, Bytes) {
        let sent = ClientBody::full(Bytes::from_static(body));
        let on_wire = if enabled {
            encode_chunk(body)
        } else {
            Bytes::from_static(body)
        };
        let mut svc = WebTextLayer::new(enabled).layer(Echo);
        let resp = svc.call(http::Request::new(sent)).await.unwrap();
        let decoded = resp.into_body().collect().await.unwrap().to_bytes();
        (on_wire, decoded)
    }

    #[tokio::test]
    async fn text_mode_encodes_requests_and_decodes_responses() {
        // The echo returns what went on the wire; the layer decodes it back.
        let (wire, back) = round_trip(true, b"\x00\x00\x00\x00\x02hi").await;
        assert_eq!(&wire[..], b"AAAAAAJoaQ==");
        assert_eq!(&back[..], b"\x00\x00\x00\x00\x02hi");
        let (wire, back) = round_trip(false, b"plain").await;
        assert_eq!((&wire[..], &back[..]), (&b"plain"[..], &b"plain"[..]));
    }
}
