//! The client half of deadlines: the call's timeout goes on the wire
//! (`connect-timeout-ms` or `grpc-timeout`) **and** is enforced here, so a
//! server that never answers cannot hold the call past it. Expiry — while
//! waiting for the response or mid-stream — ends the call with
//! `deadline_exceeded`, and so does any failure that surfaces after the
//! deadline passed (a server's reset arriving just before our own timer).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use connect_core::{Code, ConnectError, Protocol};
use futures_core::Stream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;

use super::{deadline_after, expired, timeout_value};
use crate::rpc::client::{ClientRequest, ClientResponse, ItemStream, ResponseFrames, StreamItem};

/// Layer applying [`Deadline`].
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct DeadlineLayer {
    protocol: Protocol,
}

impl DeadlineLayer {
    /// Deadlines written in `protocol`'s timeout header.
    pub fn new(protocol: Protocol) -> Self {
        DeadlineLayer { protocol }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            protocol: self.protocol,
        }
    }
}

/// Sends the call's timeout and enforces it locally.
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    protocol: Protocol,
}

crate::macros::define_inner_service_accessors!(Deadline);

/// `err`, or `deadline_exceeded` if the deadline has passed: whatever
/// failed after expiry failed because of it.
pub(crate) fn after(deadline: Instant, err: ConnectError) -> ConnectError {
    if err.code() != Code::DeadlineExceeded && Instant::now() >= deadline {
        let mut e = ConnectError::deadline_exceeded(err.message().to_owned());
        *e.headers_mut() = err.headers().clone();
        *e.trailers_mut() = err.trailers().clone();
        return e;
    }
    err
}

impl<S> Service<ClientRequest> for Deadline<S>
where
    S: Service<ClientRequest, Response = ClientResponse, Error = ConnectError>,
{
    type Response = ClientResponse;
    type Error = ConnectError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: ClientRequest) -> Self::Future {
        match arm(self.protocol, &mut req) {
            Timing::Unbounded => ResponseFuture {
                inner: Some(self.inner.call(req)),
                sleep: None,
                deadline: None,
            },
            Timing::Expired => ResponseFuture {
                inner: None,
                sleep: None,
                deadline: None,
            },
            Timing::Until(deadline) => ResponseFuture {
                inner: Some(self.inner.call(req)),
                sleep: Some(tokio::time::sleep_until(deadline)),
                deadline: Some(deadline),
            },
        }
    }
}

/// What a call's timeout asks of the client.
pub(crate) enum Timing {
    /// No deadline to enforce (no timeout, or one past what the clock
    /// holds: the header then says the largest timeout it can).
    Unbounded,
    /// A zero timeout: the call fails before anything is sent.
    Expired,
    /// The call must end by then.
    Until(Instant),
}

impl Timing {
    /// The instant the call must end by, if there is one to enforce.
    pub(crate) fn deadline(self) -> Option<Instant> {
        match self {
            Timing::Until(deadline) => Some(deadline),
            Timing::Unbounded | Timing::Expired => None,
        }
    }
}

/// Writes `req`'s timeout header in `protocol`'s form, and says what must
/// be enforced locally.
pub(crate) fn arm(protocol: Protocol, req: &mut ClientRequest) -> Timing {
    let Some(timeout) = req.settings.timeout else {
        return Timing::Unbounded;
    };
    let deadline = deadline_after(timeout);
    if deadline.is_some() && timeout.is_zero() {
        // Already expired: fail here rather than send a zero timeout.
        return Timing::Expired;
    }
    let (name, value) = timeout_value(protocol, timeout);
    req.headers.insert(name, value);
    deadline.map_or(Timing::Unbounded, Timing::Until)
}

