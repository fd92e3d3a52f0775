//! Calling a fresh clone of a shared protocol stack.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;
use tower_service::Service;

pin_project! {
    /// A call on a fresh clone of a stack `S`: made at once when the clone
    /// is ready (every stack of ours always is), else as soon as it says it
    /// is, so wrapped stacks with real back-pressure (a concurrency limit,
    /// a rate limit) are never called unready.
    ///
    /// This is how [`Router`](crate::Router) calls the stack a request
    /// needs, without cloning the other two.
    #[must_use = "futures do nothing unless polled"]
    pub struct StackCall<S, R>
    where
        S: Service<R>,
    {
        #[pin]
        state: State<S, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, R>
    where
        S: Service<R>,
    {
        Called { #[pin] fut: S::Future },
        Waiting { svc: S, req: Option<R> },
    }
}

impl<S, R> StackCall<S, R>
where
    S: Service<R, Error = Infallible> + Clone,
{
    /// Clones `stack` and calls it with `req` if the clone is ready now.
    pub fn new(stack: &S, req: R) -> Self {
        let mut svc = stack.clone();
        // A real waker is not needed to learn "ready now"; if the answer is
        // "not yet", readiness is polled again with the task's waker.
        let mut cx = Context::from_waker(Waker::noop());
        let state = match svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => State::Called { fut: svc.call(req) },
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => State::Waiting {
                svc,
                req: Some(req),
            },
        };
        StackCall { state }
    }

    /// Whether the call has been made (the clone was ready).
    pub fn is_called(&self) -> bool {
        matches!(self.state, State::Called { .. })
    }
}

impl<S, R> Future for StackCall<S, R>
where
    S: Service<R, Error = Infallible>,
{
    type Output = Result<S::Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Called { fut } => return fut.poll(cx),
                StateProj::Waiting { svc, req } => {
                    std::task::ready!(svc.poll_ready(cx))?;
                    let req = req.take().expect("polled after completion");
                    State::Called { fut: svc.call(req) }
                }
            };
            state.set(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Ready only from the second `poll_ready` on; panics if called unready.
    #[derive(Clone)]
    struct Slow {
        polls: Arc<AtomicUsize>,
        ready: bool,
    }

    impl Service<u32> for Slow {
        type Response = u32;
        type Error = Infallible;
        type Future = std::future::Ready<Result<u32, Infallible>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready = true;
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: u32) -> Self::Future {
            assert!(self.ready, "called before ready");
            std::future::ready(Ok(req + 1))
        }
    }

    #[tokio::test]
    async fn waits_for_readiness_before_calling() {
        let polls = Arc::new(AtomicUsize::new(0));
        let stack = Slow {
            polls: polls.clone(),
            ready: false,
        };
        let call = StackCall::new(&stack, 41);
        assert!(!call.is_called());
        assert_eq!(call.await.unwrap(), 42);
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        // The shared original was never polled or called.
        assert!(!stack.ready);
    }
}
