//! An in-memory HTTP channel for client benchmarks: every framework's
//! generated client runs over the same tower service, which reads the
//! request body to the end (as a transport would) and answers with a
//! prebuilt response. No server, no socket: what is timed is the client.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use buffa::Message as _;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;

use crate::ours_proto::bench::v1::EchoResponse;

/// The response every call gets: one data frame, then (for gRPC) trailers.
///
/// Cloning it is one reference count, as for a real channel (hyper-util's
/// client, tonic's `Channel`): clients that clone their channel per call
/// pay no more than that.
#[derive(Clone, Debug)]
pub struct CannedChannel {
    canned: Arc<Canned>,
}

#[derive(Debug)]
struct Canned {
    content_type: HeaderValue,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

impl CannedChannel {
    fn of(content_type: &'static str, body: Bytes, trailers: Option<HeaderMap>) -> Self {
        CannedChannel {
            canned: Arc::new(Canned {
                content_type: HeaderValue::from_static(content_type),
                body,
                trailers,
            }),
        }
    }
}

/// The reply the canned answers carry.
pub const REPLY: &str = "hello";

fn reply() -> Bytes {
    EchoResponse {
        message: REPLY.into(),
        ..Default::default()
    }
    .encode_to_bytes()
}

fn envelopes(count: usize, flags: u8, payload: &[u8], out: &mut BytesMut) {
    for _ in 0..count {
        out.put_u8(flags);
        out.put_u32(payload.len() as u32);
        out.put_slice(payload);
    }
}

fn grpc_ok() -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", HeaderValue::from_static("0"));
    t
}

impl CannedChannel {
    /// A Connect unary answer: `application/proto`, the bare message.
    pub fn connect_unary() -> Self {
        Self::connect_unary_of(reply())
    }

    /// A Connect unary answer carrying the encoded message `payload`.
    pub fn connect_unary_of(payload: Bytes) -> Self {
        Self::of("application/proto", payload, None)
    }

    /// A gRPC unary answer: one envelope, then `grpc-status: 0`.
    pub fn grpc_unary() -> Self {
        Self::grpc_stream(1)
    }

    /// A Connect server stream of `count` messages and its end-of-stream.
    pub fn connect_stream(count: usize) -> Self {
        Self::connect_stream_of(count, &reply())
    }

    /// A Connect stream of `count` copies of `payload` and its
    /// end-of-stream.
    pub fn connect_stream_of(count: usize, payload: &[u8]) -> Self {
        let mut body = BytesMut::new();
        envelopes(count, 0, payload, &mut body);
        envelopes(1, 0x02, b"{}", &mut body);
        Self::of("application/connect+proto", body.freeze(), None)
    }

    /// A gRPC server stream of `count` messages, then `grpc-status: 0`.
    pub fn grpc_stream(count: usize) -> Self {
        Self::grpc_stream_of(count, &reply())
    }

    /// A gRPC answer of `count` copies of `payload`, then `grpc-status: 0`.
    pub fn grpc_stream_of(count: usize, payload: &[u8]) -> Self {
        let mut body = BytesMut::new();
        envelopes(count, 0, payload, &mut body);
        Self::of("application/grpc", body.freeze(), Some(grpc_ok()))
    }

    fn response(&self) -> Response<CannedBody> {
        let canned = &*self.canned;
        let mut resp = Response::new(CannedBody {
            data: Some(canned.body.clone()),
            trailers: canned.trailers.clone(),
        });
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, canned.content_type.clone());
        resp
    }
}

impl<B> tower_service::Service<Request<B>> for CannedChannel
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<CannedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<CannedBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let resp = self.response();
        Box::pin(async move {
            let mut body = std::pin::pin!(req.into_body());
            // Read (and drop) the request to its end, as a transport would;
            // a failing request body just ends the read.
            while let Some(Ok(frame)) = body.frame().await {
                drop(frame);
            }
            Ok(resp)
        })
    }
}

/// One data frame, then the trailers if any.
#[derive(Debug)]
pub struct CannedBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for CannedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.data.take() {
            Some(d) => Some(Ok(Frame::data(d))),
            None => self.trailers.take().map(|t| Ok(Frame::trailers(t))),
        };
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}
