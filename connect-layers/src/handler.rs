//! The glue generated services call: decode the request messages, run the
//! user's handler, encode the answer.
//!
//! One function per stream type. Generated code passes a closure that calls
//! the user's trait method; these functions hold no per-method state, so a
//! generated server is a `match` on the path and nothing more.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use buffa::Message;
use buffa::view::{MessageView, OwnedView};
use connect_codec::codec;
use connect_core::{Codec, ConnectError};
use futures_core::Stream;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::rpc::{
    Context, Frame, FrameStream, RequestMessages, ResponseMessages, RpcRequest, RpcResponse,
};

pub use crate::BoxFuture;

/// The future `make` builds, boxed: the box is allocated first and the
/// future built straight into it, where `Box::pin(future)` builds it on the
/// stack and copies it over (a handler's future is most of a kilobyte).
/// Generated servers box each call's handler future with it.
///
/// ```
/// use connect_layers::handler::boxed;
/// use futures_util::FutureExt as _;
///
/// let fut = boxed(|| async { 7 });
/// assert_eq!(fut.now_or_never(), Some(7));
/// ```
pub fn boxed<F>(make: impl FnOnce() -> F) -> BoxFuture<F::Output>
where
    F: Future + Send + 'static,
{
    let slot = Box::<F>::new_uninit();
    let fut: Box<F> = Box::write(slot, make());
    Box::into_pin(fut)
}

/// A stream of response messages returned by a streaming handler. An `Err`
/// item ends the call with that error.
pub type ResponseStream<M> = Pin<Box<dyn Stream<Item = Result<M, ConnectError>> + Send>>;

/// The stream of request messages a client- or bidi-streaming handler reads,
/// each decoded as a zero-copy view.
///
/// Read it with [`message`](Self::message) or as a [`Stream`].
pub struct Streaming<V> {
    codec: Codec,
    frames: FrameStream,
    _view: PhantomData<fn() -> V>,
}

impl<V> fmt::Debug for Streaming<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming")
            .field("codec", &self.codec)
            .field("view", &std::any::type_name::<V>())
            .finish()
    }
}

impl<V> Streaming<V>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
{
    /// A stream decoding `frames` (already decompressed) with `codec`.
    pub fn new(codec: Codec, frames: FrameStream) -> Self {
        Streaming {
            codec,
            frames,
            _view: PhantomData,
        }
    }

    /// The next message, `None` at the end of the request.
    pub async fn message(&mut self) -> Result<Option<OwnedView<V>>, ConnectError> {
        self.next().await.transpose()
    }
}

impl<V> Stream for Streaming<V>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
{
    type Item = Result<OwnedView<V>, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let codec = self.codec;
        self.frames
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|frame| frame.and_then(|f| codec::decode_view(codec, f.data))))
    }
}

impl<V> Unpin for Streaming<V> {}

/// The error a call ends with when its handler (or its response stream)
/// panics: the panic is contained to the call, whose client gets
/// `internal`; the connection and every other call go on.
fn panicked() -> ConnectError {
    ConnectError::internal("the handler panicked")
}

/// Runs a handler's future, turning a panic inside it into `internal`.
///
/// A plain function, not an `async fn`: an `async fn` keeps its argument
/// in its state beside the future it awaits, so the handler's future was
/// stored twice, and an ingest handler's boxed future outgrew the
/// allocator's small sizes (~4,700 instructions more per call).
fn guarded<T>(
    fut: impl Future<Output = Result<T, ConnectError>>,
) -> impl Future<Output = Result<T, ConnectError>> {
    use futures_util::FutureExt as _;
    std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .map(|out| out.unwrap_or_else(|_| Err(panicked())))
}

/// Takes the single request message of a unary or server-streaming call.
async fn single(messages: RequestMessages) -> Result<Frame, ConnectError> {
    match messages {
        RequestMessages::Unary(frame) => Ok(frame),
        RequestMessages::Stream(mut frames) => {
            let first = frames.next().await.transpose()?.ok_or_else(|| {
                ConnectError::unimplemented("protocol error: missing request message")
            })?;
            if frames.next().await.transpose()?.is_some() {
                return Err(ConnectError::unimplemented(
                    "protocol error: expected one request message, received more",
                ));
            }
            Ok(first)
        }
    }
}

