//! [`ClientBody`]: the request body a client stack hands its channel.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_core::{ConnectError, MethodDescriptor};
use futures_core::Stream;
use http_body::{Body, Frame, SizeHint};

use super::batch::Batcher;
use crate::rpc::FrameStream;

/// A boxed stream of body chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, ConnectError>> + Send>>;

/// A client request body: empty (GET), one buffer (unary calls), or a
/// stream of chunks (client and bidi streams).
///
/// A body the client stack builds also names the call's method
/// ([`method`](Self::method)): layers between the stack and the transport
/// (retries, interceptors) read it there, through
/// [`method_of`](crate::intercept::method_of), rather than from an
/// extension, whose map costs three allocations per call.
///
/// ```
/// use connect_layers::ClientBody;
/// use http_body::Body as _;
///
/// let body = ClientBody::full("hi".into());
/// assert_eq!(body.size_hint().exact(), Some(2));
/// assert_eq!(body.as_full().as_deref(), Some(&b"hi"[..]));
/// ```
pub struct ClientBody {
    kind: Kind,
    method: Option<&'static MethodDescriptor>,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(ChunkStream),
    /// Request frames sent as envelopes, each checked against the send
    /// limit, small ones that are ready together gathered into one chunk:
    /// framing's mapping done here, in the body, rather than in one more
    /// boxed stream around the frames.
    Frames(Batcher),
}

impl ClientBody {
    /// An empty body.
    pub fn empty() -> Self {
        ClientBody {
            kind: Kind::Full(None),
            method: None,
        }
    }

    /// A body of one buffer.
    pub fn full(bytes: Bytes) -> Self {
        ClientBody {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            method: None,
        }
    }

    /// A body streaming `chunks`; an error aborts the request.
    pub fn stream(chunks: ChunkStream) -> Self {
        ClientBody {
            kind: Kind::Stream(chunks),
            method: None,
        }
    }

    /// A body of request frames, each sent behind its envelope prefix and
    /// failing the body if its message is over `limit` bytes.
    pub(crate) fn frames(frames: FrameStream, limit: usize) -> Self {
        ClientBody {
            kind: Kind::Frames(Batcher::new(frames, limit)),
            method: None,
        }
    }

    /// The body, naming the method of the call it carries.
    ///
    /// ```
    /// use connect_core::{Idempotency, MethodDescriptor, StreamType};
    /// use connect_layers::ClientBody;
    ///
    /// static M: MethodDescriptor =
    ///     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
    /// let body = ClientBody::full("hi".into()).with_method(&M);
    /// assert_eq!(body.method().unwrap().path(), "/a.v1.S/M");
    /// assert!(ClientBody::empty().method().is_none());
    /// ```
    pub fn with_method(mut self, method: &'static MethodDescriptor) -> Self {
        self.method = Some(method);
        self
    }

    /// The method of the call this body carries, if it was named
    /// ([`with_method`](Self::with_method); the client stack names it).
    pub fn method(&self) -> Option<&'static MethodDescriptor> {
        self.method
    }

    /// An empty body for the same call (a request turned into a GET).
    pub fn emptied(&self) -> Self {
        ClientBody {
            kind: Kind::Full(None),
            method: self.method,
        }
    }

    /// The whole body, if it is one buffer (an empty body is an empty
    /// buffer); `None` for a stream.
    pub fn as_full(&self) -> Option<Bytes> {
        match &self.kind {
            Kind::Full(b) => Some(b.clone().unwrap_or_default()),
            Kind::Stream(_) | Kind::Frames(_) => None,
        }
    }

    /// Whether the body streams.
    pub fn is_stream(&self) -> bool {
        matches!(self.kind, Kind::Stream(_) | Kind::Frames(_))
    }

    /// The body with each chunk mapped by `f` (the whole buffer, for a
    /// one-buffer body).
    pub fn map_chunks<F>(self, mut f: F) -> Self
    where
        F: FnMut(Bytes) -> Bytes + Send + 'static,
    {
        let body = match self.kind {
            Kind::Full(b) => ClientBody::full(b.map(f).unwrap_or_default()),
            Kind::Stream(s) => {
                use futures_util::StreamExt as _;
                ClientBody::stream(Box::pin(s.map(move |c| c.map(&mut f))))
            }
            Kind::Frames(mut batcher) => {
                ClientBody::stream(Box::pin(futures_util::stream::poll_fn(move |cx| {
                    batcher.poll_chunk(cx).map(|c| c.map(|c| c.map(&mut f)))
                })))
            }
        };
        ClientBody {
            method: self.method,
            ..body
        }
    }
}

impl Default for ClientBody {
    fn default() -> Self {
        ClientBody::empty()
    }
}

impl fmt::Debug for ClientBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Full(b) => f
                .debug_tuple("ClientBody::Full")
                .field(&b.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Stream(_) | Kind::Frames(_) => f.write_str("ClientBody::Stream(..)"),
        }
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = ConnectError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ConnectError>>> {
        match &mut self.kind {
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(s) => loop {
                return match s.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(c))) if c.is_empty() => continue,
                    Poll::Ready(Some(Ok(c))) => Poll::Ready(Some(Ok(Frame::data(c)))),
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                };
            },
            Kind::Frames(batcher) => loop {
                return match batcher.poll_chunk(cx) {
                    Poll::Ready(Some(Ok(c))) if c.is_empty() => continue,
                    Poll::Ready(Some(Ok(c))) => Poll::Ready(Some(Ok(Frame::data(c)))),
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                };
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Frames(batcher) => batcher.is_finished(),
            Kind::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(_) | Kind::Frames(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_request_stream_ends_on_its_last_chunk() {
        // Ready messages and the stream's end are read together: the body
        // says it has ended as it yields them, so HTTP/2 sets END_STREAM on
        // that DATA frame instead of sending an empty one after it.
        let frames: Vec<Result<crate::rpc::Frame, ConnectError>> = vec![
            Ok(crate::rpc::Frame::new(Bytes::from_static(b"a"))),
            Ok(crate::rpc::Frame::new(Bytes::from_static(b"b"))),
        ];
        let mut body = ClientBody::frames(Box::pin(futures_util::stream::iter(frames)), 100);
        assert!(!body.is_end_stream());
        let chunk = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(chunk.len(), 2 * (connect_core::ENVELOPE_PREFIX_LEN + 1));
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_still_open_has_not_ended() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(Ok(crate::rpc::Frame::new(Bytes::from_static(b"a"))))
            .unwrap();
        let frames = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut body = ClientBody::frames(Box::pin(frames), 100);
        body.frame().await.unwrap().unwrap();
        assert!(!body.is_end_stream(), "more may come");
        drop(tx);
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }
}
