//! Layers wrapped around the protocol stacks (`Router::layer_stacks`) that
//! have real back-pressure are waited on, never called unready: a
//! concurrency limit of one serves two overlapping calls one after the
//! other, over a real server.
//!
//! The calls are ordered by events, not by time: the first call is held in
//! the handler until the test releases it, and a probe outside the limit
//! tells the test when the second call is waiting for the permit.

mod support;

use std::sync::Arc;
use std::task::{Context, Poll};

use connectrpc::Router;
use connectrpc::layers::rpc::NamedService as _;
use integration_tests::proto::test::v1::TestServiceServer;
use support::gate::{EVENT_WITHIN, Event, Gate};
use support::*;
use tokio::sync::Notify;
use tower::{Layer, Service, ServiceBuilder};

const PATH: &str = "/test.v1.TestService/Unary";

/// A router whose handler is behind `gate`.
fn gated_router(gate: &Gate) -> Router {
    Router::new().add_methods(
        <TestServiceServer<Impl>>::METHODS,
        gate.wrap(TestServiceServer::new(Impl)),
    )
}

async fn unary(server: &TestServer, text: &str) -> Reply {
    call(
        server.addr,
        Version::H2c,
        post(PATH, "application/proto"),
        encode(&unary_req(text)),
    )
    .await
}

fn assert_answered(reply: &Reply, text: &str) {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(decode_unary_response(&reply.body).text, text);
}

#[tokio::test]
async fn a_concurrency_limit_around_the_stacks_queues_calls() {
    let gate = Gate::new();
    let waiting = Arc::new(Notify::new());
    let around = ServiceBuilder::new()
        .layer(ReadyProbe(waiting.clone()))
        .layer(tower::limit::ConcurrencyLimitLayer::new(1));
    let server = Arc::new(start_with(gated_router(&gate).layer_stacks(around)).await);

    // The first call takes the only permit and is held in the handler.
    gate.hold_next();
    let first = tokio::spawn({
        let server = server.clone();
        async move { unary(&server, "first").await }
    });
    gate.entered(1).await;
    // The second waits for the permit: the stack is not ready, and the
    // router waits instead of calling it.
    let second = tokio::spawn({
        let server = server.clone();
        async move { unary(&server, "second").await }
    });
    tokio::time::timeout(EVENT_WITHIN, waiting.notified())
        .await
        .expect("the second call never waited for the permit");
    assert_eq!(gate.events(), [Event::Enter(0)]);

    gate.release();
    assert_answered(&first.await.unwrap(), "first");
    assert_answered(&second.await.unwrap(), "second");
    assert_eq!(
        gate.events(),
        [
            Event::Enter(0),
            Event::Leave(0),
            Event::Enter(1),
            Event::Leave(1)
        ],
        "the second call ran before the first released the permit"
    );
}

#[tokio::test]
async fn without_a_limit_calls_overlap() {
    let gate = Gate::new();
    let server = Arc::new(start_with(gated_router(&gate)).await);
    gate.hold_next();
    let first = tokio::spawn({
        let server = server.clone();
        async move { unary(&server, "first").await }
    });
    gate.entered(1).await;
    // The second call is answered while the first is still held.
    assert_answered(&unary(&server, "second").await, "second");
    assert_eq!(
        gate.events(),
        [Event::Enter(0), Event::Enter(1), Event::Leave(1)]
    );
    gate.release();
    assert_answered(&first.await.unwrap(), "first");
}

/// A layer that notifies when its service is not ready.
#[derive(Clone)]
struct ReadyProbe(Arc<Notify>);

impl<S> Layer<S> for ReadyProbe {
    type Service = Probed<S>;

    fn layer(&self, inner: S) -> Probed<S> {
        Probed {
            inner,
            waiting: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct Probed<S> {
    inner: S,
    waiting: Arc<Notify>,
}

impl<S: Service<R>, R> Service<R> for Probed<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let ready = self.inner.poll_ready(cx);
        if ready.is_pending() {
            self.waiting.notify_one();
        }
        ready
    }

    fn call(&mut self, req: R) -> S::Future {
        self.inner.call(req)
    }
}
