//! [`Client`]: the untyped client core that generated clients wrap.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use buffa::view::{MessageView, OwnedView};
use connect_codec::codec;
use connect_core::{ConnectError, MethodDescriptor, Protocol, StreamType};
use connect_layers::ClientRequest;
use connect_layers::rpc::{Frame, RequestMessages};
use connect_layers::stack::client::{ClientStack, client_stack};
use futures_core::Stream;
use serde::de::DeserializeOwned;

use crate::call::{Call, SendCall, single, streaming};
use crate::channel::Channel;
use crate::config::ClientConfig;
pub use crate::message::{RequestMessage, ResponseMessage};
use crate::message::{decode_owned, decode_view};
use crate::options::CallOptions;
use crate::response::{DecodeFn, Response, ServerStreaming};

/// How much room a request stream's encoding buffer takes at a time.
const REQUEST_CHUNK: usize = 1024;

/// A client over channel `T`: encodes typed requests, sends them down the
/// protocol stack its [`ClientConfig`] describes, and decodes the answers.
/// Generated `FooServiceClient`s wrap one; use it directly to call
/// methods by descriptor.
///
/// Cloning is cheap (the channel is cloned, the configuration shared).
pub struct Client<T> {
    stack: ClientStack<T>,
    config: Arc<ClientConfig>,
}

