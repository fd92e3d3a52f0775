//! The response body every protocol stack produces.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::envelope::encode_envelope;
use connect_codec::{error_json, grpc_status};
use connect_core::{ConnectError, flags};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use super::batch::Batcher;
use crate::rpc::FrameStream;

/// How a streamed response ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEnd {
    /// Connect: a final envelope with flag `0x02` and a JSON end-of-stream
    /// message.
    ConnectEndStream,
    /// gRPC: HTTP trailers with `grpc-status` and friends.
    GrpcTrailers,
    /// gRPC-Web: a final envelope with flag `0x80` holding the trailers as
    /// an HTTP/1-style header block.
    GrpcWebTrailers,
}

/// The body of a response: empty, one buffer, or a stream of envelopes
/// followed by the protocol's end-of-stream.
pub struct ResponseBody {
    kind: Kind,
    base64: bool,
}

enum Kind {
    Full(Option<Bytes>),
    /// Exactly one enveloped message, then the end: no stream machinery.
    Single {
        frame: Option<crate::rpc::Frame>,
        /// Boxed only when there are trailers: most calls have none.
        trailers: Option<Box<HeaderMap>>,
        done: bool,
        end: StreamEnd,
    },
    Stream(Box<Streaming>),
}

struct Streaming {
    /// The messages, those ready together gathered into one chunk.
    frames: Batcher,
    trailers: HeaderMap,
    end: StreamEnd,
    done: bool,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Full(b) => f
                .debug_struct("ResponseBody")
                .field("len", &b.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Single { end, .. } => {
                f.debug_struct("ResponseBody").field("single", end).finish()
            }
            Kind::Stream(s) => f
                .debug_struct("ResponseBody")
                .field("stream", &s.end)
                .finish(),
        }
    }
}

impl Default for ResponseBody {
    fn default() -> Self {
        ResponseBody::empty()
    }
}

// ===== impl ResponseBody =====

impl ResponseBody {
    /// An empty body.
    pub fn empty() -> Self {
        ResponseBody {
            kind: Kind::Full(None),
            base64: false,
        }
    }

    /// A body of exactly `bytes`.
    pub fn full(bytes: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Full(Some(bytes).filter(|b| !b.is_empty())),
            base64: false,
        }
    }

    /// A body writing each frame as an envelope, then ending as `end`
    /// says, with `trailers` as the call's trailing metadata.
    pub fn stream(frames: FrameStream, trailers: HeaderMap, end: StreamEnd) -> Self {
        ResponseBody {
            kind: Kind::Stream(Box::new(Streaming {
                frames: Batcher::new(frames, usize::MAX),
                trailers,
                end,
                done: false,
            })),
            base64: false,
        }
    }

    /// A body holding one enveloped message and the end of the call: the
    /// unary fast path for enveloped protocols.
    pub fn single(frame: crate::rpc::Frame, trailers: HeaderMap, end: StreamEnd) -> Self {
        ResponseBody {
            kind: Kind::Single {
                frame: Some(frame),
                trailers: (!trailers.is_empty()).then(|| Box::new(trailers)),
                done: false,
                end,
            },
            base64: false,
        }
    }

    /// This body with every data chunk base64-encoded (gRPC-Web text mode).
    pub fn into_base64(mut self) -> Self {
        self.base64 = true;
        self
    }

    /// A body holding only an end-of-stream carrying `error`.
    pub fn stream_error(error: ConnectError, trailers: HeaderMap, end: StreamEnd) -> Self {
        let frames: FrameStream = Box::pin(futures_util::stream::once(async { Err(error) }));
        Self::stream(frames, trailers, end)
    }
}

fn end_frame(end: StreamEnd, error: Option<&ConnectError>, trailers: &HeaderMap) -> Frame<Bytes> {
    match end {
        StreamEnd::GrpcTrailers => Frame::trailers(grpc_status::status_trailers(error, trailers)),
        StreamEnd::GrpcWebTrailers => {
            let block =
                grpc_status::web_trailer_block(&grpc_status::status_trailers(error, trailers));
            Frame::data(encode_envelope(flags::GRPC_WEB_TRAILERS, &block))
        }
        StreamEnd::ConnectEndStream => {
            let mut merged;
            let metadata = match error {
                Some(e) if !e.trailers().is_empty() => {
                    merged = trailers.clone();
                    for (k, v) in e.trailers() {
                        merged.append(k, v.clone());
                    }
                    &merged
                }
                _ => trailers,
            };
            let json = error_json::encode_end_stream(error, metadata);
            Frame::data(encode_envelope(flags::CONNECT_END_STREAM, &json))
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let base64 = self.base64;
        let frame = match &mut self.kind {
            Kind::Full(b) => b.take().map(Frame::data),
            Kind::Single {
                frame,
                trailers,
                done,
                end,
            } => match frame.take() {
                Some(frame) => Some(Frame::data(frame.into_envelope(0))),
                None if *done => None,
                None => {
                    *done = true;
                    let empty = HeaderMap::new();
                    let t = trailers.take();
                    Some(end_frame(*end, None, t.as_deref().unwrap_or(&empty)))
                }
            },
            Kind::Stream(s) => {
                if s.done {
                    return Poll::Ready(None);
                }
                Some(match std::task::ready!(s.frames.poll_chunk(cx)) {
                    Some(Ok(chunk)) => Frame::data(chunk),
                    Some(Err(err)) => {
                        s.done = true;
                        end_frame(s.end, Some(&err), &s.trailers)
                    }
                    None => {
                        s.done = true;
                        end_frame(s.end, None, &s.trailers)
                    }
                })
            }
        };
        Poll::Ready(frame.map(|f| {
            Ok(if base64 {
                f.map_data(|d| super::encode_chunk(&d))
            } else {
                f
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(b) => b.is_none(),
            Kind::Single { done, .. } => *done,
            Kind::Stream(s) => s.done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) if !self.base64 => {
                SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Full(_) | Kind::Single { .. } | Kind::Stream(_) => SizeHint::default(),
        }
    }
}
