//! Containing panics in the layers a user puts around the router.
//!
//! Generated handlers and their response streams already turn a panic into
//! `internal` (in `connect_layers::handler`). A panic in a tower layer of
//! the user's own, around the [`Router`](crate::Router) or its stacks,
//! would otherwise unwind into hyper and take the whole connection down
//! with it: every call on an HTTP/2 connection, or the HTTP/1.1 connection
//! with no answer. [`CatchPanicLayer`] contains it to the one call:
//!
//! - a panic before the response (in `poll_ready`, `call` or the response
//!   future) answers `internal` in the request's protocol: a Connect JSON
//!   error (or, for a Connect stream, an end-of-stream message), a gRPC or
//!   gRPC-Web trailers-only status;
//! - a panic while the response body streams ends that body with an error,
//!   which resets the HTTP/2 stream (`INTERNAL_ERROR`, which clients read as
//!   `internal`) and leaves the other streams alone; HTTP/1.1 cannot carry
//!   on after a broken body, so that connection closes.
//!
//! [`Server`](crate::Server) applies it around every service it serves; add
//! it yourself when you serve the router from your own hyper or axum loop.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut as _, Bytes, BytesMut};
use connect_codec::{error_json, grpc_status};
use connect_core::{ConnectError, Protocol, flags};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::router::detect_protocol;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps a service in [`CatchPanic`].
///
/// ```
/// use connect_server::{CatchPanicLayer, Router};
/// use tower::ServiceBuilder;
///
/// // For a router served from your own loop (`Server` does this itself):
/// let app = ServiceBuilder::new()
///     .layer(CatchPanicLayer::new())
///     .map_request(|req: http::Request<hyper::body::Incoming>| req) // your layers
///     .service(Router::new());
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer {
    _private: (),
}

impl CatchPanicLayer {
    /// The layer.
    pub fn new() -> Self {
        CatchPanicLayer::default()
    }
}

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic::new(inner)
    }
}

/// A service whose panics fail only the call they happen in: before the
/// response, the call is answered `internal` in its protocol's shape; in
/// the response body, the body ends with an error (an HTTP/2 stream reset,
/// which clients read as `internal`; HTTP/1.1 closes the connection).
#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
    /// `poll_ready` panicked: this clone answers `internal` without
    /// calling the service again.
    poisoned: bool,
}

impl<S> CatchPanic<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        CatchPanic {
            inner,
            poisoned: false,
        }
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for CatchPanic<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>, Error = Infallible>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<PanicSafeBody<ResB>>;
    type Error = Infallible;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if self.poisoned {
            return Poll::Ready(Ok(()));
        }
        match catch_unwind(AssertUnwindSafe(|| self.inner.poll_ready(cx))) {
            Ok(ready) => ready,
            Err(_) => {
                self.poisoned = true;
                Poll::Ready(Ok(()))
            }
        }
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let kind = Kind::of(&req);
        if self.poisoned {
            return CatchPanicFuture::failed(kind);
        }
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(fut) => CatchPanicFuture {
                state: State::Running { fut, kind },
            },
            Err(_) => CatchPanicFuture::failed(kind),
        }
    }
}

/// What the error answer must look like: the request's protocol, and its
/// content type (echoed on gRPC answers, telling a Connect stream apart).
struct Kind {
    protocol: Protocol,
    content_type: Option<HeaderValue>,
}

impl Kind {
    fn of<B>(req: &Request<B>) -> Self {
        let content_type = req.headers().get(header::CONTENT_TYPE);
        Kind {
            protocol: detect_protocol(content_type),
            content_type: content_type.cloned(),
        }
    }

