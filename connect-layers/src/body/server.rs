//! The response body every protocol stack produces.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use connect_codec::envelope::put_prefix;
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
        _ => Frame::data(end_envelope(end, error, trailers)),
    }
}

/// The end of an enveloped stream (Connect, gRPC-Web) as its last
/// envelope; gRPC ends in HTTP trailers instead and has none (empty).
fn end_envelope(end: StreamEnd, error: Option<&ConnectError>, trailers: &HeaderMap) -> Bytes {
    let mut out = Vec::new();
    put_end(&mut out, end, error, trailers);
    Bytes::from(out)
}

/// Writes the envelope that ends an enveloped stream at the end of `out`
/// (nothing for gRPC, which ends in HTTP trailers).
fn put_end(out: &mut Vec<u8>, end: StreamEnd, error: Option<&ConnectError>, trailers: &HeaderMap) {
    let (flags, payload) = match end {
        StreamEnd::GrpcTrailers => return,
        StreamEnd::GrpcWebTrailers => (
            flags::GRPC_WEB_TRAILERS,
            grpc_status::web_trailer_block(&grpc_status::status_trailers(error, trailers)),
        ),
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
            (
                flags::CONNECT_END_STREAM,
                error_json::encode_end_stream(error, metadata),
            )
        }
    };
    put_prefix(out, flags, payload.len());
    out.extend_from_slice(&payload);
}

