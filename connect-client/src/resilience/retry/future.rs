//! [`ResponseFuture`]: the first attempt polled in place (no allocation
//! when it succeeds), then the retry loop, boxed, only for calls that
//! need it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use connect_layers::ClientBody;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::body::RetryBody;
use super::call::{Call, attempt};
use super::classify::{self, Outcome, Pushback};
use super::policy::{MethodPolicy, RetryPolicy};
use super::stats::Counters;
use crate::resilience::ServedBy;
use crate::{BoxError, Channel};

type Answer<B> = Result<http::Response<RetryBody<B>>, BoxError>;
type BoxAnswer<B> = Pin<Box<dyn Future<Output = Answer<B>> + Send>>;

pin_project! {
    /// The response future of [`Retry`](super::Retry).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S>
    where
        S: Channel,
    {
        #[pin]
        state: State<S>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S>
    where
        S: Channel,
    {
        // Nothing to retry: the channel's future as it is.
        Passthrough { #[pin] fut: <S as Service<http::Request<ClientBody>>>::Future },
        // The first attempt, and what a retry needs.
        First {
            #[pin]
            fut: <S as Service<http::Request<ClientBody>>>::Future,
            call: Option<Call<S>>,
        },
        // Retrying, or hedging.
        Slow { fut: BoxAnswer<S::ResponseBody> },
    }
}

impl<S: Channel> std::fmt::Debug for ResponseFuture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<S> ResponseFuture<S>
where
    S: Channel,
    S::ResponseBody: Unpin,
{
    pub(crate) fn passthrough(fut: S::Future) -> Self {
        ResponseFuture {
            state: State::Passthrough { fut },
        }
    }

    pub(crate) fn first(fut: S::Future, call: Call<S>) -> Self {
        ResponseFuture {
            state: State::First {
                fut,
                call: Some(call),
            },
        }
    }

    pub(crate) fn slow(fut: BoxAnswer<S::ResponseBody>) -> Self {
        ResponseFuture {
            state: State::Slow { fut },
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Channel,
    S::ResponseBody: Unpin,
{
    type Output = Answer<S::ResponseBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let slow = match this.state.as_mut().project() {
                StateProj::Passthrough { fut } => {
                    return fut
                        .poll(cx)
                        .map_ok(|r| r.map(RetryBody::passthrough))
                        .map_err(Into::into);
                }
                StateProj::Slow { fut } => return fut.as_mut().poll(cx),
                StateProj::First { fut, call } => {
                    let result = std::task::ready!(fut.poll(cx));
                    let mut call = call.take().expect("polled after completion");
                    let outcome = match result {
                        Err(e) => classify::error(e.into()),
                        Ok(resp) => {
                            call.served_by(resp.extensions().get::<ServedBy>().map(|s| s.0));
                            match classify::head(call.kind, call.peek, resp) {
                                Ok(outcome) => outcome,
                                // A Connect unary error: its body says
                                // whether to retry, unless no retry could.
                                Err(resp) if !call.may_retry_some() => {
                                    return Poll::Ready(Ok(resp.map(RetryBody::passthrough)));
                                }
                                Err(resp) => {
                                    let fut = Box::pin(retry(call, Err(resp)));
                                    this.state.set(State::Slow { fut });
                                    continue;
                                }
                            }
                        }
                    };
                    match outcome {
                        Outcome::Commit(resp) => {
                            call.shared.throttle.success();
                            call.replay.commit();
                            return Poll::Ready(Ok(resp));
                        }
                        // Failures no retry could follow: handed up at once.
                        Outcome::Failed { code, answer, .. } if !call.may_retry(code) => {
                            return Poll::Ready(answer);
                        }
                        Outcome::Unprocessed(e) if call.shared.config.max_transparent == 0 => {
                            return Poll::Ready(Err(e));
                        }
                        outcome => Box::pin(retry(call, Ok(outcome))),
                    }
                }
            };
            this.state.set(State::Slow { fut: slow });
        }
    }
}

impl<S: Channel> Call<S> {
    /// Whether a failure with `code` might be retried at all (a call that
    /// cannot be is answered without boxing the retry loop).
    fn may_retry(&self, code: connect_core::Code) -> bool {
        matches!(&*self.policy, MethodPolicy::Retry(p) if p.max_attempts > 1 && p.retries(code))
    }

    /// Whether some failure might be retried.
    fn may_retry_some(&self) -> bool {
        matches!(&*self.policy, MethodPolicy::Retry(p) if p.max_attempts > 1 && p.codes != Default::default())
    }
}

/// The retry loop (gRFC A6): `first` is the first attempt's outcome, or its
/// answer whose Connect error body is still to be read.
pub(crate) async fn retry<S>(
    mut call: Call<S>,
    first: Result<Outcome<S::ResponseBody>, http::Response<S::ResponseBody>>,
) -> Answer<S::ResponseBody>
where
    S: Channel,
    S::ResponseBody: Unpin,
{
    let policy = match &*call.policy {
        MethodPolicy::Retry(p) => p.clone(),
        // A hedged method whose request streams: sent once.
        MethodPolicy::Hedge(_) => RetryPolicy::transparent_only(),
    };
    let deadline = call.deadline();
    let run = async move {
        let mut outcome = match first {
            Ok(o) => o,
            Err(resp) => classify::read_body(call.kind, resp).await,
        };
        let (mut retries, mut transparent, mut backoff_n) = (0u32, 0u32, 0u32);
        loop {
            let answer = match outcome {
                Outcome::Commit(resp) => {
                    call.shared.throttle.success();
                    call.replay.commit();
                    return Ok(resp);
                }
                Outcome::Unprocessed(err) => {
                    if transparent >= call.shared.config.max_transparent {
                        return Err(err);
                    }
                    transparent += 1;
                    Counters::bump(&call.stats().transparent_retries);
                    Err(err)
                }
                Outcome::Failed {
                    code,
                    pushback,
                    answer,
                } => {
                    if !policy.retries(code) {
                        return answer;
                    }
                    call.shared.throttle.failure();
                    if pushback == Pushback::Stop
                        || retries + 1 >= policy.max_attempts
                        || !call.replay.available()
                    {
                        return answer;
                    }
                    if call.shared.throttle.throttled() {
                        Counters::bump(&call.stats().throttled);
                        return answer;
                    }
                    let delay = match pushback {
                        Pushback::Delay(d) => {
                            backoff_n = 0;
                            d
                        }
                        _ => {
                            backoff_n += 1;
                            let d = policy.backoff(backoff_n);
                            call.jitter(d)
                        }
                    };
                    if call.too_late(delay) {
                        return answer;
                    }
                    retries += 1;
                    Counters::bump(&call.stats().retries);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    answer
                }
            };
            let Some(req) = call.next_request() else {
                return answer;
            };
            drop(answer);
            let (next, by) = attempt(call.svc.clone(), call.kind, call.peek, req).await;
            call.served_by(by);
            outcome = next;
        }
    };
    match deadline {
        Some(d) => tokio::time::timeout_at(d, run)
            .await
            .unwrap_or_else(|_| Err(connect_layers::deadline::expired().into())),
        None => run.await,
    }
}
