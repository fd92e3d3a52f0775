//! The response future and body of a balanced channel: they keep the
//! endpoint's load and outlier counts, and stamp [`ServedBy`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use http::Response;

use std::net::SocketAddr;

use super::endpoint::{SendFuture, Ticket};
use super::resolve::BoxFuture;
use super::state::{Pick, Shared};
use crate::resilience::ServedBy;
use crate::transport::ResponseBody;

/// A call in flight on one endpoint: counted in its load until the
/// response body ends or is dropped; its outcome feeds outlier detection.
pub(crate) struct Guard {
    shared: Arc<Shared>,
    ticket: Ticket,
    started: Instant,
    /// `None`: not a call's outcome (a request handed back unsent).
    success: Option<bool>,
    broken: bool,
}

impl Guard {
    pub(crate) fn new(shared: Arc<Shared>, ticket: Ticket) -> Self {
        Guard {
            shared,
            ticket,
            started: Instant::now(),
            success: Some(true),
            broken: false,
        }
    }

    fn failed(&mut self, err: &ConnectError) {
        if is_failure(err.code()) {
            self.success = Some(false);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.finish(&self.ticket, self.success, self.broken);
    }
}

/// The gRPC codes that count as an endpoint's failure (A50 leaves the
/// choice to the implementation; these say the server, not the call, is
/// at fault).
fn is_failure(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::Internal | Code::Unknown | Code::DeadlineExceeded
    )
}

/// Whether a `grpc-status` value counts as a failure.
fn grpc_status_fails(value: Option<&http::HeaderValue>) -> bool {
    matches!(
        value.map(http::HeaderValue::as_bytes),
        Some(b"2" | b"13" | b"14")
    )
}

/// The response future of a [`BalancedChannel`](super::BalancedChannel).
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: Inner,
}

enum Inner {
    Sending {
        fut: SendFuture,
        guard: Option<Guard>,
        /// The call's `Attempt::avoid`, for a request sent elsewhere.
        avoid: Vec<SocketAddr>,
        /// How often a request a connection handed back unsent went to
        /// another one.
        redispatched: u8,
    },
    /// Waiting for an endpoint (resolution, a first connection).
    Waiting(BoxFuture<'static, Result<Response<BalancedBody>, ConnectError>>),
    Failed(Option<ConnectError>),
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.inner {
            Inner::Sending { .. } => "Sending",
            Inner::Waiting(_) => "Waiting",
            Inner::Failed(_) => "Failed",
        };
        f.debug_tuple("ResponseFuture").field(&state).finish()
    }
}

impl ResponseFuture {
    pub(crate) fn sending(fut: SendFuture, guard: Guard, avoid: Vec<SocketAddr>) -> Self {
        ResponseFuture {
            inner: Inner::Sending {
                fut,
                guard: Some(guard),
                avoid,
                redispatched: 0,
            },
        }
    }

    pub(crate) fn waiting(
        fut: BoxFuture<'static, Result<Response<BalancedBody>, ConnectError>>,
    ) -> Self {
        ResponseFuture {
            inner: Inner::Waiting(fut),
        }
    }

    pub(crate) fn failed(err: ConnectError) -> Self {
        ResponseFuture {
            inner: Inner::Failed(Some(err)),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<BalancedBody>, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Inner::Sending {
                fut,
                guard,
                avoid,
                redispatched,
            } => loop {
                let result = match fut {
                    SendFuture::Pooled(f) => ready!(Pin::new(f).poll(cx)),
                    SendFuture::H2(f) => match ready!(f.as_mut().poll(cx)) {
                        Ok(resp) => Ok(resp.map(ResponseBody::from_incoming)),
                        Err(mut e) => match e.take_message() {
                            // Never sent: the connection closed or went
                            // away first. Not the endpoint's failure; the
                            // call goes to another connection.
                            Some(req) => {
                                let mut old = guard.take().expect("polled after completion");
                                old.success = None;
                                let shared = old.shared.clone();
                                drop(old);
                                match redispatch(&shared, req, avoid, redispatched, e.error()) {
                                    Ok((next, next_guard)) => {
                                        *fut = next;
                                        *guard = Some(next_guard);
                                        continue;
                                    }
                                    Err(err) => return Poll::Ready(Err(err)),
                                }
                            }
                            None => Err(crate::transport::error::transport(e.error())),
                        },
                    },
                };
                let mut guard = guard.take().expect("polled after completion");
                return Poll::Ready(match result {
                    Ok(mut resp) => {
                        guard.shared.observe(&guard.ticket, guard.started.elapsed());
                        if resp.status().is_server_error()
                            || grpc_status_fails(resp.headers().get("grpc-status"))
                        {
                            guard.success = Some(false);
                        }
                        resp.extensions_mut().insert(ServedBy(guard.ticket.addr));
                        Ok(resp.map(|inner| BalancedBody {
                            inner,
                            guard: Some(guard),
                        }))
                    }
                    Err(e) => {
                        guard.failed(&e);
                        // Below HTTP: the connection may be gone.
                        guard.broken = e.code() == Code::Unavailable;
                        Err(e)
                    }
                });
            },
            Inner::Waiting(fut) => fut.as_mut().poll(cx),
            Inner::Failed(err) => Poll::Ready(Err(err.take().unwrap_or_else(|| {
                ConnectError::internal("response future polled after completion")
            }))),
        }
    }
}

/// Sends a request a connection handed back unsent on another ready
/// connection, at most three times; `unavailable` (unprocessed) when there
/// is none ready now.
fn redispatch(
    shared: &Arc<Shared>,
    req: http::Request<connect_layers::ClientBody>,
    avoid: &[SocketAddr],
    redispatched: &mut u8,
    why: &hyper::Error,
) -> Result<(SendFuture, Guard), ConnectError> {
    let unsent = || {
        crate::transport::error::unavailable(
            "the connection closed before the request was sent",
            why,
        )
        .unprocessed()
    };
    if *redispatched >= 3 {
        return Err(unsent());
    }
    *redispatched += 1;
    match shared.pick(avoid) {
        Pick::Send(conn, ticket) => Ok((conn.send(req), Guard::new(shared.clone(), ticket))),
        Pick::Wait | Pick::Fail(_) => Err(unsent()),
    }
}

pin_project_lite::pin_project! {
    /// The response body of a [`BalancedChannel`](super::BalancedChannel):
    /// the transport's, counted in its endpoint's load until it ends or is
    /// dropped.
    pub struct BalancedBody {
        #[pin]
        inner: ResponseBody,
        guard: Option<Guard>,
    }
}

impl fmt::Debug for BalancedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BalancedBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl http_body::Body for BalancedBody {
    type Data = Bytes;
    type Error = ConnectError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, ConnectError>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let (Some(trailers), Some(guard)) = (frame.trailers_ref(), this.guard.as_mut())
                    && grpc_status_fails(trailers.get("grpc-status"))
                {
                    guard.success = Some(false);
                }
            }
            Some(Err(e)) => {
                if let Some(mut guard) = this.guard.take() {
                    guard.failed(e);
                }
            }
            None => drop(this.guard.take()),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
