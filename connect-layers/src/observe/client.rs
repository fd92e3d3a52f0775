//! The client half: [`ClientTraceLayer`], the outermost layer of the
//! client stack, over [`ClientRequest`]s.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use connect_core::{ConnectError, Protocol};
use futures_core::Stream;
use http::Uri;
use http::uri::Authority;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;

use super::hooks::{self, CallInfo, Side};
use super::record::{CallRecord, poll_in_span, protocol_name, rpc_system};
use crate::rpc::client::{ClientRequest, ClientResponse, ItemStream, ResponseFrames, StreamItem};
use crate::rpc::{Frame, RequestMessages};

/// Layer applying [`ClientTrace`]; the client stack puts it outermost when
/// the `tracing` feature is on.
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientTraceLayer {
    protocol: Protocol,
    authority: Option<Authority>,
}

impl ClientTraceLayer {
    /// Calls in `protocol` to the server at `base_uri` (its host and port
    /// become `server.address` and `server.port`).
    pub fn new(protocol: Protocol, base_uri: &Uri) -> Self {
        ClientTraceLayer {
            protocol,
            authority: base_uri.authority().cloned(),
        }
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTrace<S>;

    fn layer(&self, inner: S) -> ClientTrace<S> {
        ClientTrace {
            inner,
            protocol: self.protocol,
            authority: self.authority.clone(),
        }
    }
}

/// Records each outgoing call as a client span (and for the
/// [`Observer`](super::Observer)), from the request to the last response
/// message, and lets the [`Propagator`](super::Propagator) add the trace
/// context to the request headers.
#[derive(Clone, Debug)]
pub struct ClientTrace<S> {
    inner: S,
    protocol: Protocol,
    authority: Option<Authority>,
}

crate::macros::define_inner_service_accessors!(ClientTrace);

impl<S> ClientTrace<S> {
    fn start(&self, req: &mut ClientRequest) -> Option<CallRecord> {
        let method = req.method;
        let span = tracing::info_span!(
            "rpc.client",
            otel.name = method.path().strip_prefix('/').unwrap_or(method.path()),
            otel.kind = "client",
            rpc.system = rpc_system(self.protocol),
            rpc.service = method.service(),
            rpc.method = method.method(),
            connectrpc.protocol = protocol_name(self.protocol),
            server.address = self.authority.as_ref().map(|a| a.host()),
            server.port = self.authority.as_ref().and_then(|a| a.port_u16()),
            rpc.grpc.status_code = Empty,
            rpc.connect_rpc.error_code = Empty,
            error.type = Empty,
            otel.status_code = Empty,
            otel.status_message = Empty,
            rpc.request.messages = Empty,
            rpc.request.size = Empty,
            rpc.response.messages = Empty,
            rpc.response.size = Empty,
        );
        let info = CallInfo {
            method,
            protocol: self.protocol,
            side: Side::Client,
        };
        let mut record = CallRecord::start(span, info)?;
        if let Some(p) = hooks::propagator() {
            p.inject(record.span(), &mut req.headers);
        }
        match &mut req.messages {
            RequestMessages::Unary(frame) => record.request_frame(frame),
            RequestMessages::Stream(_) => {
                let taken =
                    std::mem::replace(&mut req.messages, RequestMessages::Unary(Frame::default()));
                if let RequestMessages::Stream(frames) = taken {
                    req.messages = RequestMessages::Stream(record.count_request_stream(frames));
                }
            }
        }
        Some(record)
    }
}

impl<S> Service<ClientRequest> for ClientTrace<S>
where
    S: Service<ClientRequest, Response = ClientResponse, Error = ConnectError>,
{
    type Response = ClientResponse;
    type Error = ConnectError;
    type Future = ClientTraceFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: ClientRequest) -> Self::Future {
        let record = self.start(&mut req);
        let inner = match &record {
            None => self.inner.call(req),
            Some(record) => {
                let _entered = record.span().enter();
                self.inner.call(req)
            }
        };
        ClientTraceFuture { inner, record }
    }
}

pin_project! {
    /// The future of a [`ClientTrace`]d call.
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientTraceFuture<F> {
        #[pin]
        inner: F,
        record: Option<CallRecord>,
    }
}

impl<F> std::fmt::Debug for ClientTraceFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTraceFuture")
            .field("recorded", &self.record.is_some())
            .finish_non_exhaustive()
    }
}

impl<F> Future for ClientTraceFuture<F>
where
    F: Future<Output = Result<ClientResponse, ConnectError>>,
{
    type Output = Result<ClientResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (out, record) = ready!(poll_in_span(this.record, this.inner, cx));
        let Some(mut record) = record else {
            return Poll::Ready(out);
        };
        Poll::Ready(match out {
            Ok(mut resp) => {
                resp.messages = match resp.messages {
                    ResponseFrames::Unary { frame, trailers } => {
                        record.response_frame(&frame);
                        record.finish(None);
                        ResponseFrames::Unary { frame, trailers }
                    }
                    ResponseFrames::Stream(items) => {
                        ResponseFrames::Stream(Box::pin(RecordedItems {
                            inner: items,
                            record,
                        }))
                    }
                };
                Ok(resp)
            }
            Err(e) => {
                record.finish_with(Err(&e));
                Err(e)
            }
        })
    }
}

/// A streamed client response, recorded until its trailers or error.
struct RecordedItems {
    inner: ItemStream,
    record: CallRecord,
}

impl Stream for RecordedItems {
    type Item = Result<StreamItem, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = {
            let _entered = this.record.span().enter();
            this.inner.as_mut().poll_next(cx)
        };
        match &item {
            Poll::Ready(Some(Ok(StreamItem::Message(frame)))) => this.record.response_frame(frame),
            Poll::Ready(Some(Ok(StreamItem::Trailers(_))) | None) => this.record.finish(None),
            Poll::Ready(Some(Err(e))) => this.record.finish_with(Err(e)),
            Poll::Pending => {}
        }
        item
    }
}
