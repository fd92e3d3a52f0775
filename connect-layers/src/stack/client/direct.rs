//! The direct path of the client stack: the same concerns as the layers,
//! in the same order, run by one future, for every kind of call.
//!
//! Each layer of [`Layered`](super::Layered) builds its future around the
//! one below it and hands each answer up through its own `poll`: a call's
//! future was built by value seven times over and its answer moved four
//! times, which came to a sixth of a unary call's instructions in `memcpy`
//! alone (and more of its time: copies of that size are slow per byte
//! moved). Here each concern's request half runs in turn on the request
//! (the very functions its layer calls), the channel is called once, and
//! one state machine takes the answer through error mapping, gRPC-Web
//! text, framing and compression, racing the deadline throughout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use connect_core::{Codec, ConnectError, MethodDescriptor, Protocol, StreamType};
use http::{HeaderMap, HeaderName};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::compression::client as compression;
use crate::deadline::client::{Timing, after, arm, cut_at};
use crate::deadline::expired;
use crate::errors::client::{self as errors, Checked};
use crate::framing::client::{FramingConfig, Head, SingleRead, build_request, on_head};
use crate::get::client::{GetPolicy, to_get};
use crate::negotiate::client::write_headers;
use crate::protocol::encoding_headers;
use crate::rpc::client::{ClientRequest, ClientResponse};
use crate::web_text::client::{WebTextResponseBody, plain_response, text_request, text_response};
use crate::{BoxError, BoxFuture, ClientBody};

/// What the direct path needs of each layer, taken from the layers when the
/// stack is built.
#[derive(Debug)]
pub(super) struct Direct {
    /// The protocol on the wire.
    pub(super) protocol: Protocol,
    pub(super) compression: Arc<compression::Config>,
    /// The header naming the answer's encoding: for unary calls, and for
    /// streaming ones.
    pub(super) encodings: (HeaderName, HeaderName),
    pub(super) framing: Arc<FramingConfig>,
    pub(super) codec: Codec,
    pub(super) get_policy: GetPolicy,
    pub(super) max_get_url_bytes: usize,
    pub(super) web_text: bool,
    pub(super) errors: Arc<errors::Config>,
    /// The headers compression and negotiation write, for each stream
    /// type (by [`StreamType`] order), written once: a call with no
    /// headers of its own starts from a clone, with no header hashed.
    pub(super) templates: [HeaderMap; 4],
}

/// Every stream type, in the order of [`Direct::templates`].
const STREAM_TYPES: [StreamType; 4] = [
    StreamType::Unary,
    StreamType::ClientStream,
    StreamType::ServerStream,
    StreamType::BidiStream,
];

fn template_index(stream_type: StreamType) -> usize {
    match stream_type {
        StreamType::Unary => 0,
        StreamType::ClientStream => 1,
        StreamType::ServerStream => 2,
        StreamType::BidiStream => 3,
    }
}

/// The request headers compression and negotiation write for each stream
/// type, written by their own functions.
pub(super) fn header_templates(
    protocol: Protocol,
    codec: Codec,
    web_text: bool,
    compression: &compression::Config,
) -> [HeaderMap; 4] {
    STREAM_TYPES.map(|stream_type| {
        let mut headers = HeaderMap::new();
        compression::write_accept(compression, stream_type, &mut headers);
        write_headers(protocol, codec, web_text, stream_type, &mut headers);
        headers
    })
}

impl Direct {
    /// The header naming the encoding of a `stream_type` call's answer.
    fn encoding(&self, stream_type: StreamType) -> &HeaderName {
        match stream_type {
            StreamType::Unary => &self.encodings.0,
            _ => &self.encodings.1,
        }
    }

    /// Prepares `req` as the layers would and sends it down `channel`
    /// (ready): the call's future, built where it is returned (the
    /// channel's future is not moved through a tuple on its way there).
    pub(super) fn send<T, R>(
        self: &Arc<Self>,
        mut req: ClientRequest,
        channel: &mut T,
    ) -> DirectFuture<T::Future, R>
    where
        T: tower_service::Service<http::Request<ClientBody>>,
    {
        let (method, read_max) = (req.method, req.settings.read_max_bytes);
        let stream_type = req.method.stream_type();
        // With no headers of its own, the call starts from the headers
        // compression and negotiation would write; the deadline adds its
        // timeout to them (a header neither of them writes).
        let templated = req.headers.is_empty();
        if templated {
            req.headers = self.templates[template_index(stream_type)].clone();
        }
        let timing = arm(self.protocol, &mut req);
        if let Timing::Expired = timing {
            return DirectFuture::failed(self, method, read_max, expired());
        }
        let prepared = if templated {
            compression::compress_messages(&self.compression, &mut req)
        } else {
            compression::prepare(&self.compression, &mut req)
        };
        if let Err(e) = prepared {
            return DirectFuture::failed(self, method, read_max, after_deadline(timing, e));
        }
        let mut http = match build_request(&self.framing, req) {
            Ok(http) => http,
            Err(e) => {
                return DirectFuture::failed(self, method, read_max, after_deadline(timing, e));
            }
        };
        if !templated {
            write_headers(
                self.protocol,
                self.codec,
                self.web_text,
                stream_type,
                http.headers_mut(),
            );
        }
        if self.get_policy == GetPolicy::IfNoSideEffects {
            http = to_get(http, self.max_get_url_bytes);
        }
        if self.web_text {
            http = text_request(http);
        }
        DirectFuture {
            state: State::Head {
                fut: channel.call(http),
            },
            sleep: None,
            deadline: timing.deadline(),
            direct: Arc::clone(self),
            method,
            read_max,
        }
    }
}

