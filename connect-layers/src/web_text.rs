//! gRPC-Web text mode (`application/grpc-web-text`): the envelope stream,
//! base64-encoded, in both directions.
//!
//! Requests may be a concatenation of independently padded base64 segments,
//! split anywhere by the transport; [`Base64Body`] decodes them in
//! 4-character groups as they arrive. Responses are encoded chunk by chunk
//! (each chunk padded), which clients must accept.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Buf, Bytes};
use connect_core::ConnectError;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The error type of [`Base64Body`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// A request body decoding base64 text into the binary envelope stream.
    pub struct Base64Body<B> {
        #[pin]
        inner: B,
        pending: Vec<u8>,
        done: bool,
    }
}

impl<B> fmt::Debug for Base64Body<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Base64Body")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl<B> Base64Body<B> {
    /// Decodes `inner`.
    pub fn new(inner: B) -> Self {
        Base64Body {
            inner,
            pending: Vec::new(),
            done: false,
        }
    }
}

fn invalid(msg: impl fmt::Display) -> BoxError {
    Box::new(ConnectError::invalid_argument(format!(
        "invalid grpc-web-text body: {msg}"
    )))
}

/// Decodes every complete 4-character group in `pending` (skipping ASCII
/// whitespace), leaving an incomplete group for later.
fn decode_groups(pending: &mut Vec<u8>, last: bool) -> Result<Bytes, BoxError> {
    pending.retain(|b| !b.is_ascii_whitespace());
    let complete = if last {
        pending.len()
    } else {
        pending.len() / 4 * 4
    };
    let text: Vec<u8> = pending.drain(..complete).collect();
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    // Padding may end a segment anywhere a group ends: decode group-wise.
    for group in text.chunks(4) {
        let trimmed: &[u8] = {
            let mut g = group;
            while let [rest @ .., b'='] = g {
                g = rest;
            }
            g
        };
        if trimmed.len() < 2 {
            if trimmed.is_empty() && group.iter().all(|b| *b == b'=') && !group.is_empty() {
                return Err(invalid("stray padding"));
            }
            return Err(invalid("truncated base64 group"));
        }
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode_vec(trimmed, &mut out)
            .map_err(invalid)?;
    }
    Ok(Bytes::from(out))
}

impl<B> Body for Base64Body<B>
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
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            match std::task::ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            this.pending.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                        let decoded = decode_groups(this.pending, false)?;
                        if !decoded.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(decoded))));
                        }
                    }
                }
                Some(Err(e)) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                None => {
                    *this.done = true;
                    if this.pending.is_empty() {
                        return Poll::Ready(None);
                    }
                    let decoded = decode_groups(this.pending, true)?;
                    return Poll::Ready(Some(Ok(Frame::data(decoded))));
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

pin_project! {
    /// The request body below [`GrpcWebText`]: as received, or decoded from
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

/// Whether a content type is gRPC-Web text mode.
pub fn is_web_text(content_type: &[u8]) -> bool {
    const TEXT: &[u8] = b"application/grpc-web-text";
    content_type.len() >= TEXT.len() && content_type[..TEXT.len()].eq_ignore_ascii_case(TEXT)
}

/// Layer applying [`GrpcWebText`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct GrpcWebTextLayer {
    _priv: (),
}

impl GrpcWebTextLayer {
    /// A new text-mode layer.
    pub const fn new() -> Self {
        GrpcWebTextLayer { _priv: () }
    }
}

impl<S> tower_layer::Layer<S> for GrpcWebTextLayer {
    type Service = GrpcWebText<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcWebText { inner }
    }
}

/// Decodes base64 request bodies and encodes responses for
/// `application/grpc-web-text` calls; other calls pass through.
#[derive(Clone, Debug)]
pub struct GrpcWebText<S> {
    inner: S,
}

crate::macros::define_inner_service_accessors!(GrpcWebText);

impl<S, B> tower_service::Service<crate::protocol::Call<B>> for GrpcWebText<S>
where
    S: tower_service::Service<
            crate::protocol::Call<WebTextBody<B>>,
            Response = http::Response<crate::body::ResponseBody>,
        >,
{
    type Response = http::Response<crate::body::ResponseBody>;
    type Error = S::Error;
    type Future = future::ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: crate::protocol::Call<B>) -> Self::Future {
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

/// The response future of [`GrpcWebText`].
pub mod future {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http::HeaderValue;
    use pin_project_lite::pin_project;

    use crate::body::ResponseBody;

    pin_project! {
        /// Response future of [`GrpcWebText`](super::GrpcWebText).
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

/// Encodes one response chunk as padded base64.
pub fn encode_chunk(data: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    async fn decode(chunks: &[&str]) -> Result<Vec<u8>, BoxError> {
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c.as_bytes()))))
            .collect();
        let body = Base64Body::new(StreamBody::new(futures_util::stream::iter(frames)));
        Ok(body.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn decodes_split_and_padded_segments() {
        // "hello world" as two separately padded segments, split mid-group.
        let a = STANDARD.encode("hello");
        let b = STANDARD.encode(" world");
        let text = format!("{a}{b}");
        let (x, y) = text.split_at(3);
        assert_eq!(decode(&[x, y]).await.unwrap(), b"hello world");
        assert_eq!(decode(&["aGk=\r\n"]).await.unwrap(), b"hi");
        assert_eq!(decode(&[]).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn rejects_non_base64() {
        for bad in ["!!!!", "a===", "===="] {
            let err = decode(&[bad]).await.unwrap_err();
            let err = ConnectError::from_error(err);
            assert_eq!(err.code(), connect_core::Code::InvalidArgument, "{bad}");
        }
    }
}