fn stream_of(messages: RequestMessages) -> FrameStream {
    match messages {
        RequestMessages::Stream(s) => s,
        RequestMessages::Unary(frame) => Box::pin(futures_util::stream::once(async { Ok(frame) })),
    }
}

/// Encodes one response message, already behind its envelope prefix when
/// the protocol will envelope it.
fn frame<M: Message + Serialize>(
    codec: Codec,
    msg: &M,
    enveloped: bool,
) -> Result<Frame, ConnectError> {
    Ok(if enveloped {
        Frame {
            data: codec::encode_prefixed(codec, msg)?,
            compressed: false,
            prefixed: true,
        }
    } else {
        Frame::new(codec::encode(codec, msg)?)
    })
}

/// Whether the response messages of `head`'s call travel in envelopes
/// (everything but Connect unary).
fn enveloped(head: &crate::rpc::RequestHead) -> bool {
    head.protocol != connect_core::Protocol::Connect
        || head.method.stream_type() != connect_core::StreamType::Unary
}

fn respond<M: Message + Serialize>(
    codec: Codec,
    msg: &M,
    ctx: Context,
    enveloped: bool,
) -> Result<RpcResponse, ConnectError> {
    let frame = frame(codec, msg, enveloped)?;
    let (headers, trailers) = ctx.into_response_metadata();
    Ok(RpcResponse {
        headers,
        trailers,
        messages: ResponseMessages::Unary(frame),
    })
}

fn respond_stream<M>(codec: Codec, stream: ResponseStream<M>, ctx: Context) -> RpcResponse
where
    M: Message + Serialize + 'static,
{
    let frames = Encoded {
        stream,
        codec,
        buf: bytes::BytesMut::new(),
        panicked: false,
    };
    let (headers, trailers) = ctx.into_response_metadata();
    RpcResponse {
        headers,
        trailers,
        messages: ResponseMessages::Stream(Box::pin(frames)),
    }
}

/// A streaming handler's answer, encoded as it is read. Streamed responses
/// are enveloped in every protocol, and encoded into one buffer: a message
/// is split off it, not allocated on its own. Each message is polled from
/// the handler's stream and encoded in one step, under one `catch_unwind`
/// (a panic in either ends the stream with `internal`), so it is never
/// returned by value through layers of stream adapters.
struct Encoded<M> {
    stream: ResponseStream<M>,
    codec: Codec,
    buf: bytes::BytesMut,
    panicked: bool,
}

impl<M: Message + Serialize> Stream for Encoded<M> {
    type Item = Result<Frame, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.panicked {
            return Poll::Ready(None);
        }
        let (stream, codec, buf) = (&mut this.stream, this.codec, &mut this.buf);
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stream.as_mut().poll_next(cx).map(|item| {
                item.map(|m| {
                    let data = codec::encode_prefixed_into(codec, &m?, buf)?;
                    Ok(Frame {
                        data,
                        compressed: false,
                        prefixed: true,
                    })
                })
            })
        }));
        polled.unwrap_or_else(|_| {
            // The stream is not polled again (nor dropped here, where a
            // second panic would escape).
            this.panicked = true;
            Poll::Ready(Some(Err(panicked())))
        })
    }
}

/// Serves a unary call with `handler`.
pub async fn unary<V, M, F, Fut>(req: RpcRequest, handler: F) -> Result<RpcResponse, ConnectError>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
    M: Message + Serialize,
    F: FnOnce(Context, OwnedView<V>) -> Fut,
    Fut: Future<Output = Result<(M, Context), ConnectError>>,
{
    let codec = req.head.codec;
    let enveloped = enveloped(&req.head);
    // A whole-body request is already one frame: no stream to wait on.
    let frame = match req.messages {
        RequestMessages::Unary(frame) => frame,
        messages => single(messages).await?,
    };
    let msg = codec::decode_view(codec, frame.data)?;
    let (resp, ctx) = guarded(handler(Context::from_head(req.head), msg)).await?;
    respond(codec, &resp, ctx, enveloped)
}

