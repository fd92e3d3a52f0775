//! gRPC-Web text mode (`application/grpc-web-text`): the envelope stream,
//! base64-encoded, in both directions.
//!
//! Requests may be a concatenation of independently padded base64 segments,
//! split anywhere by the transport; [`Base64Body`] decodes them in
//! 4-character groups as they arrive. Responses are encoded chunk by chunk
//! (each chunk padded), which clients must accept.
//!
//! Both halves use the same base64 core ([`Base64Body`], [`encode_chunk`]):
//! the server decodes requests and encodes responses
//! ([`server::WebTextLayer`]), the client the other way round
//! ([`client::WebTextLayer`]).

pub mod client;
pub mod server;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::{Buf, Bytes};
use connect_core::ConnectError;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pub use crate::BoxError;

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

/// Whether a content type is gRPC-Web text mode.
pub fn is_web_text(content_type: &[u8]) -> bool {
    crate::protocol::content_type::parse(content_type)
        .is_some_and(|ct| ct.family == crate::protocol::content_type::Family::GrpcWebText)
}

pub use crate::body::encode_chunk;

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
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
