//! The response future of [`Framing`](super::Framing).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use connect_core::{ConnectError, Protocol};
use http::{Response, header};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::body::{body_error, body_limit, single_envelope};
use crate::body::server::{ResponseBody, StreamEnd};
use crate::framing::Collected;
use crate::framing::copy_metadata;
use crate::protocol::Negotiated;
use crate::rpc::{Frame, RequestHead, RequestMessages, ResponseMessages, RpcRequest, RpcResponse};

pin_project! {
    /// Response future of [`Framing`](super::Framing): reads the request
    /// body if the call needs it whole, calls the service, and frames the
    /// answer.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B>
    where
        S: Service<RpcRequest>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<RpcRequest>,
    {
        Collect {
            #[pin]
            body: B,
            collected: Collected,
            svc: Option<S>,
            head: Option<RequestHead>,
            negotiated: Negotiated,
            read_max_bytes: usize,
        },
        Called {
            #[pin]
            fut: S::Future,
            negotiated: Negotiated,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<RpcRequest>,
{
    pub(super) fn called(fut: S::Future, negotiated: Negotiated) -> Self {
        ResponseFuture {
            state: State::Called { fut, negotiated },
        }
    }

    pub(super) fn collect(
        svc: S,
        head: RequestHead,
        body: B,
        negotiated: Negotiated,
        read_max_bytes: usize,
    ) -> Self {
        ResponseFuture {
            state: State::Collect {
                body,
                collected: Collected::default(),
                svc: Some(svc),
                head: Some(head),
                negotiated,
                read_max_bytes,
            },
        }
    }
}

fn too_large(limit: usize) -> ConnectError {
    ConnectError::resource_exhausted(format!(
        "request message is larger than configured max {limit}"
    ))
}

/// The single request frame of a whole body.
fn whole_body_frame(
    bytes: bytes::Bytes,
    head: &RequestHead,
    n: &Negotiated,
    limit: usize,
) -> Result<Frame, ConnectError> {
    if n.enveloped || n.protocol != Protocol::Connect {
        return single_envelope(bytes, limit);
    }
    let compressed = !bytes.is_empty()
        && connect_core::metadata::find(&head.headers, &header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes() != b"identity");
    Ok(Frame {
        data: bytes,
        compressed,
        prefixed: false,
    })
}

/// Writes an [`RpcResponse`] as the negotiated protocol's HTTP response.
pub(crate) fn frame_response(
    n: &Negotiated,
    resp: RpcResponse,
) -> Result<Response<ResponseBody>, ConnectError> {
    let RpcResponse {
        headers,
        trailers,
        messages,
    } = resp;
    let mut out = Response::new(ResponseBody::empty());
    *out.headers_mut() = headers;
    out.headers_mut()
        .insert(header::CONTENT_TYPE, n.response_content_type_value());
    if !n.enveloped {
        copy_metadata(out.headers_mut(), &trailers, true);
        *out.body_mut() = match messages {
            ResponseMessages::Unary(frame) => ResponseBody::full(frame.into_payload()),
            ResponseMessages::Stream(_) => {
                return Err(ConnectError::internal("unary method produced a stream"));
            }
        };
        return Ok(out);
    }
    let end = match n.protocol {
        Protocol::Grpc => StreamEnd::GrpcTrailers,
        Protocol::GrpcWeb => StreamEnd::GrpcWebTrailers,
        _ => StreamEnd::ConnectEndStream,
    };
    *out.body_mut() = match messages {
        ResponseMessages::Stream(frames) => ResponseBody::stream(frames, trailers, end),
        ResponseMessages::Unary(frame) => ResponseBody::single(frame, trailers, end),
    };
    Ok(out)
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError>,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<ResponseBody>, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let next = match this.state.as_mut().project() {
                StateProj::Collect {
                    mut body,
                    collected,
                    svc,
                    head,
                    negotiated,
                    read_max_bytes,
                } => {
                    let limit = body_limit(*read_max_bytes, negotiated.enveloped);
                    loop {
                        match std::task::ready!(body.as_mut().poll_frame(cx)) {
                            Some(Ok(frame)) => {
                                if let Ok(data) = frame.into_data()
                                    && !collected.push(data, limit)
                                {
                                    return Poll::Ready(Err(too_large(*read_max_bytes)));
                                }
                            }
                            Some(Err(e)) => return Poll::Ready(Err(body_error(e))),
                            None => break,
                        }
                    }
                    let head = head.take().expect("polled after completion");
                    let bytes = std::mem::take(collected).into_bytes();
                    let frame = match whole_body_frame(bytes, &head, negotiated, *read_max_bytes) {
                        Ok(f) => f,
                        Err(e) => return Poll::Ready(Err(e)),
                    };
                    let mut svc = svc.take().expect("polled after completion");
                    let fut = svc.call(RpcRequest {
                        head,
                        messages: RequestMessages::Unary(frame),
                    });
                    State::Called {
                        fut,
                        negotiated: *negotiated,
                    }
                }
                StateProj::Called { fut, negotiated } => {
                    let resp = std::task::ready!(fut.poll(cx))?;
                    return Poll::Ready(frame_response(negotiated, resp));
                }
            };
            this.state.set(next);
        }
    }
}