    /// The protocol's answer for a call that failed with `err` before its
    /// response started.
    fn error_response<B: Body>(self, err: &ConnectError) -> Response<PanicSafeBody<B>> {
        let connect_stream = self.protocol == Protocol::Connect
            && self
                .content_type
                .as_ref()
                .is_some_and(|ct| ct.as_bytes().starts_with(b"application/connect+"));
        let (status, content_type, body) = match self.protocol {
            Protocol::Connect if connect_stream => {
                let json = error_json::encode_end_stream(Some(err), &HeaderMap::new());
                let mut framed = BytesMut::with_capacity(json.len() + 5);
                framed.put_u8(flags::CONNECT_END_STREAM);
                framed.put_u32(json.len() as u32);
                framed.put_slice(&json);
                (StatusCode::OK, self.content_type, Some(framed.freeze()))
            }
            Protocol::Grpc | Protocol::GrpcWeb => (StatusCode::OK, self.content_type, None),
            _ => (
                err.code().http_status(),
                Some(HeaderValue::from_static("application/json")),
                Some(error_json::encode_error(err)),
            ),
        };
        let mut resp = Response::new(PanicSafeBody::failed(body));
        *resp.status_mut() = status;
        if let Some(ct) = content_type {
            resp.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        if matches!(self.protocol, Protocol::Grpc | Protocol::GrpcWeb) {
            // Trailers-only: the status travels in the headers.
            resp.headers_mut()
                .extend(grpc_status::status_trailers(Some(err), &HeaderMap::new()));
        }
        resp
    }
}

/// The error a panicking layer's call fails with.
fn panicked() -> ConnectError {
    ConnectError::internal("a layer panicked while serving the call")
}

pin_project! {
    /// Response future of [`CatchPanic`].
    #[must_use = "futures do nothing unless polled"]
    pub struct CatchPanicFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] fut: F, kind: Kind },
        Failed { kind: Option<Kind> },
    }
}

impl<F> CatchPanicFuture<F> {
    fn failed(kind: Kind) -> Self {
        CatchPanicFuture {
            state: State::Failed { kind: Some(kind) },
        }
    }
}

impl<F, B> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
    B: Body,
{
    type Output = Result<Response<PanicSafeBody<B>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running { fut, kind } => {
                match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                    Ok(Poll::Ready(Ok(resp))) => Poll::Ready(Ok(resp.map(PanicSafeBody::new))),
                    Ok(Poll::Pending) => Poll::Pending,
                    Err(_) => {
                        let kind = Kind {
                            protocol: kind.protocol,
                            content_type: kind.content_type.take(),
                        };
                        Poll::Ready(Ok(kind.error_response(&panicked())))
                    }
                }
            }
            StateProj::Failed { kind } => Poll::Ready(Ok(kind
                .take()
                .expect("polled after completion")
                .error_response(&panicked()))),
        }
    }
}

pin_project! {
    /// Response body of [`CatchPanic`]: the service's own, ending with an
    /// error if it panics, or the error answer written for a panic.
    pub struct PanicSafeBody<B> {
        #[pin]
        inner: Inner<B>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<B> {
        Body { #[pin] body: B },
        Failed { bytes: Option<Bytes> },
    }
}

impl<B> PanicSafeBody<B> {
    fn new(body: B) -> Self {
        PanicSafeBody {
            inner: Inner::Body { body },
        }
    }

    fn failed(bytes: Option<Bytes>) -> Self {
        PanicSafeBody {
            inner: Inner::Failed { bytes },
        }
    }
}

impl<B> Body for PanicSafeBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().inner.project() {
            InnerProj::Body { body } => {
                match catch_unwind(AssertUnwindSafe(|| body.poll_frame(cx))) {
                    Ok(polled) => polled.map(|frame| frame.map(|f| f.map_err(Into::into))),
                    Err(_) => Poll::Ready(Some(Err(Box::new(panicked())))),
                }
            }
            InnerProj::Failed { bytes } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Body { body } => body.is_end_stream(),
            Inner::Failed { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Body { body } => body.size_hint(),
            Inner::Failed { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

impl<B> std::fmt::Debug for PanicSafeBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PanicSafeBody").finish_non_exhaustive()
    }
}

impl<F> std::fmt::Debug for CatchPanicFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatchPanicFuture").finish_non_exhaustive()
    }
}
