//! Stream replay and hedging.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use connect_layers::ClientBody;
use tokio::time::Instant;

use super::*;

fn stream_request(chunks: Vec<Bytes>) -> http::Request<ClientBody> {
    let items: Vec<Result<Bytes, ConnectError>> = chunks.into_iter().map(Ok).collect();
    let body = ClientBody::stream(Box::pin(futures_util::stream::iter(items)));
    let mut req = grpc(&UPLOAD);
    *req.body_mut() = body.with_method(&UPLOAD);
    req
}

#[tokio::test(start_paused = true)]
async fn client_streams_replay_within_the_buffer_and_not_beyond() {
    let layer = RetryLayer::new(RetryConfig::new());
    let chunk = Bytes::from(vec![7u8; 64 * 1024]);
    let fake = Fake::new([unavailable(), Step::Ok]);
    run(&layer, &fake, stream_request(vec![chunk.clone(); 4]))
        .await
        .unwrap();
    assert_eq!(fake.attempts(), 2, "256 KiB fits");
    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen[1].body.len(), 256 * 1024);
        assert_eq!(seen[0].body, seen[1].body);
        let named = |i: usize| seen[i].method.map(|m| m.path());
        assert_eq!(
            (named(0), named(1)),
            (Some("/t.S/Upload"), Some("/t.S/Upload"))
        );
    }

    let fake = Fake::new([unavailable(), Step::Ok]);
    let (_, headers, _) = run(&layer, &fake, stream_request(vec![chunk; 5]))
        .await
        .unwrap();
    assert_eq!(fake.attempts(), 1, "past 256 KiB the call is not retried");
    assert_eq!(headers["grpc-status"], "14");
    assert_eq!(
        layer.shared.limits.in_use.load(Ordering::Relaxed),
        0,
        "buffers released"
    );
}

fn hedged(attempts: u32, delay_ms: u64) -> RetryLayer {
    let policy = HedgingPolicy::new(
        attempts,
        HedgingDelay::Fixed(Duration::from_millis(delay_ms)),
    );
    RetryLayer::new(RetryConfig::new().method("/t.S/Get", policy))
}

#[tokio::test(start_paused = true)]
async fn hedges_go_out_after_the_delay_and_the_first_success_wins() {
    let layer = hedged(3, 50);
    let fake = Fake::new([
        Step::After(Duration::from_secs(1), Box::new(Step::Ok)),
        Step::After(Duration::from_millis(10), Box::new(Step::Ok)),
    ]);
    let start = Instant::now();
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(60));
    assert_eq!(gaps(&fake), [50]);
    assert_eq!(
        fake.header(1, "grpc-previous-rpc-attempts").as_deref(),
        Some("1")
    );
    let seen = fake.seen.lock().unwrap();
    assert!(
        seen[0].dropped.load(Ordering::SeqCst),
        "the loser is cancelled"
    );
    assert!(!seen[1].dropped.load(Ordering::SeqCst));
    assert_eq!(seen[1].attempt.as_ref().map(|a| a.number), Some(2));
    assert_eq!(layer.stats().hedges(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_non_fatal_failure_sends_the_next_hedge_at_once_and_a_fatal_one_ends_the_call() {
    let layer = hedged(3, 100);
    let fake = Fake::new([unavailable(), Step::Ok]);
    let start = Instant::now();
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!((start.elapsed(), fake.attempts()), (Duration::ZERO, 2));

    let fake = Fake::new([
        Step::After(Duration::from_secs(1), Box::new(Step::Ok)),
        Step::After(
            Duration::from_millis(10),
            Box::new(Step::TrailersOnly(Code::NotFound, None)),
        ),
    ]);
    let (_, headers, _) = run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(headers["grpc-status"], "5");
    assert!(fake.seen.lock().unwrap()[0].dropped.load(Ordering::SeqCst));

    // All fail non-fatally: the last failure, after max_attempts.
    let fake = Fake::new(std::iter::repeat_n(unavailable(), 3));
    let (_, headers, _) = run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 3);
    assert_eq!(headers["grpc-status"], "14");
}
