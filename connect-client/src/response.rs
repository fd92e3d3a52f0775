//! What calls return: [`Response`] for unary and client-stream calls,
//! [`ServerStreaming`] for streamed responses.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_core::{Codec, ConnectError};
use connect_layers::StreamItem;
use connect_layers::rpc::ItemStream;
use futures_core::Stream;
use http::HeaderMap;

/// A unary (or client-stream) call's answer: the message, with the
/// response headers and trailers.
#[derive(Clone, Debug)]
pub struct Response<M> {
    headers: HeaderMap,
    message: M,
    trailers: HeaderMap,
}

impl<M> Response<M> {
    /// A response of `message` with its metadata.
    pub fn new(headers: HeaderMap, message: M, trailers: HeaderMap) -> Self {
        Response {
            headers,
            message,
            trailers,
        }
    }

    /// The response message.
    pub fn message(&self) -> &M {
        &self.message
    }

    /// The response message, taken.
    pub fn into_message(self) -> M {
        self.message
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response trailers.
    pub fn trailers(&self) -> &HeaderMap {
        &self.trailers
    }

    /// Headers, message and trailers.
    pub fn into_parts(self) -> (HeaderMap, M, HeaderMap) {
        (self.headers, self.message, self.trailers)
    }

    /// The response message, taken: [`into_message`](Self::into_message)
    /// by tonic's name.
    ///
    /// ```
    /// use connect_client::Response;
    /// use http::HeaderMap;
    ///
    /// let mut response = Response::new(HeaderMap::new(), 7u32, HeaderMap::new());
    /// *response.get_mut() += 1;
    /// assert_eq!(*response.get_ref(), 8);
    /// assert_eq!(*response, 8); // derefs to the message
    /// assert_eq!(response.into_inner(), 8);
    /// ```
    pub fn into_inner(self) -> M {
        self.message
    }

    /// The response message: [`message`](Self::message) by tonic's name.
    pub fn get_ref(&self) -> &M {
        &self.message
    }

    /// The response message, to edit in place.
    pub fn get_mut(&mut self) -> &mut M {
        &mut self.message
    }

    /// The response headers, to edit in place.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The response trailers, to edit in place.
    pub fn trailers_mut(&mut self) -> &mut HeaderMap {
        &mut self.trailers
    }
}

/// A response reads as its message: `response.greeting` is
/// `response.message().greeting`.
impl<M> std::ops::Deref for Response<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.message
    }
}

/// Decodes one response message.
pub(crate) type DecodeFn<M> = fn(Codec, Bytes) -> Result<M, ConnectError>;

/// A stream of response messages: the headers are here from the start,
/// the trailers once the stream has ended well. An error ends the stream.
///
/// It is a `futures_core::Stream` of `Result<M, ConnectError>`; dropping it
/// before the end cancels the call.
pub struct ServerStreaming<M> {
    headers: HeaderMap,
    trailers: Option<HeaderMap>,
    items: Option<ItemStream>,
    cancelled: bool,
    codec: Codec,
    decode: DecodeFn<M>,
    _message: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for ServerStreaming<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerStreaming")
            .field("headers", &self.headers)
            .field("trailers", &self.trailers)
            .field("done", &self.items.is_none())
            .finish()
    }
}

impl<M> ServerStreaming<M> {
    pub(crate) fn new(
        headers: HeaderMap,
        items: ItemStream,
        codec: Codec,
        decode: DecodeFn<M>,
    ) -> Self {
        ServerStreaming {
            headers,
            trailers: None,
            items: Some(items),
            cancelled: false,
            codec,
            decode,
            _message: PhantomData,
        }
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The trailers, once the stream has ended without error (an error
    /// carries them in [`ConnectError::trailers`]).
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The next message: `None` at the end.
    pub async fn message(&mut self) -> Option<Result<M, ConnectError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Ends the call now, cancelling it on the wire if it is still open;
    /// the next poll reports `canceled` (unless the stream had ended).
    pub fn cancel(&mut self) {
        if self.items.take().is_some() {
            self.cancelled = true;
        }
    }
}

impl<M> Unpin for ServerStreaming<M> {}

impl<M> Stream for ServerStreaming<M> {
    type Item = Result<M, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(items) = this.items.as_mut() else {
            if std::mem::take(&mut this.cancelled) {
                return Poll::Ready(Some(Err(ConnectError::canceled("the call was canceled"))));
            }
            return Poll::Ready(None);
        };
        {
            match std::task::ready!(items.as_mut().poll_next(cx)) {
                Some(Ok(StreamItem::Message(frame))) => {
                    let decoded = (this.decode)(this.codec, frame.into_payload());
                    if decoded.is_err() {
                        this.items = None;
                    }
                    Poll::Ready(Some(decoded))
                }
                Some(Ok(StreamItem::Trailers(t))) => {
                    this.trailers = Some(t.into_map());
                    this.items = None;
                    Poll::Ready(None)
                }
                Some(Err(mut e)) => {
                    this.items = None;
                    if e.headers().is_empty() {
                        *e.headers_mut() = this.headers.clone();
                    }
                    Poll::Ready(Some(Err(e)))
                }
                None => {
                    this.items = None;
                    Poll::Ready(None)
                }
            }
        }
    }
}