pin_project! {
    /// The response future of [`Deadline`]: the inner call raced against
    /// the deadline (no timer at all when the call has no timeout).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        #[pin]
        sleep: Option<Sleep>,
        deadline: Option<Instant>,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ClientResponse, ConnectError>>,
{
    type Output = Result<ClientResponse, ConnectError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(expired()));
        };
        let deadline = *this.deadline;
        if let Poll::Ready(result) = inner.poll(cx) {
            return Poll::Ready(match (result, deadline) {
                (Ok(resp), Some(deadline)) => Ok(cut_at(resp, deadline)),
                (Ok(resp), None) => Ok(resp),
                (Err(e), Some(deadline)) => Err(after(deadline, e)),
                (Err(e), None) => Err(e),
            });
        }
        if let Some(sleep) = this.sleep.as_pin_mut()
            && sleep.poll(cx).is_ready()
        {
            return Poll::Ready(Err(expired()));
        }
        Poll::Pending
    }
}

/// The response with its stream (if any) cut at `deadline`.
pub(crate) fn cut_at(resp: ClientResponse, deadline: Instant) -> ClientResponse {
    let messages = match resp.messages {
        ResponseFrames::Stream(s) => ResponseFrames::Stream(Box::pin(DeadlineStream {
            inner: s,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
            done: false,
        })),
        unary => unary,
    };
    ClientResponse {
        headers: resp.headers,
        messages,
    }
}

/// A response stream cut at the deadline.
struct DeadlineStream {
    inner: ItemStream,
    sleep: Pin<Box<Sleep>>,
    deadline: Instant,
    done: bool,
}

impl Stream for DeadlineStream {
    type Item = Result<StreamItem, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = self.inner.as_mut().poll_next(cx) {
            let deadline = self.deadline;
            return Poll::Ready(match item {
                Some(Err(e)) => {
                    self.done = true;
                    Some(Err(after(deadline, e)))
                }
                None => {
                    self.done = true;
                    None
                }
                ok => ok,
            });
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Err(expired())));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::client::CallSettings;
    use crate::rpc::{Frame, RequestMessages};
    use connect_core::{Idempotency, MethodDescriptor, StreamType};
    use std::time::Duration;

    static M: MethodDescriptor = MethodDescriptor::new(
        "a.S",
        "M",
        "/a.S/M",
        StreamType::Unary,
        Idempotency::Unknown,
    );

    fn req(timeout: Option<Duration>) -> ClientRequest {
        ClientRequest {
            method: &M,
            headers: Default::default(),
            extensions: Default::default(),
            settings: CallSettings {
                timeout,
                ..CallSettings::default()
            },
            messages: RequestMessages::Unary(Frame::default()),
        }
    }

    #[derive(Clone)]
    struct Hang(std::sync::Arc<std::sync::Mutex<Option<http::HeaderMap>>>);

    impl Service<ClientRequest> for Hang {
        type Response = ClientResponse;
        type Error = ConnectError;
        type Future = crate::BoxFuture<Result<ClientResponse, ConnectError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: ClientRequest) -> Self::Future {
            *self.0.lock().unwrap() = Some(req.headers);
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn header_is_sent_and_expiry_is_deadline_exceeded() {
        for (protocol, name, value) in [
            (Protocol::Connect, "connect-timeout-ms", "250"),
            (Protocol::Grpc, "grpc-timeout", "250000u"),
        ] {
            let seen = Hang(Default::default());
            let mut svc = DeadlineLayer::new(protocol).layer(seen.clone());
            let err = svc
                .call(req(Some(Duration::from_millis(250))))
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::DeadlineExceeded);
            assert_eq!(seen.0.lock().unwrap().as_ref().unwrap()[name], value);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_timeout_fails_without_sending() {
        let seen = Hang(Default::default());
        let mut svc = DeadlineLayer::new(Protocol::Grpc).layer(seen.clone());
        let err = svc.call(req(Some(Duration::ZERO))).await.unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded);
        assert!(seen.0.lock().unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_is_cut_at_the_deadline() {
        let stream: ItemStream = Box::pin(futures_util::stream::pending());
        let deadline = Instant::now() + Duration::from_millis(100);
        let mut s = DeadlineStream {
            inner: stream,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
            done: false,
        };
        use futures_util::StreamExt as _;
        let e = s.next().await.unwrap().unwrap_err();
        assert_eq!(e.code(), Code::DeadlineExceeded);
        assert!(s.next().await.is_none());
    }
}
