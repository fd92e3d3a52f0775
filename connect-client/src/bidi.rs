//! Bidirectional calls: a [`BidiSender`] and a [`BidiReceiver`], usable
//! together or split across tasks; either can cancel the call.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future as _;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use buffa::view::{MessageView, OwnedView};
use connect_core::{Codec, ConnectError, MethodDescriptor};
use connect_layers::ClientResponse;
use connect_layers::rpc::Frame;
use futures_core::Stream;
use futures_util::task::AtomicWaker;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::call::streaming;
use crate::channel::Channel;
use crate::client::Client;
use crate::message::{RequestMessage, ResponseMessage, decode_owned, decode_view};
use crate::options::CallOptions;
use crate::response::{DecodeFn, ServerStreaming};

/// How many encoded messages may wait to be written before `send` waits.
const SEND_BUFFER: usize = 16;

/// Shared by both halves: the cancel flag and the tasks to wake.
#[derive(Debug, Default)]
struct Cancel {
    flag: AtomicBool,
    body: AtomicWaker,
    receiver: AtomicWaker,
}

impl Cancel {
    fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
        self.body.wake();
        self.receiver.wake();
    }

    fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

fn canceled() -> ConnectError {
    ConnectError::canceled("the call was canceled")
}

/// An open bidirectional call. Use it whole ([`send`](Self::send),
/// [`message`](Self::message)) or [`split`](Self::split) it.
pub struct BidiStream<Req, Resp> {
    sender: BidiSender<Req>,
    receiver: BidiReceiver<Resp>,
}

impl<Req, Resp> fmt::Debug for BidiStream<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BidiStream")
            .field("sender", &self.sender)
            .field("receiver", &self.receiver)
            .finish()
    }
}

impl<Req: RequestMessage + Send + 'static, Resp: Send + 'static> BidiStream<Req, Resp> {
    pub(crate) fn open<T: Channel>(
        client: &Client<T>,
        method: &'static MethodDescriptor,
        options: CallOptions,
        decode: DecodeFn<Resp>,
    ) -> Self {
        let cancel = Arc::new(Cancel::default());
        let (tx, mut rx) = mpsc::channel::<Frame>(SEND_BUFFER);
        let body_cancel = Arc::clone(&cancel);
        let mut cancel_sent = false;
        let frames = futures_util::stream::poll_fn(move |cx| {
            if cancel_sent {
                return Poll::Ready(None);
            }
            body_cancel.body.register(cx.waker());
            if body_cancel.is_cancelled() {
                cancel_sent = true;
                return Poll::Ready(Some(Err(canceled())));
            }
            rx.poll_recv(cx).map(|f| f.map(Ok))
        });
        let req = client.prepare(method, options, Box::pin(frames));
        let call = client.send(req);
        let (done_tx, done_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = done_tx.send(call.await);
        });
        let codec = client.config().codec();
        BidiStream {
            sender: BidiSender {
                tx: Some(tx),
                codec,
                cancel: Arc::clone(&cancel),
                _message: PhantomData,
            },
            receiver: BidiReceiver {
                state: State::Waiting { done_rx, task },
                cancel,
                codec,
                decode,
            },
        }
    }
}

impl<Req: RequestMessage, Resp> BidiStream<Req, Resp> {
    /// Sends one message, given by value or by reference (waits while the
    /// send buffer is full).
    pub async fn send(&mut self, message: impl Borrow<Req>) -> Result<(), ConnectError> {
        self.sender.send(message).await
    }

    /// Closes the sending side: the server sees the end of the requests.
    pub fn close_send(&mut self) {
        self.sender.close();
    }

    /// The response headers, waiting for them if needed.
    pub async fn headers(&mut self) -> Result<&HeaderMap, ConnectError> {
        self.receiver.headers().await
    }

    /// The next response message: `None` at the end.
    pub async fn message(&mut self) -> Option<Result<Resp, ConnectError>> {
        self.receiver.message().await
    }

    /// The trailers, once the responses ended without error.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.receiver.trailers()
    }

    /// Cancels the call.
    pub fn cancel(&mut self) {
        self.receiver.cancel();
    }

    /// The two halves, to use from different tasks.
    pub fn split(self) -> (BidiSender<Req>, BidiReceiver<Resp>) {
        (self.sender, self.receiver)
    }
}

/// The sending half of a bidirectional call. Dropping it (or
/// [`close`](Self::close)) ends the requests; it does not cancel the call.
pub struct BidiSender<Req> {
    tx: Option<mpsc::Sender<Frame>>,
    codec: Codec,
    cancel: Arc<Cancel>,
    _message: PhantomData<fn(Req)>,
}

impl<Req> fmt::Debug for BidiSender<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BidiSender")
            .field("closed", &self.tx.is_none())
            .finish()
    }
}

impl<Req: RequestMessage> BidiSender<Req> {
    /// Sends one message. Fails with `canceled` after a cancel, and with
    /// `aborted` once the call has ended — read the receiver for its
    /// status. The message is given by value or by reference.
    pub async fn send(&mut self, message: impl Borrow<Req>) -> Result<(), ConnectError> {
        if self.cancel.is_cancelled() {
            return Err(canceled());
        }
        let Some(tx) = &self.tx else {
            return Err(ConnectError::failed_precondition(
                "the sending side is already closed",
            ));
        };
        let frame = Frame {
            data: connect_codec::codec::encode_prefixed(self.codec, message.borrow())?,
            compressed: false,
            prefixed: true,
        };
        tx.send(frame).await.map_err(|_| {
            ConnectError::aborted("the call has ended; its status is on the receiving side")
        })
    }

