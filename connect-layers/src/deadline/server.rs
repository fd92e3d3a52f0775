//! The server half of deadlines: the client's timeout header (`connect-timeout-ms` or
//! `grpc-timeout`) becomes the call's deadline, which the handler sees in
//! its [`Context`](crate::rpc::Context); when it passes, the call (or the
//! rest of its response stream) ends with `deadline_exceeded`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use connect_core::{Code, Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType};
//! use connect_layers::deadline::server::DeadlineLayer;
//! use connect_layers::rpc::{Frame, RequestHead, RequestMessages, RpcRequest, RpcResponse};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! static M: MethodDescriptor =
//!     MethodDescriptor::new("a.v1.S", "M", "/a.v1.S/M", StreamType::Unary, Idempotency::Unknown);
//!
//! let slow = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new())
//!     .service_fn(|req: RpcRequest| async move {
//!         assert!(req.head.deadline.is_some()); // handlers see the deadline
//!         tokio::time::sleep(Duration::from_secs(10)).await;
//!         Ok::<_, ConnectError>(RpcResponse::default())
//!     });
//! let mut headers = http::HeaderMap::new();
//! headers.insert("connect-timeout-ms", "250".parse().unwrap());
//! let req = RpcRequest {
//!     head: RequestHead {
//!         method: &M,
//!         protocol: Protocol::Connect,
//!         codec: Codec::Proto,
//!         headers,
//!         extensions: Default::default(),
//!         deadline: None,
//!     },
//!     messages: RequestMessages::Unary(Frame::default()),
//! };
//! let err = slow.oneshot(req).await.unwrap_err();
//! assert_eq!(err.code(), Code::DeadlineExceeded);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use connect_core::ConnectError;
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;

use super::{deadline_after, expired, request_timeout};
use crate::rpc::{FrameStream, ResponseMessages, RpcRequest, RpcResponse};

/// Layer applying [`Deadline`].
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct DeadlineLayer {
    max: Option<Duration>,
}

impl DeadlineLayer {
    /// A deadline layer honouring any timeout the client sends.
    pub const fn new() -> Self {
        DeadlineLayer { max: None }
    }

    /// Clamps client timeouts to at most `max`, and applies `max` to calls
    /// that sent none.
    pub const fn max_timeout(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            max: self.max,
        }
    }
}

/// Enforces the client's deadline. See the module docs.
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    max: Option<Duration>,
}

crate::macros::define_inner_service_accessors!(Deadline);

impl<S> Service<RpcRequest> for Deadline<S>
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
        let timeout = match request_timeout(req.head.protocol, &req.head.headers) {
            Ok(t) => t,
            Err(e) => return ResponseFuture::from_state(State::Failed { error: Some(e) }),
        };
        let timeout = match (timeout, self.max) {
            (Some(t), Some(max)) => Some(t.min(max)),
            (t, max) => t.or(max),
        };
        let Some(timeout) = timeout else {
            return ResponseFuture::from_state(State::Unbounded {
                fut: self.inner.call(req),
            });
        };
        if timeout.is_zero() {
            return ResponseFuture::from_state(State::Failed {
                error: Some(expired()),
            });
        }
        let Some(deadline) = deadline_after(timeout) else {
            // Too far away to represent: no deadline.
            return ResponseFuture::from_state(State::Unbounded {
                fut: self.inner.call(req),
            });
        };
        req.head.deadline = Some(deadline);
        ResponseFuture::from_state(State::Bounded {
            fut: self.inner.call(req),
            // Boxed: a timer is large, and calls without a deadline should
            // not carry (and move) one.
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
        })
    }
}

pin_project! {
    /// Response future of [`Deadline`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        /// No deadline.
        Unbounded {
            #[pin]
            fut: F,
        },
        /// Racing the inner future against the deadline.
        Bounded {
            #[pin]
            fut: F,
            sleep: Pin<Box<Sleep>>,
            deadline: Instant,
        },
        /// The request's timeout was invalid or already expired.
        Failed {
            error: Option<ConnectError>,
        },
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, ConnectError>>,
{
    type Output = Result<RpcResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Unbounded { fut } => fut.poll(cx),
            StateProj::Bounded {
                fut,
                sleep,
                deadline,
            } => {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(expired()));
                }
                let mut resp = std::task::ready!(fut.poll(cx))?;
                if let ResponseMessages::Stream(frames) = resp.messages {
                    resp.messages =
                        ResponseMessages::Stream(Box::pin(DeadlineStream::new(frames, *deadline)));
                }
                Poll::Ready(Ok(resp))
            }
            StateProj::Failed { error } => {
                Poll::Ready(Err(error.take().expect("polled after completion")))
            }
        }
    }
}

pin_project! {
    /// A response stream that ends with `deadline_exceeded` at the deadline.
    struct DeadlineStream {
        frames: FrameStream,
        #[pin]
        sleep: Sleep,
        done: bool,
    }
}

impl DeadlineStream {
    fn new(frames: FrameStream, deadline: Instant) -> Self {
        DeadlineStream {
            frames,
            sleep: tokio::time::sleep_until(deadline),
            done: false,
        }
    }
}

impl Stream for DeadlineStream {
    type Item = <FrameStream as Stream>::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if this.sleep.poll(cx).is_ready() {
            *this.done = true;
            return Poll::Ready(Some(Err(expired())));
        }
        let item = std::task::ready!(this.frames.as_mut().poll_next(cx));
        if item.as_ref().is_none_or(Result::is_err) {
            *this.done = true;
        }
        Poll::Ready(item)
    }
}

impl<F> ResponseFuture<F> {
    fn from_state(state: State<F>) -> Self {
        ResponseFuture { state }
    }
}