pin_project! {
    /// The future of a call on the client stack: the channel's answer
    /// taken through every concern, raced against the deadline (and a
    /// streamed answer cut at it).
    pub struct DirectFuture<F, R> {
        #[pin]
        state: State<F, R>,
        // The deadline's timer, set the first time the call has to wait:
        // an answer already there needs none.
        sleep: Option<Pin<Box<Sleep>>>,
        deadline: Option<Instant>,
        direct: Arc<Direct>,
        method: &'static MethodDescriptor,
        read_max: usize,
    }
}

pin_project! {
    #[project = Proj]
    enum State<F, R> {
        /// Failed before anything was sent.
        Failed { error: Option<ConnectError> },
        /// Waiting for the channel's answer.
        Head { #[pin] fut: F },
        /// Reading a Connect unary error's body.
        ErrorBody { reading: BoxFuture<ConnectError> },
        /// Reading the answer's body.
        Reading { #[pin] read: SingleRead<WebTextResponseBody<R>> },
        /// Finished.
        Done,
    }
}

impl<F, R> std::fmt::Debug for DirectFuture<F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectFuture")
            .field("method", &self.method.path())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<F, R> DirectFuture<F, R> {
    /// A call that ended before anything was sent, with `error`.
    fn failed(
        direct: &Arc<Direct>,
        method: &'static MethodDescriptor,
        read_max: usize,
        error: ConnectError,
    ) -> Self {
        DirectFuture {
            state: State::Failed { error: Some(error) },
            sleep: None,
            deadline: None,
            direct: Arc::clone(direct),
            method,
            read_max,
        }
    }
}

/// `error`, for a call with deadline `timing`: as the deadline layer
/// reports an error of the call it bounds.
fn after_deadline(timing: Timing, error: ConnectError) -> ConnectError {
    match timing.deadline() {
        Some(deadline) => after(deadline, error),
        None => error,
    }
}

fn finished() -> ConnectError {
    ConnectError::internal("call future polled after completion")
}

impl<F, R, E> Future for DirectFuture<F, R>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    E: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Output = Result<ClientResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let polled = poll_state(
            this.state.as_mut(),
            cx,
            this.direct,
            this.method,
            *this.read_max,
        );
        let Poll::Ready(result) = polled else {
            if let Some(deadline) = *this.deadline
                && this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)))
                    .as_mut()
                    .poll(cx)
                    .is_ready()
            {
                this.state.set(State::Done);
                return Poll::Ready(Err(expired()));
            }
            return Poll::Pending;
        };
        this.state.set(State::Done);
        Poll::Ready(match (result, *this.deadline) {
            (Ok(resp), Some(deadline)) => Ok(cut_at(resp, deadline)),
            (Err(e), Some(deadline)) => Err(after(deadline, e)),
            (result, None) => result,
        })
    }
}

/// Drives the call's state to its answer (the deadline is the caller's).
fn poll_state<F, R, E>(
    mut state: Pin<&mut State<F, R>>,
    cx: &mut Context<'_>,
    direct: &Direct,
    method: &'static MethodDescriptor,
    read_max: usize,
) -> Poll<Result<ClientResponse, ConnectError>>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    E: Into<BoxError>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    loop {
        match state.as_mut().project() {
            Proj::Failed { error } => {
                return Poll::Ready(Err(error.take().unwrap_or_else(finished)));
            }
            Proj::Head { fut } => {
                let resp = match ready!(fut.poll(cx)) {
                    Ok(resp) if errors::is_answer(&direct.errors, method.stream_type(), &resp) => {
                        Checked::Answer(resp)
                    }
                    resp => errors::check(&direct.errors, method.stream_type(), resp),
                };
                match resp {
                    Checked::Answer(resp) => {
                        let resp = if direct.web_text {
                            text_response(resp)
                        } else {
                            plain_response(resp)
                        };
                        match on_head(&direct.framing, method, read_max, resp) {
                            Head::Read(read) => state.set(State::Reading { read }),
                            Head::Stream(resp) => {
                                return Poll::Ready(compression::finish(
                                    &direct.compression,
                                    direct.encoding(method.stream_type()),
                                    read_max,
                                    resp,
                                ));
                            }
                        }
                    }
                    Checked::Failed(e) => return Poll::Ready(Err(e)),
                    Checked::ReadError(reading) => state.set(State::ErrorBody { reading }),
                }
            }
            Proj::ErrorBody { reading } => return reading.as_mut().poll(cx).map(Err),
            Proj::Reading { read } => {
                let resp = ready!(read.poll_read(cx));
                return Poll::Ready(resp.and_then(|resp| {
                    let encoding = direct.encoding(method.stream_type());
                    compression::finish(&direct.compression, encoding, read_max, resp)
                }));
            }
            Proj::Done => return Poll::Ready(Err(finished())),
        }
    }
}

/// The headers naming the encoding of a unary and of a streaming call's
/// answer in `protocol`.
pub(super) fn answer_encodings(protocol: Protocol) -> (HeaderName, HeaderName) {
    (
        encoding_headers(protocol, StreamType::Unary).0,
        encoding_headers(protocol, StreamType::ClientStream).0,
    )
}
