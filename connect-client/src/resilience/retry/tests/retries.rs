//! Retries: attempts, backoff, commit, Connect errors, transparent retries, the throttle.

use std::time::Duration;

use connect_core::{Code, ConnectError};
use tokio::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn retries_up_to_max_attempts_then_hands_up_the_last_failure() {
    let layer = RetryLayer::new(RetryConfig::new());
    let fake = Fake::new([unavailable(), unavailable(), unavailable(), Step::Ok]);
    let (_, headers, _) = run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 3, "the default policy makes 3 attempts");
    assert_eq!(headers["grpc-status"], "14");
    let stats = layer.stats();
    assert_eq!((stats.attempts(), stats.retries()), (3, 2));

    let fake = Fake::new([unavailable(), Step::Ok]);
    let (_, headers, body) = run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert!(!headers.contains_key("grpc-status"));
    assert_eq!(body, "ok");
    assert_eq!(fake.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn every_attempt_names_the_method_for_the_layers_below() {
    let layer = RetryLayer::new(RetryConfig::new());
    let fake = Fake::new([unavailable(), unavailable(), Step::Ok]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for attempt in seen.iter() {
        assert_eq!(attempt.method.map(|m| m.path()), Some("/t.S/Get"));
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_by_the_multiplier_with_jitter_in_bounds() {
    let policy = RetryPolicy::default()
        .max_attempts(5)
        .initial_backoff(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(500))
        .backoff_multiplier(2.0);
    let layer = RetryLayer::new(RetryConfig::new().idempotent_policy(policy).no_throttle());
    for _ in 0..20 {
        let fake = Fake::new(std::iter::repeat_n(unavailable(), 5));
        run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
        let gaps = gaps(&fake);
        let bounds = [100, 200, 400, 500];
        assert_eq!(gaps.len(), 4);
        for (gap, base) in gaps.iter().zip(bounds) {
            let (lo, hi) = (base * 8 / 10, base * 12 / 10);
            assert!(
                (lo..=hi).contains(gap),
                "gap {gap} ms outside {lo}..={hi}: {gaps:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn non_retryable_codes_pass_through_after_one_attempt() {
    let layer = RetryLayer::new(RetryConfig::new());
    let fake = Fake::new([Step::TrailersOnly(Code::NotFound, None)]);
    let (_, headers, _) = run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(headers["grpc-status"], "5");
    assert_eq!(fake.attempts(), 1);
    // A deadline is never retried either.
    let fake = Fake::new([Step::TrailersOnly(Code::DeadlineExceeded, None)]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn committed_answers_are_never_retried() {
    let layer = RetryLayer::new(RetryConfig::new());
    // gRPC headers without grpc-status: committed, even if the trailers
    // later say unavailable.
    let fake = Fake::new([Step::Ok, unavailable()]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 1);
    // A Connect streaming 200 is committed.
    let fake = Fake::new([Step::Ok, Step::Ok]);
    let req = request(&IDEMPOTENT, "application/connect+proto", None);
    run(&layer, &fake, req).await.unwrap();
    assert_eq!(fake.attempts(), 1);
}

pub(super) fn connect_unavailable_json() -> String {
    r#"{"code":"unavailable","message":"try later"}"#.to_owned()
}

#[tokio::test(start_paused = true)]
async fn connect_unary_errors_are_read_retried_and_handed_up_unchanged() {
    let layer = RetryLayer::new(RetryConfig::new());
    let fake = Fake::new([
        Step::ConnectError(503, connect_unavailable_json()),
        Step::Ok,
    ]);
    let req = request(&IDEMPOTENT, "application/proto", None);
    let (status, _, body) = run(&layer, &fake, req).await.unwrap();
    assert_eq!((status, &body[..]), (http::StatusCode::OK, &b"ok"[..]));
    assert_eq!(fake.attempts(), 2);
    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen[0].body, seen[1].body, "the request replayed");
    }

    // Not retryable: handed up byte for byte.
    let json = r#"{"code":"not_found","message":"no"}"#.to_owned();
    let fake = Fake::new([Step::ConnectError(404, json.clone())]);
    let req = request(&IDEMPOTENT, "application/json", None);
    let (status, _, body) = run(&layer, &fake, req).await.unwrap();
    assert_eq!(status, 404);
    assert_eq!(body, json);
    // A 503 without a JSON body is unavailable by its HTTP status.
    let fake = Fake::new([Step::ConnectError(503, "<html>".into()), Step::Ok]);
    let req = request(&IDEMPOTENT, "application/proto", None);
    run(&layer, &fake, req).await.unwrap();
    assert_eq!(fake.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_methods_retry_only_transparently_and_boundedly() {
    let layer = RetryLayer::new(RetryConfig::new());
    let fake = Fake::new([unavailable(), Step::Ok]);
    run(&layer, &fake, grpc(&UNSAFE)).await.unwrap();
    assert_eq!(
        fake.attempts(),
        1,
        "unavailable is not retried for unsafe methods"
    );

    let fake = Fake::new([Step::Unprocessed, Step::Unprocessed, Step::Ok]);
    let start = Instant::now();
    let (_, _, body) = run(&layer, &fake, grpc(&UNSAFE)).await.unwrap();
    assert_eq!(body, "ok");
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "transparent retries do not wait"
    );
    assert_eq!(layer.stats().transparent_retries(), 2);
    assert_eq!(layer.stats().retries(), 0);

    let fake = Fake::new(std::iter::repeat_n(Step::Unprocessed, 10));
    let err = run(&layer, &fake, grpc(&UNSAFE)).await.unwrap_err();
    assert!(ConnectError::find_in(&*err).unwrap().is_unprocessed());
    assert_eq!(fake.attempts(), 4, "the first and 3 transparent retries");

    let layer = RetryLayer::new(RetryConfig::new().max_transparent_retries(1));
    let fake = Fake::new(std::iter::repeat_n(Step::Unprocessed, 10));
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap_err();
    assert_eq!(fake.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_throttle_stops_retries_at_half_and_recovers_with_successes() {
    let layer = RetryLayer::new(RetryConfig::new().throttle(10, 0.1));
    // 3 failures: 7 tokens left.
    let fake = Fake::new(std::iter::repeat_n(unavailable(), 3));
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 3);
    // 6, retry, 5: at half, no more retries.
    let fake = Fake::new(std::iter::repeat_n(unavailable(), 3));
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 2);
    assert_eq!(layer.stats().throttled(), 1);
    // 4: throttled at once.
    let fake = Fake::new(std::iter::repeat_n(unavailable(), 3));
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 1);
    // Transparent retries are not throttled.
    let fake = Fake::new([Step::Unprocessed, Step::Ok]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 2);
    // That success and 10 more: 5.1 tokens, but the next failure costs
    // one: 4.1, still throttled.
    for _ in 0..10 {
        run(&layer, &Fake::new([Step::Ok]), grpc(&IDEMPOTENT))
            .await
            .unwrap();
    }
    let fake = Fake::new([unavailable(), Step::Ok]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 1);
    // 20 more: 6.1, and after the failure 5.1: retried.
    for _ in 0..20 {
        run(&layer, &Fake::new([Step::Ok]), grpc(&IDEMPOTENT))
            .await
            .unwrap();
    }
    let fake = Fake::new([unavailable(), Step::Ok]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.attempts(), 2, "retried once the bucket is above half");
}

#[tokio::test(start_paused = true)]
async fn the_default_throttle_rides_out_a_crashed_servers_calls() {
    // A server killed with its calls in flight: each fails once, at the
    // same moment, and is retried elsewhere. With gRPC's example bucket
    // (10 tokens) the sixth would already be throttled.
    let layer = RetryLayer::new(RetryConfig::new());
    for _ in 0..40 {
        let fake = Fake::new([unavailable(), Step::Ok]);
        run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
        assert_eq!(fake.attempts(), 2);
    }
    assert_eq!(layer.stats().throttled(), 0);
    // A sustained failure rate still stops retries: 100 tokens, at most
    // 50 net failures.
    for _ in 0..20 {
        run(
            &layer,
            &Fake::new([unavailable(), unavailable(), unavailable()]),
            grpc(&IDEMPOTENT),
        )
        .await
        .unwrap();
    }
    assert!(layer.stats().throttled() > 0);
}
