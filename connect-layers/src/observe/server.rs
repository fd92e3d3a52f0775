//! The server half: [`TraceLayer`] around a typed service, over
//! [`RpcRequest`]s.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use connect_core::{ConnectError, MethodDescriptor};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;
use tracing::field::{Empty, display};

use super::hooks::{self, CallInfo, PeerAddr, ServerAuthority, Side};
use super::record::{CallRecord, RecordedFrames, poll_in_span, protocol_name, rpc_system};
use super::traceparent::{TraceParent, tracestate};
use crate::handler::BoxFuture;
use crate::rpc::{
    Frame, NamedService, RequestHead, RequestMessages, ResponseMessages, RpcRequest, RpcResponse,
    RpcService,
};

/// Layer applying [`Trace`]: a span and a metrics record for every call of
/// the service it wraps. See the [module docs](super) for an example.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct TraceLayer {
    _priv: (),
}

impl TraceLayer {
    /// The layer (the hooks it calls are registered process-wide with
    /// [`set_propagator`](super::set_propagator) and
    /// [`set_observer`](super::set_observer)).
    pub const fn new() -> Self {
        TraceLayer { _priv: () }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner }
    }
}

/// Records each call of the wrapped service as a span (and for the
/// [`Observer`](super::Observer)), from the request to the last response
/// message. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
}

crate::macros::define_inner_service_accessors!(Trace);

impl<S> Trace<S> {
    /// `inner`, traced.
    pub const fn new(inner: S) -> Self {
        Trace { inner }
    }

    /// The layer.
    pub const fn layer() -> TraceLayer {
        TraceLayer::new()
    }
}

/// The span name of server calls; OpenTelemetry shows `otel.name`.
fn server_span(method: &'static MethodDescriptor, head: &RequestHead) -> Span {
    tracing::info_span!(
        "rpc.server",
        otel.name = method.path().strip_prefix('/').unwrap_or(method.path()),
        otel.kind = "server",
        rpc.system = rpc_system(head.protocol),
        rpc.service = method.service(),
        rpc.method = method.method(),
        connectrpc.protocol = protocol_name(head.protocol),
        server.address = Empty,
        server.port = Empty,
        client.address = Empty,
        client.port = Empty,
        rpc.grpc.status_code = Empty,
        rpc.connect_rpc.error_code = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_message = Empty,
        rpc.request.messages = Empty,
        rpc.request.size = Empty,
        rpc.response.messages = Empty,
        rpc.response.size = Empty,
        trace_id = Empty,
        parent_span_id = Empty,
        trace_flags = Empty,
        tracestate = Empty,
    )
}

/// `host[:port]` (an IPv6 host in brackets) split; `None` if malformed.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (name, Some(port.parse().ok()?)),
        _ => (host, None),
    };
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    (!name.is_empty()).then_some((name, port))
}

/// Records what the request head tells about the peers and the caller's
/// trace context.
fn record_head(span: &Span, head: &RequestHead) {
    let host = head
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| {
            let ServerAuthority(authority) = head.extensions.get::<ServerAuthority>()?;
            Some(authority.as_str())
        });
    if let Some((name, port)) = host.and_then(split_host) {
        span.record("server.address", name);
        if let Some(port) = port {
            span.record("server.port", port);
        }
    }
    if let Some(PeerAddr(addr)) = head.extensions.get::<PeerAddr>() {
        span.record("client.address", display(addr.ip()));
        span.record("client.port", addr.port());
    }
    if let Some(tp) = TraceParent::from_headers(&head.headers) {
        span.record("trace_id", display(format_args!("{:032x}", tp.trace_id())));
        span.record(
            "parent_span_id",
            display(format_args!("{:016x}", tp.parent_id())),
        );
        span.record("trace_flags", tp.flags());
        if let Some(state) = tracestate(&head.headers) {
            span.record("tracestate", state);
        }
    }
}

/// Starts the record of `req`'s call, counting its request messages;
/// `None` when nobody listens.
fn start(req: &mut RpcRequest) -> Option<CallRecord> {
    let info = CallInfo {
        method: req.head.method,
        protocol: req.head.protocol,
        side: Side::Server,
    };
    let mut record = CallRecord::start(server_span(req.head.method, &req.head), info)?;
    if !record.span().is_disabled() {
        record_head(record.span(), &req.head);
    }
    if let Some(p) = hooks::propagator() {
        p.extract(&req.head.headers, record.span());
    }
    record.set_deadline(req.head.deadline);
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

impl<S> Service<RpcRequest> for Trace<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = ConnectError>,
{
    type Response = RpcResponse;
    type Error = ConnectError;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: RpcRequest) -> Self::Future {
        match start(&mut req) {
            None => ResponseFuture::new(self.inner.call(req), None),
            Some(record) => {
                let fut = {
                    let _entered = record.span().enter();
                    self.inner.call(req)
                };
                ResponseFuture::new(fut, Some(record))
            }
        }
    }
}

/// A traced generated server is still served through a shared reference
/// (`Router::add_service`); a call nobody listens to costs no allocation,
/// a recorded one boxes the recording future.
impl<S: RpcService> RpcService for Trace<S> {
    fn call_rpc(&self, mut req: RpcRequest) -> BoxFuture<Result<RpcResponse, ConnectError>> {
        match start(&mut req) {
            None => self.inner.call_rpc(req),
            Some(record) => {
                let fut = {
                    let _entered = record.span().enter();
                    self.inner.call_rpc(req)
                };
                Box::pin(ResponseFuture::new(fut, Some(record)))
            }
        }
    }
}

impl<S: NamedService> NamedService for Trace<S> {
    const SERVICE_NAME: &'static str = S::SERVICE_NAME;
    const METHODS: &'static [MethodDescriptor] = S::METHODS;
}

pin_project! {
    /// The future of a [`Trace`]d call: the span is entered while the
    /// handler runs; a streamed response carries the record on.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        record: Option<CallRecord>,
    }
}

impl<F> ResponseFuture<F> {
    fn new(inner: F, record: Option<CallRecord>) -> Self {
        ResponseFuture { inner, record }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("recorded", &self.record.is_some())
            .finish_non_exhaustive()
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, ConnectError>>,
{
    type Output = Result<RpcResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (out, record) = ready!(poll_in_span(this.record, this.inner, cx));
        let Some(mut record) = record else {
            return Poll::Ready(out);
        };
        Poll::Ready(match out {
            Ok(mut resp) => {
                resp.messages = match resp.messages {
                    ResponseMessages::Unary(frame) => {
                        record.response_frame(&frame);
                        record.finish(None);
                        ResponseMessages::Unary(frame)
                    }
                    ResponseMessages::Stream(frames) => {
                        ResponseMessages::Stream(Box::pin(RecordedFrames::new(frames, record)))
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

#[cfg(test)]
mod tests {
    use super::split_host;

    #[test]
    fn hosts_split_into_name_and_port() {
        assert_eq!(split_host("example.com"), Some(("example.com", None)));
        assert_eq!(
            split_host("example.com:8080"),
            Some(("example.com", Some(8080)))
        );
        assert_eq!(split_host("[::1]:443"), Some(("::1", Some(443))));
        assert_eq!(split_host("[::1]"), Some(("::1", None)));
        assert_eq!(split_host("a:99999"), None);
        assert_eq!(split_host(":80"), None);
    }
}
