//! [`ResponseFuture`]: the response of one call, read whole when the method
//! answers once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use connect_codec::compression::IDENTITY;
use connect_codec::grpc_status;
use connect_core::{ConnectError, MethodDescriptor, Protocol, StreamType, metadata};
use http::HeaderMap;
use http_body::Body;
use pin_project_lite::pin_project;

use super::FramingConfig;
use super::reader::{EnvelopeReader, ItemReader, body_error, message_encoding, too_large};
use crate::BoxError;
use crate::framing::Collected;
use crate::framing::take_trailer_headers;
use crate::protocol::encoding_headers;
use crate::rpc::Frame;
use crate::rpc::client::{ClientResponse, ResponseFrames, StreamItem};

pin_project! {
    /// The response future of [`Framing`](super::Framing): waits for the
    /// answer's head, then reads a single-response body whole (Connect
    /// unary: the bare body; otherwise exactly one envelope and the
    /// trailers) or hands a streamed body up as items.
    pub struct ResponseFuture<F, R> {
        #[pin]
        state: State<F, R>,
    }
}

pin_project! {
    #[project = Proj]
    enum State<F, R> {
        /// Failed before sending.
        Failed { error: Option<ConnectError> },
        /// Waiting for the response head.
        Calling {
            #[pin]
            fut: F,
            config: Arc<FramingConfig>,
            method: &'static MethodDescriptor,
            read_max: usize,
        },
        /// Reading the body of a single-response call.
        Reading {
            #[pin]
            read: SingleRead<R>,
        },
        /// Finished.
        Done,
    }
}

impl<F, R> ResponseFuture<F, R> {
    pub(super) fn new(
        fut: F,
        config: Arc<FramingConfig>,
        method: &'static MethodDescriptor,
        read_max: usize,
    ) -> Self {
        ResponseFuture {
            state: State::Calling {
                fut,
                config,
                method,
                read_max,
            },
        }
    }

    pub(super) fn failed(error: ConnectError) -> Self {
        ResponseFuture {
            state: State::Failed { error: Some(error) },
        }
    }
}

impl<F, R> std::fmt::Debug for ResponseFuture<F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

fn finished() -> ConnectError {
    ConnectError::internal("response future polled after completion")
}

impl<F, R> Future for ResponseFuture<F, R>
where
    F: Future<Output = Result<http::Response<R>, ConnectError>>,
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    type Output = Result<ClientResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                Proj::Failed { error } => {
                    let e = error.take().unwrap_or_else(finished);
                    state.set(State::Done);
                    return Poll::Ready(Err(e));
                }
                Proj::Done => return Poll::Ready(Err(finished())),
                Proj::Calling {
                    fut,
                    config,
                    method,
                    read_max,
                } => {
                    let head =
                        ready!(fut.poll(cx)).map(|resp| on_head(config, method, *read_max, resp));
                    match head {
                        Ok(Head::Read(read)) => State::Reading { read },
                        Ok(Head::Stream(resp)) => {
                            state.set(State::Done);
                            return Poll::Ready(Ok(resp));
                        }
                        Err(e) => {
                            state.set(State::Done);
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                Proj::Reading { read } => {
                    let result = ready!(read.poll_read(cx));
                    state.set(State::Done);
                    return Poll::Ready(result);
                }
            };
            state.set(next);
        }
    }
}

/// What framing makes of an answer's head.
pub(crate) enum Head<R> {
    /// A single-response call: its body is read whole.
    Read(SingleRead<R>),
    /// A streamed answer, handed up as it is.
    Stream(ClientResponse),
}

/// Framing's decision on an answer's head (`method` is the call's, the
/// answer's status and content type already checked): a single answer is
/// read whole (the bare body for Connect unary, else one envelope and the
/// end of the call); a streamed body becomes a stream of items.
#[inline]
pub(crate) fn on_head<R>(
    config: &Arc<FramingConfig>,
    method: &'static MethodDescriptor,
    read_max: usize,
    resp: http::Response<R>,
) -> Head<R>
where
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    let (parts, body) = resp.into_parts();
    let mut headers = parts.headers;
    if config.protocol == Protocol::Connect && method.stream_type() == StreamType::Unary {
        let trailers = take_trailer_headers(&mut headers);
        let compressed = metadata::find(&headers, &http::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes() != IDENTITY.as_bytes());
        Head::Read(SingleRead::Bare {
            body,
            collect: Collected::default(),
            headers,
            trailers,
            compressed,
            read_max,
        })
    } else if method.stream_type().server_streams() {
        let items = ItemReader {
            encoding: message_encoding(config, &headers),
            headers: reader_headers(config.protocol, &headers),
            reader: EnvelopeReader::new(body, read_max, Arc::clone(config)),
        };
        Head::Stream(ClientResponse {
            headers,
            messages: ResponseFrames::Stream(Box::pin(items)),
        })
    } else {
        Head::Read(SingleRead::Single {
            reader: EnvelopeReader::new(body, read_max, Arc::clone(config)),
            headers,
            message: None,
        })
    }
}

