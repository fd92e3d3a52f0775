//! The response future of a [`Router`](super::Router): whichever stack
//! answers, and on HTTP/1.x the wait for an unread request body to be
//! drained.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use connect_layers::BoxFuture;
use connect_layers::body::server::ResponseBody;
use http::{HeaderValue, Response, header};
use pin_project_lite::pin_project;

use crate::drain::{DrainState, SETTLE_WAIT};

pin_project! {
    /// Response future of [`Router`]: whichever stack answers, and on
    /// HTTP/1.x the wait for an unread request body to be drained.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<C, G, W> {
        #[pin]
        pub(super) inner: Inner<C, G, W>,
        pub(super) drain: Option<Arc<DrainState>>,
    }
}

pin_project! {
    #[project = InnerProj]
    pub(super) enum Inner<C, G, W> {
        Connect { #[pin] fut: C },
        Grpc { #[pin] fut: G },
        GrpcWeb { #[pin] fut: W },
        Ready { resp: Option<Response<ResponseBody>> },
        Draining { fut: BoxFuture<Response<ResponseBody>> },
    }
}

impl<C, G, W> ResponseFuture<C, G, W> {
    pub(super) fn ready(resp: Response<ResponseBody>, drain: Option<Arc<DrainState>>) -> Self {
        ResponseFuture {
            inner: Inner::Ready { resp: Some(resp) },
            drain,
        }
    }
}

fn close_connection(resp: &mut Response<ResponseBody>) {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

impl<C, G, W> Future for ResponseFuture<C, G, W>
where
    C: Future<Output = Result<Response<ResponseBody>, Infallible>>,
    G: Future<Output = Result<Response<ResponseBody>, Infallible>>,
    W: Future<Output = Result<Response<ResponseBody>, Infallible>>,
{
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut resp = match this.inner.as_mut().project() {
            InnerProj::Connect { fut } => std::task::ready!(fut.poll(cx))?,
            InnerProj::Grpc { fut } => std::task::ready!(fut.poll(cx))?,
            InnerProj::GrpcWeb { fut } => std::task::ready!(fut.poll(cx))?,
            InnerProj::Ready { resp } => resp.take().expect("polled after completion"),
            InnerProj::Draining { fut } => return fut.as_mut().poll(cx).map(Ok),
        };
        let Some(drain) = this.drain.take() else {
            return Poll::Ready(Ok(resp));
        };
        match drain.keep_alive() {
            Some(true) => Poll::Ready(Ok(resp)),
            Some(false) => {
                close_connection(&mut resp);
                Poll::Ready(Ok(resp))
            }
            None => {
                // The call ended before its request body: answer once the
                // body is drained (briefly, as Go's server does), so the
                // client can finish writing and reuse the connection.
                let mut fut: BoxFuture<Response<ResponseBody>> = Box::pin(async move {
                    let settled = tokio::time::timeout(SETTLE_WAIT, drain.settled()).await;
                    if settled != Ok(true) {
                        close_connection(&mut resp);
                    }
                    resp
                });
                let polled = fut.as_mut().poll(cx);
                this.inner.set(Inner::Draining { fut });
                polled.map(Ok)
            }
        }
    }
}