/// Serves a server-streaming call with `handler`.
pub async fn server_stream<V, M, F, Fut>(
    req: RpcRequest,
    handler: F,
) -> Result<RpcResponse, ConnectError>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
    M: Message + Serialize + 'static,
    F: FnOnce(Context, OwnedView<V>) -> Fut,
    Fut: Future<Output = Result<(ResponseStream<M>, Context), ConnectError>>,
{
    let codec = req.head.codec;
    let frame = match req.messages {
        RequestMessages::Unary(frame) => frame,
        messages => single(messages).await?,
    };
    let msg = codec::decode_view(codec, frame.data)?;
    let (stream, ctx) = guarded(handler(Context::from_head(req.head), msg)).await?;
    Ok(respond_stream(codec, stream, ctx))
}

/// Serves a client-streaming call with `handler`.
pub async fn client_stream<V, M, F, Fut>(
    req: RpcRequest,
    handler: F,
) -> Result<RpcResponse, ConnectError>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
    M: Message + Serialize,
    F: FnOnce(Context, Streaming<V>) -> Fut,
    Fut: Future<Output = Result<(M, Context), ConnectError>>,
{
    let codec = req.head.codec;
    let stream = Streaming::new(codec, stream_of(req.messages));
    let (resp, ctx) = guarded(handler(Context::from_head(req.head), stream)).await?;
    // A client stream's single response is enveloped in every protocol.
    respond(codec, &resp, ctx, true)
}

/// Serves a bidirectional-streaming call with `handler`.
pub async fn bidi_stream<V, M, F, Fut>(
    req: RpcRequest,
    handler: F,
) -> Result<RpcResponse, ConnectError>
where
    V: MessageView<'static>,
    V::Owned: DeserializeOwned,
    M: Message + Serialize + 'static,
    F: FnOnce(Context, Streaming<V>) -> Fut,
    Fut: Future<Output = Result<(ResponseStream<M>, Context), ConnectError>>,
{
    let codec = req.head.codec;
    let stream = Streaming::new(codec, stream_of(req.messages));
    let (out, ctx) = guarded(handler(Context::from_head(req.head), stream)).await?;
    Ok(respond_stream(codec, out, ctx))
}

/// The answer for a method the service does not know.
pub fn unimplemented(req: &RpcRequest) -> ConnectError {
    ConnectError::unimplemented(format!("{} is not implemented", req.head.method.path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use buffa_types::google::protobuf::StringValue;

    fn text(value: &str) -> StringValue {
        StringValue {
            value: value.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_streamed_answer_is_encoded_behind_its_prefix_and_a_panic_ends_it() {
        let mut n = 0;
        let answers: ResponseStream<StringValue> =
            Box::pin(futures_util::stream::poll_fn(move |_| {
                n += 1;
                match n {
                    1 => Poll::Ready(Some(Ok(text("one")))),
                    2 => panic!("a stream bug"),
                    _ => Poll::Ready(None),
                }
            }));
        let resp = respond_stream(Codec::Proto, answers, Context::default());
        let ResponseMessages::Stream(mut frames) = resp.messages else {
            panic!("a streamed answer");
        };
        let first = frames.next().await.unwrap().unwrap();
        assert!(first.prefixed && !first.compressed);
        assert_eq!(&first.data[..5], &[0, 0, 0, 0, 5]);
        let decoded: StringValue = codec::decode_owned(Codec::Proto, first.payload()).unwrap();
        assert_eq!(decoded.value, "one");
        let err = frames.next().await.unwrap().unwrap_err();
        assert_eq!(
            (err.code(), err.message()),
            (connect_core::Code::Internal, "the handler panicked")
        );
        assert!(frames.next().await.is_none());
        assert!(frames.next().await.is_none());
    }

    #[tokio::test]
    async fn an_error_from_the_handler_s_stream_passes_as_it_is() {
        let answers: ResponseStream<StringValue> = Box::pin(futures_util::stream::iter([
            Ok(text("a")),
            Err(ConnectError::not_found("gone")),
        ]));
        let resp = respond_stream(Codec::Json, answers, Context::default());
        let ResponseMessages::Stream(frames) = resp.messages else {
            panic!("a streamed answer");
        };
        let items: Vec<_> = frames.collect().await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().payload(), br#""a""#);
        assert_eq!(
            items[1].as_ref().unwrap_err().code(),
            connect_core::Code::NotFound
        );
    }
}