pin_project! {
    /// The body of a single-response call being read: the bare body of a
    /// Connect unary answer, or the one envelope and the end of the call.
    #[project = ReadProj]
    pub(crate) enum SingleRead<R> {
        /// Reading a Connect unary body.
        Bare {
            #[pin]
            body: R,
            collect: Collected,
            headers: HeaderMap,
            trailers: HeaderMap,
            compressed: bool,
            read_max: usize,
        },
        /// Reading the one envelope of a single-response call, and its end.
        Single {
            #[pin]
            reader: EnvelopeReader<R>,
            headers: HeaderMap,
            message: Option<Frame>,
        },
    }
}

impl<R> SingleRead<R>
where
    R: Body<Data = Bytes> + Send + 'static,
    R::Error: Into<BoxError>,
{
    /// Reads on; the answer once the body has ended (after which this is
    /// spent: its headers are handed on).
    pub(crate) fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ClientResponse, ConnectError>> {
        match self.project() {
            ReadProj::Bare {
                mut body,
                collect,
                headers,
                trailers,
                compressed,
                read_max,
            } => {
                let done = loop {
                    match ready!(body.as_mut().poll_frame(cx)) {
                        Some(Ok(frame)) => {
                            if let Ok(data) = frame.into_data()
                                && !collect.push(data, *read_max)
                            {
                                break Err(too_large(*read_max));
                            }
                        }
                        Some(Err(e)) => break Err(body_error(e)),
                        None => break Ok(collect.take()),
                    }
                };
                Poll::Ready(done.map(|data| ClientResponse {
                    headers: std::mem::take(headers),
                    messages: ResponseFrames::Unary {
                        frame: Frame {
                            compressed: *compressed && !data.is_empty(),
                            data,
                            prefixed: false,
                        },
                        trailers: std::mem::take(trailers),
                    },
                }))
            }
            ReadProj::Single {
                mut reader,
                headers,
                message,
            } => {
                let result = loop {
                    match ready!(reader.as_mut().poll_item(cx, headers)) {
                        Some(Ok(StreamItem::Message(f))) => {
                            if message.replace(f).is_some() {
                                // A second message is already a
                                // violation: don't wait for the rest.
                                break cardinality(2, headers, HeaderMap::new());
                            }
                        }
                        Some(Ok(StreamItem::Trailers(trailers))) => match message.take() {
                            Some(frame) => {
                                break Ok(ClientResponse {
                                    headers: std::mem::take(headers),
                                    messages: ResponseFrames::Unary {
                                        frame,
                                        trailers: trailers.into_map(),
                                    },
                                });
                            }
                            None => break cardinality(0, headers, trailers.into_map()),
                        },
                        Some(Err(mut e)) => {
                            *e.headers_mut() = std::mem::take(headers);
                            break Err(e);
                        }
                        None => break cardinality(0, headers, HeaderMap::new()),
                    }
                };
                Poll::Ready(result)
            }
        }
    }
}

/// What a streamed answer's reader keeps of the response headers: all of
/// them when they carry a gRPC status (a trailers-only answer, whose
/// headers are its trailers), else only the encoding header a compressed
/// end-of-stream message is read with — usually nothing, so no copy of the
/// map per stream.
fn reader_headers(protocol: Protocol, headers: &HeaderMap) -> HeaderMap {
    if protocol != Protocol::Connect && metadata::find(headers, &grpc_status::GRPC_STATUS).is_some()
    {
        return headers.clone();
    }
    let (encoding, _) = encoding_headers(protocol, StreamType::BidiStream);
    let mut kept = HeaderMap::new();
    if let Some(v) = metadata::find(headers, &encoding) {
        kept.insert(encoding, v.clone());
    }
    kept
}

/// The error for a single-response call that got `n` messages (0, or 2
/// for "more than one").
fn cardinality(
    n: usize,
    headers: &mut HeaderMap,
    trailers: HeaderMap,
) -> Result<ClientResponse, ConnectError> {
    let n = if n > 1 { "more than one" } else { "0" };
    let mut e =
        ConnectError::unimplemented(format!("response has {n} messages; expected exactly one"));
    *e.headers_mut() = std::mem::take(headers);
    *e.trailers_mut() = trailers;
    Err(e)
}
