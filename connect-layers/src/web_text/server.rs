//! The server half of gRPC-Web text mode: request bodies decoded from
//! base64, responses encoded to it, for `application/grpc-web-text`
//! calls; other calls pass through.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::{Base64Body, BoxError, is_web_text};
use crate::body::server::ResponseBody;
use crate::protocol::Call;

pin_project! {
    /// The request body below [`WebText`]: as received, or decoded from
    /// base64 text.
    pub struct WebTextBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Binary { #[pin] inner: B },
        Text { #[pin] inner: Base64Body<B> },
    }
}

impl<B> WebTextBody<B> {
    fn binary(inner: B) -> Self {
        WebTextBody {
            kind: Kind::Binary { inner },
        }
    }

    fn text(inner: B) -> Self {
        WebTextBody {
            kind: Kind::Text {
                inner: Base64Body::new(inner),
            },
        }
    }
}

impl<B> fmt::Debug for WebTextBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Binary { .. } => f.write_str("WebTextBody::Binary"),
            Kind::Text { inner } => inner.fmt(f),
        }
    }
}

impl<B> Body for WebTextBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Binary { inner } => inner.poll_frame(cx).map(|f| {
                f.map(|r| {
                    r.map(|f| f.map_data(|mut d| d.copy_to_bytes(d.remaining())))
                        .map_err(Into::into)
                })
            }),
            KindProj::Text { inner } => inner.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Binary { inner } => inner.is_end_stream(),
            Kind::Text { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Binary { inner } => inner.size_hint(),
            Kind::Text { .. } => SizeHint::default(),
        }
    }
}

/// Layer applying [`WebText`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct WebTextLayer {
    _priv: (),
}

impl WebTextLayer {
    /// A new text-mode layer.
    pub const fn new() -> Self {
        WebTextLayer { _priv: () }
    }
}

impl<S> tower_layer::Layer<S> for WebTextLayer {
    type Service = WebText<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WebText { inner }
    }
}

/// Decodes base64 request bodies and encodes responses for
/// `application/grpc-web-text` calls; other calls pass through.
#[derive(Clone, Debug)]
pub struct WebText<S> {
    inner: S,
}

crate::macros::define_inner_service_accessors!(WebText);

impl<S, B> tower_service::Service<Call<B>> for WebText<S>
where
    S: tower_service::Service<Call<WebTextBody<B>>, Response = http::Response<ResponseBody>>,
{
    type Response = http::Response<ResponseBody>;
    type Error = S::Error;
    type Future = future::ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Call<B>) -> Self::Future {
        let text = req
            .request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| is_web_text(v.as_bytes()));
        let req = req.map_body(|inner| {
            if text {
                WebTextBody::text(inner)
            } else {
                WebTextBody::binary(inner)
            }
        });
        future::ResponseFuture::new(self.inner.call(req), text)
    }
}

/// The response future of [`WebText`].
pub mod future {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http::HeaderValue;
    use pin_project_lite::pin_project;

    use crate::body::server::ResponseBody;

    pin_project! {
        /// Response future of [`WebText`](super::WebText).
        #[must_use = "futures do nothing unless polled"]
        pub struct ResponseFuture<F> {
            #[pin]
            fut: F,
            text: bool,
        }
    }

    impl<F> ResponseFuture<F> {
        pub(super) fn new(fut: F, text: bool) -> Self {
            ResponseFuture { fut, text }
        }
    }

    impl<F, E> Future for ResponseFuture<F>
    where
        F: Future<Output = Result<http::Response<ResponseBody>, E>>,
    {
        type Output = F::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let resp = std::task::ready!(this.fut.poll(cx))?;
            if !*this.text || resp.status() != http::StatusCode::OK {
                return Poll::Ready(Ok(resp));
            }
            let (mut parts, body) = resp.into_parts();
            let ct = match parts.headers.get(http::header::CONTENT_TYPE) {
                Some(v) if v.as_bytes().ends_with(b"+json") => "application/grpc-web-text+json",
                _ => "application/grpc-web-text+proto",
            };
            parts
                .headers
                .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
            Poll::Ready(Ok(http::Response::from_parts(parts, body.into_base64())))
        }
    }
}
