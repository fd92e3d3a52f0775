//! Layers wrapped around the protocol stacks (`Router::layer_stacks`) that
//! have real back-pressure are waited on, never called unready: a
//! concurrency limit of one serves two overlapping calls one after the
//! other, over a real server.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connectrpc::Router;
use integration_tests::proto::test::v1::TestServiceExt;
use support::*;

const PATH: &str = "/test.v1.TestService/Unary";
const DELAY_MS: i64 = 300;

/// Starts two calls at once, the first one slow; returns when the fast one
/// finished, measured from the start.
async fn fast_call_latency(server: &TestServer) -> Duration {
    let slow = UnaryRequest {
        text: "slow".into(),
        delay_ms: DELAY_MS,
        ..Default::default()
    };
    let addr = server.addr;
    let start = Instant::now();
    let first = tokio::spawn(async move {
        call(
            addr,
            Version::H2c,
            post(PATH, "application/proto"),
            encode(&slow),
        )
        .await
    });
    // Let the slow call take the only permit first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fast = call(
        addr,
        Version::H2c,
        post(PATH, "application/proto"),
        encode(&unary_req("fast")),
    )
    .await;
    let elapsed = start.elapsed();
    assert_eq!(fast.status, 200, "{:?}", fast.body);
    assert_eq!(decode_unary_response(&fast.body).text, "fast");
    let slow = first.await.unwrap();
    assert_eq!(slow.status, 200);
    elapsed
}

#[tokio::test]
async fn a_concurrency_limit_around_the_stacks_queues_calls() {
    let router = Arc::new(Impl)
        .register(Router::new())
        .layer_stacks(tower::limit::ConcurrencyLimitLayer::new(1));
    let server = start_with(router).await;
    let elapsed = fast_call_latency(&server).await;
    assert!(
        elapsed >= Duration::from_millis(DELAY_MS as u64 - 20),
        "the second call did not wait for the first: {elapsed:?}"
    );
}

#[tokio::test]
async fn without_a_limit_calls_overlap() {
    let server = start().await;
    let elapsed = fast_call_latency(&server).await;
    assert!(
        elapsed < Duration::from_millis(DELAY_MS as u64 - 20),
        "calls were serialized without a limit: {elapsed:?}"
    );
}