    /// Ends the requests (half-close).
    pub fn close(&mut self) {
        self.tx = None;
    }

    /// Cancels the whole call.
    pub fn cancel(&mut self) {
        self.tx = None;
        self.cancel.cancel();
    }
}

enum State<Resp> {
    Waiting {
        done_rx: oneshot::Receiver<Result<ClientResponse, ConnectError>>,
        task: JoinHandle<()>,
    },
    Open(Box<ServerStreaming<Resp>>),
    Failed(Option<ConnectError>),
}

/// The receiving half of a bidirectional call: a stream of response
/// messages. Dropping it cancels the call.
pub struct BidiReceiver<Resp> {
    state: State<Resp>,
    cancel: Arc<Cancel>,
    codec: Codec,
    decode: DecodeFn<Resp>,
}

impl<Resp> fmt::Debug for BidiReceiver<Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Waiting { .. } => "waiting for headers",
            State::Open(_) => "open",
            State::Failed(_) => "ended",
        };
        f.debug_struct("BidiReceiver")
            .field("state", &state)
            .finish()
    }
}

impl<Resp> Drop for BidiReceiver<Resp> {
    fn drop(&mut self) {
        if let State::Waiting { task, .. } = &self.state {
            task.abort();
        }
    }
}

impl<Resp> BidiReceiver<Resp> {
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.cancel.receiver.register(cx.waker());
        if self.cancel.is_cancelled() {
            if let State::Waiting { task, .. } = &self.state {
                task.abort();
            }
            if !matches!(self.state, State::Failed(_)) {
                self.state = State::Failed(Some(canceled()));
            }
        }
        loop {
            match &mut self.state {
                State::Waiting { done_rx, .. } => {
                    let result = match std::task::ready!(Pin::new(done_rx).poll(cx)) {
                        Ok(r) => r,
                        Err(_) => Err(canceled()),
                    };
                    self.state =
                        match result.and_then(|resp| streaming(self.codec, resp, self.decode)) {
                            Ok(s) => State::Open(Box::new(s)),
                            Err(e) => State::Failed(Some(e)),
                        };
                }
                State::Open(_) => return Poll::Ready(Ok(())),
                State::Failed(e) => {
                    return Poll::Ready(Err(e.clone().unwrap_or_else(canceled)));
                }
            }
        }
    }

    /// The response headers, waiting for them if needed.
    pub async fn headers(&mut self) -> Result<&HeaderMap, ConnectError> {
        std::future::poll_fn(|cx| self.poll_open(cx)).await?;
        match &self.state {
            State::Open(s) => Ok(s.headers()),
            _ => Err(canceled()),
        }
    }

    /// The next response message: `None` at the end.
    pub async fn message(&mut self) -> Option<Result<Resp, ConnectError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The trailers, once the responses ended without error.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        match &self.state {
            State::Open(s) => s.trailers(),
            _ => None,
        }
    }

    /// Cancels the call.
    pub fn cancel(&mut self) {
        self.cancel.cancel();
        if let State::Waiting { task, .. } = &self.state {
            task.abort();
        }
        if let State::Open(s) = &mut self.state {
            s.cancel();
        }
        self.state = State::Failed(Some(canceled()));
    }
}

impl<Resp> Unpin for BidiReceiver<Resp> {}

impl<Resp> Stream for BidiReceiver<Resp> {
    type Item = Result<Resp, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match std::task::ready!(this.poll_open(cx)) {
            Ok(()) => {}
            Err(e) => {
                // Report the failure once, then end.
                return Poll::Ready(match &mut this.state {
                    State::Failed(slot) => slot.take().map(Err),
                    _ => Some(Err(e)),
                });
            }
        }
        let State::Open(s) = &mut this.state else {
            return Poll::Ready(None);
        };
        Pin::new(&mut **s).poll_next(cx)
    }
}

impl<T: Channel> Client<T> {
    /// Opens a bidirectional call: send with the returned stream's sender
    /// half while reading its receiver half (full duplex over HTTP/2; over
    /// HTTP/1.1 the server answers once the sender is closed).
    ///
    /// The call runs on a tokio task, so this needs a tokio runtime.
    pub fn bidi_stream<Req, Resp>(
        &self,
        method: &'static MethodDescriptor,
        options: CallOptions,
    ) -> impl Future<Output = Result<BidiStream<Req, Resp>, ConnectError>>
    + Send
    + 'static
    + use<T, Req, Resp>
    where
        Req: RequestMessage + Send + 'static,
        Resp: ResponseMessage,
    {
        let opened = BidiStream::open(self, method, options, decode_owned::<Resp>);
        async move { Ok(opened) }
    }

    /// Like [`bidi_stream`](Self::bidi_stream), receiving each response
    /// message as a zero-copy view over its bytes instead of an owned
    /// message.
    pub fn bidi_stream_view<Req, V>(
        &self,
        method: &'static MethodDescriptor,
        options: CallOptions,
    ) -> impl Future<Output = Result<BidiStream<Req, OwnedView<V>>, ConnectError>>
    + Send
    + 'static
    + use<T, Req, V>
    where
        Req: RequestMessage + Send + 'static,
        V: MessageView<'static> + Send + 'static,
        V::Owned: DeserializeOwned,
    {
        let opened = BidiStream::open(self, method, options, decode_view::<V>);
        async move { Ok(opened) }
    }
}