/// A message and the envelope ending its stream, in one chunk (so in one
/// DATA frame): the message is copied behind its prefix, the end after it.
fn with_end(frame: &crate::rpc::Frame, end: StreamEnd, trailers: &HeaderMap) -> Bytes {
    let mut chunk = Vec::with_capacity(
        connect_core::ENVELOPE_PREFIX_LEN + frame.payload().len() + super::batch::END_ROOM,
    );
    super::batch::append(&mut chunk, frame);
    put_end(&mut chunk, end, None, trailers);
    Bytes::from(chunk)
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
                // An enveloped end (Connect, gRPC-Web) rides in the
                // message's DATA frame, for a message no larger than a
                // gathered chunk (a larger one leaves uncopied, the end
                // in a frame of its own).
                Some(frame)
                    if *end != StreamEnd::GrpcTrailers
                        && frame.payload().len() <= super::batch::CHUNK_MAX =>
                {
                    *done = true;
                    let empty = HeaderMap::new();
                    let t = trailers.take();
                    Some(Frame::data(with_end(
                        &frame,
                        *end,
                        t.as_deref().unwrap_or(&empty),
                    )))
                }
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
                let Streaming {
                    frames,
                    trailers,
                    end,
                    done,
                } = &mut **s;
                // Messages that run up to the stream's end leave with the
                // end's envelope in their chunk (Connect, gRPC-Web).
                let tail = (*end != StreamEnd::GrpcTrailers)
                    .then_some(|out: &mut Vec<u8>| put_end(out, *end, None, trailers));
                Some(
                    match std::task::ready!(frames.poll_chunk_ending(cx, tail)) {
                        Some(Ok((chunk, ended))) => {
                            *done = ended;
                            Frame::data(chunk)
                        }
                        Some(Err(err)) => {
                            *done = true;
                            end_frame(*end, Some(&err), trailers)
                        }
                        None => {
                            *done = true;
                            end_frame(*end, None, trailers)
                        }
                    },
                )
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

#[cfg(test)]
mod tests {
    use super::*;
    use connect_codec::envelope::encode_envelope;
    use http_body_util::BodyExt as _;

    fn frames(messages: &[&'static [u8]]) -> FrameStream {
        let items: Vec<Result<crate::rpc::Frame, ConnectError>> = messages
            .iter()
            .map(|m| Ok(crate::rpc::Frame::new(Bytes::from_static(m))))
            .collect();
        Box::pin(futures_util::stream::iter(items))
    }

    /// The body's frames: each DATA frame's bytes, or `None` for trailers.
    async fn frames_of(mut body: ResponseBody) -> Vec<Option<Vec<u8>>> {
        let mut out = vec![];
        while let Some(frame) = body.frame().await {
            let frame = frame.unwrap();
            out.push(frame.into_data().ok().map(|d| d.to_vec()));
        }
        assert!(body.is_end_stream());
        out
    }

    fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
        encode_envelope(flags, payload).to_vec()
    }

    #[tokio::test]
    async fn a_connect_stream_ends_in_the_chunk_of_its_last_messages() {
        let body = ResponseBody::stream(
            frames(&[b"a", b"b"]),
            HeaderMap::new(),
            StreamEnd::ConnectEndStream,
        );
        let mut want = envelope(0, b"a");
        want.extend(envelope(0, b"b"));
        want.extend(envelope(flags::CONNECT_END_STREAM, b"{}"));
        assert_eq!(frames_of(body).await, vec![Some(want)]);
    }

    #[tokio::test]
    async fn a_grpc_stream_still_ends_in_trailers() {
        let body = ResponseBody::stream(frames(&[b"a"]), HeaderMap::new(), StreamEnd::GrpcTrailers);
        assert_eq!(frames_of(body).await, vec![Some(envelope(0, b"a")), None]);
    }

    #[tokio::test]
    async fn a_grpc_web_unary_answer_is_one_data_frame() {
        let body = ResponseBody::single(
            crate::rpc::Frame::new(Bytes::from_static(b"hi")),
            HeaderMap::new(),
            StreamEnd::GrpcWebTrailers,
        );
        let mut want = envelope(0, b"hi");
        want.extend(envelope(flags::GRPC_WEB_TRAILERS, b"grpc-status: 0\r\n"));
        assert_eq!(frames_of(body).await, vec![Some(want)]);
    }

    #[tokio::test]
    async fn a_large_unary_answer_leaves_uncopied_and_ends_apart() {
        let big = Bytes::from(vec![7u8; crate::body::batch::CHUNK_MAX + 1]);
        let body = ResponseBody::single(
            crate::rpc::Frame::new(big.clone()),
            HeaderMap::new(),
            StreamEnd::GrpcWebTrailers,
        );
        let got = frames_of(body).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Some(envelope(0, &big)));
        assert_eq!(
            got[1],
            Some(envelope(flags::GRPC_WEB_TRAILERS, b"grpc-status: 0\r\n"))
        );
    }

    #[tokio::test]
    async fn an_error_after_messages_ends_in_its_own_envelope() {
        let items: Vec<Result<crate::rpc::Frame, ConnectError>> = vec![
            Ok(crate::rpc::Frame::new(Bytes::from_static(b"a"))),
            Err(ConnectError::not_found("gone")),
        ];
        let body = ResponseBody::stream(
            Box::pin(futures_util::stream::iter(items)),
            HeaderMap::new(),
            StreamEnd::ConnectEndStream,
        );
        let got = frames_of(body).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Some(envelope(0, b"a")));
        let end = got[1].clone().unwrap();
        assert_eq!(end[0], flags::CONNECT_END_STREAM);
        assert!(String::from_utf8_lossy(&end[5..]).contains("not_found"));
    }

    #[tokio::test]
    async fn an_end_not_yet_seen_leaves_in_a_frame_of_its_own() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(Ok(crate::rpc::Frame::new(Bytes::from_static(b"a"))))
            .unwrap();
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut body = ResponseBody::stream(
            Box::pin(stream),
            HeaderMap::new(),
            StreamEnd::ConnectEndStream,
        );
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first.to_vec(), envelope(0, b"a"));
        assert!(!body.is_end_stream());
        drop(tx);
        let end = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(end.to_vec(), envelope(flags::CONNECT_END_STREAM, b"{}"));
        assert!(body.is_end_stream());
    }
}