impl<T: Clone> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client {
            stack: self.stack.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<T> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T: Channel> Client<T> {
    /// A client calling over `channel` as `config` describes.
    pub fn new(channel: T, config: ClientConfig) -> Self {
        Client {
            stack: client_stack(channel, &config.stack),
            config: Arc::new(config),
        }
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn enveloped(&self, method: &MethodDescriptor) -> bool {
        self.config.protocol() != Protocol::Connect || method.stream_type() != StreamType::Unary
    }

    fn encode<Req: RequestMessage>(
        &self,
        enveloped: bool,
        msg: &Req,
    ) -> Result<Frame, ConnectError> {
        let codec = self.config.codec();
        if enveloped {
            Ok(Frame {
                data: codec::encode_prefixed(codec, msg)?,
                compressed: false,
                prefixed: true,
            })
        } else {
            codec::encode(codec, msg).map(Frame::new)
        }
    }

    /// The request of one call, or the error of an invalid header in the
    /// config or `options`.
    fn request(
        &self,
        method: &'static MethodDescriptor,
        options: CallOptions,
        messages: RequestMessages,
    ) -> Result<ClientRequest, ConnectError> {
        let (settings, headers, extensions) = self.config.resolve(options)?;
        Ok(ClientRequest {
            method,
            headers,
            extensions,
            settings,
            messages,
        })
    }

    /// Sends a prepared request down the stack (readiness first), or fails
    /// with the error that kept it from being prepared.
    pub(crate) fn send(
        &self,
        req: Result<ClientRequest, ConnectError>,
    ) -> SendCall<ClientStack<T>> {
        SendCall::new(self.stack.clone(), req)
    }

    /// Sends `messages` (or fails with their encoding error) to a method
    /// that answers once.
    fn send_messages(
        &self,
        method: &'static MethodDescriptor,
        messages: Result<RequestMessages, ConnectError>,
        options: CallOptions,
    ) -> SendCall<ClientStack<T>> {
        self.send(messages.and_then(|m| self.request(method, options, m)))
    }

    /// Calls a unary method and decodes the answer as an owned message.
    pub fn unary<Req, Resp>(
        &self,
        method: &'static MethodDescriptor,
        request: &Req,
        options: CallOptions,
    ) -> impl Future<Output = Result<Response<Resp>, ConnectError>> + Send + 'static + use<T, Req, Resp>
    where
        Req: RequestMessage,
        Resp: ResponseMessage,
    {
        self.unary_decoded(method, request, options, decode_owned::<Resp>)
    }

    /// Calls a unary method and decodes the answer as a zero-copy view
    /// over the response bytes.
    pub fn unary_view<Req, V>(
        &self,
        method: &'static MethodDescriptor,
        request: &Req,
        options: CallOptions,
    ) -> impl Future<Output = Result<Response<OwnedView<V>>, ConnectError>>
    + Send
    + 'static
    + use<T, Req, V>
    where
        Req: RequestMessage,
        V: MessageView<'static> + Send + 'static,
        V::Owned: DeserializeOwned,
    {
        self.unary_decoded(method, request, options, decode_view::<V>)
    }

    fn unary_decoded<Req: RequestMessage, M>(
        &self,
        method: &'static MethodDescriptor,
        request: &Req,
        options: CallOptions,
        decode: DecodeFn<M>,
    ) -> impl Future<Output = Result<Response<M>, ConnectError>> + Send + 'static + use<T, Req, M>
    where
        M: Send + 'static,
    {
        let messages = self
            .encode(self.enveloped(method), request)
            .map(RequestMessages::Unary);
        let send = self.send_messages(method, messages, options);
        Call::new(send, self.config.codec(), decode, single)
    }

    /// Calls a client-streaming method with the messages of `requests`
    /// (sent as they are produced) and decodes the one answer.
    pub fn client_stream<Req, Resp, S>(
        &self,
        method: &'static MethodDescriptor,
        requests: S,
        options: CallOptions,
    ) -> impl Future<Output = Result<Response<Resp>, ConnectError>> + Send + 'static + use<T, Req, Resp, S>
    where
        Req: RequestMessage,
        Resp: ResponseMessage,
        S: Stream<Item = Req> + Send + 'static,
    {
        self.client_stream_decoded(method, requests, options, decode_owned::<Resp>)
    }

    /// Like [`client_stream`](Self::client_stream), answering with a
    /// zero-copy view over the response bytes.
    pub fn client_stream_view<Req, V, S>(
        &self,
        method: &'static MethodDescriptor,
        requests: S,
        options: CallOptions,
    ) -> impl Future<Output = Result<Response<OwnedView<V>>, ConnectError>>
    + Send
    + 'static
    + use<T, Req, V, S>
    where
        Req: RequestMessage,
        V: MessageView<'static> + Send + 'static,
        V::Owned: DeserializeOwned,
        S: Stream<Item = Req> + Send + 'static,
    {
        self.client_stream_decoded(method, requests, options, decode_view::<V>)
    }

    fn client_stream_decoded<Req, M, S>(
        &self,
        method: &'static MethodDescriptor,
        requests: S,
        options: CallOptions,
        decode: DecodeFn<M>,
    ) -> impl Future<Output = Result<Response<M>, ConnectError>> + Send + 'static + use<T, Req, M, S>
    where
        Req: RequestMessage,
        M: Send + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let frames = self.frame_stream(requests);
        let send = self.send(self.request(method, options, RequestMessages::Stream(frames)));
        Call::new(send, self.config.codec(), decode, single)
    }

    /// Encodes each message of `requests` into an envelope frame.
    pub(crate) fn frame_stream<Req, S>(&self, requests: S) -> connect_layers::FrameStream
    where
        Req: RequestMessage,
        S: Stream<Item = Req> + Send + 'static,
    {
        Box::pin(Encoding {
            requests,
            codec: self.config.codec(),
            buf: bytes::BytesMut::new(),
        })
    }

    /// Calls a server-streaming method: the answer's headers are in hand
    /// when this resolves; messages follow as the stream is polled.
    pub fn server_stream<Req, Resp>(
        &self,
        method: &'static MethodDescriptor,
        request: &Req,
        options: CallOptions,
    ) -> impl Future<Output = Result<ServerStreaming<Resp>, ConnectError>>
    + Send
    + 'static
    + use<T, Req, Resp>
    where
        Req: RequestMessage,
        Resp: ResponseMessage,
    {
        self.server_stream_decoded(method, request, options, decode_owned::<Resp>)
    }

    /// Like [`server_stream`](Self::server_stream), each message a
    /// zero-copy view over its own bytes instead of an owned message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use buffa::Message as _;
    /// use buffa_types::google::protobuf::StringValue;
    /// use buffa_types::google::protobuf::__buffa::view::StringValueView;
    /// use bytes::Bytes;
    /// use connect_client::{CallOptions, Client, ClientConfig};
    /// use connect_core::{Idempotency, MethodDescriptor, StreamType};
    /// use futures_util::StreamExt as _;
    ///
    /// static WATCH: MethodDescriptor = MethodDescriptor::new(
    ///     "a.v1.S", "Watch", "/a.v1.S/Watch", StreamType::ServerStream, Idempotency::Unknown,
    /// );
    /// // A server answering two messages and a clean end (Connect streaming).
    /// let envelope = |flags: u8, data: &[u8]| {
    ///     let mut e = vec![flags];
    ///     e.extend_from_slice(&(data.len() as u32).to_be_bytes());
    ///     e.extend_from_slice(data);
    ///     e
    /// };
    /// let mut body = Vec::new();
    /// for word in ["zero", "copy"] {
    ///     let msg = StringValue { value: word.into(), ..Default::default() };
    ///     body.extend(envelope(0, &msg.encode_to_vec()));
    /// }
    /// body.extend(envelope(2, b"{}"));
    /// let body = Bytes::from(body);
    /// let server = tower::service_fn(move |_req: http::Request<connect_client::ClientBody>| {
    ///     let body = body.clone();
    ///     async move {
    ///         let resp = http::Response::builder()
    ///             .header("content-type", "application/connect+proto")
    ///             .body(http_body_util::Full::new(body))
    ///             .unwrap();
    ///         Ok::<_, std::convert::Infallible>(resp)
    ///     }
    /// });
    ///
    /// let client = Client::new(server, ClientConfig::new("http://localhost".parse().unwrap()));
    /// let request = StringValue::default();
    /// let mut stream = client
    ///     .server_stream_view::<_, StringValueView<'static>>(&WATCH, &request, CallOptions::new())
    ///     .await
    ///     .unwrap();
    /// let mut words = Vec::new();
    /// while let Some(view) = stream.next().await {
    ///     // Each view borrows its own message's bytes: keep it as long as you like.
    ///     words.push(view.unwrap().reborrow().value.to_owned());
    /// }
    /// assert_eq!(words, ["zero", "copy"]);
    /// # }
    /// ```
    pub fn server_stream_view<Req, V>(
        &self,
        method: &'static MethodDescriptor,
        request: &Req,
        options: CallOptions,
    ) -> impl Future<Output = Result<ServerStreaming<OwnedView<V>>, ConnectError>>
    + Send
    + 'static
    + use<T, Req, V>
    where
        Req: RequestMessage,
        V: MessageView<'static> + Send + 'static,
        V::Owned: DeserializeOwned,
    {
        self.server_stream_decoded(method, request, options, decode_view::<V>)
    }

    fn server_stream_decoded<Req: RequestMessage, M>(
        &self,
        method: &'static MethodDescriptor,
        request: &Req,
        options: CallOptions,
        decode: DecodeFn<M>,
    ) -> impl Future<Output = Result<ServerStreaming<M>, ConnectError>> + Send + 'static + use<T, Req, M>
    where
        M: Send + 'static,
    {
        let messages = self.encode(true, request).map(RequestMessages::Unary);
        let send = self.send_messages(method, messages, options);
        Call::new(send, self.config.codec(), decode, streaming)
    }

    pub(crate) fn prepare(
        &self,
        method: &'static MethodDescriptor,
        options: CallOptions,
        frames: connect_layers::FrameStream,
    ) -> Result<ClientRequest, ConnectError> {
        self.request(method, options, RequestMessages::Stream(frames))
    }
}

pin_project_lite::pin_project! {
    /// A request stream's messages encoded into envelope frames. Messages
    /// are encoded into one buffer and split off it: one allocation per KiB
    /// of messages rather than one per message.
    struct Encoding<S> {
        #[pin]
        requests: S,
        codec: connect_core::Codec,
        buf: bytes::BytesMut,
    }
}

impl<S> Stream for Encoding<S>
where
    S: Stream,
    S::Item: RequestMessage,
{
    type Item = Result<Frame, ConnectError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = self.project();
        let Some(m) = std::task::ready!(this.requests.poll_next(cx)) else {
            return std::task::Poll::Ready(None);
        };
        let frame = codec::encode_prefixed_into_chunks(*this.codec, &m, this.buf, REQUEST_CHUNK)
            .map(|data| Frame {
                data,
                compressed: false,
                prefixed: true,
            });
        std::task::Poll::Ready(Some(frame))
    }
}
