//! Futures shared by several layers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::server::ResponseBody;

pin_project! {
    /// Either the inner service's future or a response decided up front.
    #[must_use = "futures do nothing unless polled"]
    pub struct Either<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        /// The inner service is answering.
        Inner {
            #[pin]
            fut: F,
        },
        /// The layer answered itself.
        Ready {
            resp: Option<Response<ResponseBody>>,
        },
    }
}

impl<F> Either<F> {
    /// The inner service answers.
    pub fn inner(fut: F) -> Self {
        Either::from_state(State::Inner { fut })
    }

    /// The layer answered itself with `resp`.
    pub fn ready(resp: Response<ResponseBody>) -> Self {
        Either::from_state(State::Ready { resp: Some(resp) })
    }
}

impl<F, E> Future for Either<F>
where
    F: Future<Output = Result<Response<ResponseBody>, E>>,
{
    type Output = Result<Response<ResponseBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { fut } => fut.poll(cx),
            StateProj::Ready { resp } => {
                Poll::Ready(Ok(resp.take().expect("polled after completion")))
            }
        }
    }
}

impl<F> Either<F> {
    fn from_state(state: State<F>) -> Self {
        Either { state }
    }
}
