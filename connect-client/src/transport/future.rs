//! The response future of both transports.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use connect_core::ConnectError;
use http::Response;
use hyper::body::Incoming;
use hyper_util::client::legacy;

use super::connector::BoxFuture;
use super::error;
use super::resend::{MAX_RESENDS, Resend, checkout_canceled};

/// The response of a call on [`HttpClient`](super::HttpClient) or
/// [`Http2Connection`](super::Http2Connection): the response head once it
/// arrives (the body streams after), or the transport failure as a
/// [`ConnectError`].
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: Inner,
}

enum Inner {
    Pooled(legacy::ResponseFuture),
    /// A call that can be sent again if the pool drops it unsent.
    Resendable {
        fut: legacy::ResponseFuture,
        resend: Resend,
        left: u8,
    },
    Single(BoxFuture<Result<Response<Incoming>, hyper::Error>>),
    Failed(Option<ConnectError>),
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.inner {
            Inner::Pooled(_) | Inner::Resendable { .. } => "Pooled",
            Inner::Single(_) => "Single",
            Inner::Failed(_) => "Failed",
        };
        f.debug_tuple("ResponseFuture").field(&state).finish()
    }
}

// ===== impl ResponseFuture =====

impl ResponseFuture {
    pub(crate) fn pooled(fut: legacy::ResponseFuture) -> Self {
        ResponseFuture {
            inner: Inner::Pooled(fut),
        }
    }

    pub(crate) fn resendable(fut: legacy::ResponseFuture, resend: Resend) -> Self {
        ResponseFuture {
            inner: Inner::Resendable {
                fut,
                resend,
                left: MAX_RESENDS,
            },
        }
    }

    pub(crate) fn single(fut: BoxFuture<Result<Response<Incoming>, hyper::Error>>) -> Self {
        ResponseFuture {
            inner: Inner::Single(fut),
        }
    }

    pub(crate) fn failed(err: ConnectError) -> Self {
        ResponseFuture {
            inner: Inner::Failed(Some(err)),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<ResponseBody>, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match &mut self.get_mut().inner {
            Inner::Pooled(fut) => {
                std::task::ready!(Pin::new(fut).poll(cx)).map_err(|e| error::transport(&e))
            }
            Inner::Resendable { fut, resend, left } => loop {
                match std::task::ready!(Pin::new(&mut *fut).poll(cx)) {
                    Err(e) if *left > 0 && checkout_canceled(&e) => match resend() {
                        Some(again) => {
                            *left -= 1;
                            *fut = again;
                        }
                        None => break Err(error::transport(&e)),
                    },
                    done => break done.map_err(|e| error::transport(&e)),
                }
            },
            Inner::Single(fut) => {
                std::task::ready!(fut.as_mut().poll(cx)).map_err(|e| error::transport(&e))
            }
            Inner::Failed(err) => {
                return Poll::Ready(Err(err.take().unwrap_or_else(|| {
                    ConnectError::internal("response future polled after completion")
                })));
            }
        };
        Poll::Ready(result.map(|resp| resp.map(|inner| ResponseBody { inner })))
    }
}

pin_project_lite::pin_project! {
    /// The response body of both transports: hyper's, with failures as
    /// [`ConnectError`]s (an HTTP/2 reset by its reason: `CANCEL` is
    /// `canceled`, `REFUSED_STREAM` `unavailable`, `INTERNAL_ERROR`
    /// `internal`…; a broken connection `unavailable`).
    #[derive(Debug)]
    pub struct ResponseBody {
        #[pin]
        inner: Incoming,
    }
}

impl ResponseBody {
    /// Wraps hyper's body (for channels that drive hyper themselves).
    pub(crate) fn from_incoming(inner: Incoming) -> Self {
        ResponseBody { inner }
    }

    /// hyper's body underneath.
    pub fn into_inner(self) -> Incoming {
        self.inner
    }
}

impl http_body::Body for ResponseBody {
    type Data = bytes::Bytes;
    type Error = ConnectError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, ConnectError>>> {
        self.project()
            .inner
            .poll_frame(cx)
            .map_err(|e| error::body(&e))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
