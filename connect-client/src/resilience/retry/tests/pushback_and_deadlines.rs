//! Pushback, what each retry says, and the deadline across attempts.

use std::time::Duration;

use bytes::Bytes;
use connect_core::{Code, ConnectError};
use tokio::time::Instant;

use super::retries::connect_unavailable_json;
use super::*;

#[tokio::test(start_paused = true)]
async fn grpc_pushback_is_obeyed_and_negative_or_huge_stops() {
    let layer = RetryLayer::new(RetryConfig::new().no_throttle());
    let fake = Fake::new([Step::TrailersOnly(Code::Unavailable, Some("700")), Step::Ok]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(gaps(&fake), [700], "pushback replaces the backoff");

    for stop in ["-1", "soon"] {
        let fake = Fake::new([Step::TrailersOnly(Code::Unavailable, Some(stop)), Step::Ok]);
        run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
        assert_eq!(fake.attempts(), 1, "pushback {stop} stops");
    }
    // Hours, with a 5 s deadline: answered now, not after the deadline.
    let fake = Fake::new([
        Step::TrailersOnly(Code::Unavailable, Some("7200000")),
        Step::Ok,
    ]);
    let start = Instant::now();
    let (_, headers, _) = run(
        &layer,
        &fake,
        request(&IDEMPOTENT, "application/grpc", Some("5S")),
    )
    .await
    .unwrap();
    assert_eq!((fake.attempts(), start.elapsed()), (1, Duration::ZERO));
    assert_eq!(headers["grpc-status"], "14");
}

fn retry_info_json(seconds: i64, nanos: i32) -> String {
    let value = connect_core::metadata::encode_binary_value(&encode_retry_info(seconds, nanos));
    format!(
        r#"{{"code":"unavailable","message":"busy","details":[{{"type":"google.rpc.RetryInfo","value":"{}"}}]}}"#,
        value.to_str().unwrap()
    )
}

#[tokio::test(start_paused = true)]
async fn connect_retry_info_is_pushback() {
    let layer = RetryLayer::new(RetryConfig::new().no_throttle());
    let fake = Fake::new([
        Step::ConnectError(503, retry_info_json(0, 300_000_000)),
        Step::Ok,
    ]);
    run(
        &layer,
        &fake,
        request(&IDEMPOTENT, "application/proto", None),
    )
    .await
    .unwrap();
    assert_eq!(gaps(&fake), [300]);
    let fake = Fake::new([Step::ConnectError(503, retry_info_json(-2, 0)), Step::Ok]);
    let (status, _, body) = run(
        &layer,
        &fake,
        request(&IDEMPOTENT, "application/proto", None),
    )
    .await
    .unwrap();
    assert_eq!(fake.attempts(), 1, "a negative delay stops");
    assert_eq!(
        (status.as_u16(), body),
        (503, Bytes::from(retry_info_json(-2, 0)))
    );
}

#[tokio::test(start_paused = true)]
async fn each_retry_says_how_many_attempts_came_before_and_where() {
    let layer = RetryLayer::new(RetryConfig::new());
    let fake = Fake::new([unavailable(), unavailable(), Step::Ok]);
    run(&layer, &fake, grpc(&IDEMPOTENT)).await.unwrap();
    assert_eq!(fake.header(0, "grpc-previous-rpc-attempts"), None);
    assert_eq!(
        fake.header(1, "grpc-previous-rpc-attempts").as_deref(),
        Some("1")
    );
    assert_eq!(
        fake.header(2, "grpc-previous-rpc-attempts").as_deref(),
        Some("2")
    );
    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen[0].attempt, None, "the first attempt carries nothing");
    let a = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(
        seen[1].attempt,
        Some(Attempt {
            number: 2,
            avoid: vec![a(1001)]
        })
    );
    assert_eq!(
        seen[2].attempt,
        Some(Attempt {
            number: 3,
            avoid: vec![a(1001), a(1002)]
        })
    );
}

#[tokio::test(start_paused = true)]
async fn each_attempt_sends_the_time_left_and_the_call_ends_at_its_deadline() {
    let layer = RetryLayer::new(RetryConfig::new());
    let slow = || Step::After(Duration::from_millis(50), Box::new(unavailable()));
    let fake = Fake::new([
        Step::After(
            Duration::from_millis(150),
            Box::new(Step::ConnectError(503, connect_unavailable_json())),
        ),
        Step::Ok,
    ]);
    let req = request(&IDEMPOTENT, "application/proto", Some("1000"));
    run(&layer, &fake, req).await.unwrap();
    let left: u64 = fake
        .header(1, "connect-timeout-ms")
        .unwrap()
        .parse()
        .unwrap();
    let gap = gaps(&fake)[0] as u64;
    assert!(
        left <= 1000 - gap + 1 && left >= 1000 - gap - 1,
        "left {left}, gap {gap}"
    );

    // Every attempt stalls: the call ends at its deadline.
    let fake = Fake::new([slow(), Step::Stall, Step::Stall]);
    let start = Instant::now();
    let err = run(
        &layer,
        &fake,
        request(&IDEMPOTENT, "application/grpc", Some("250m")),
    )
    .await
    .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(
        ConnectError::find_in(&*err).unwrap().code(),
        Code::DeadlineExceeded
    );
    assert_eq!(fake.attempts(), 2);
    // A backoff that would end past the deadline is not waited for.
    let fake = Fake::new([unavailable(), Step::Ok]);
    let start = Instant::now();
    let req = request(&IDEMPOTENT, "application/grpc", Some("50m"));
    let (_, headers, _) = run(&layer, &fake, req).await.unwrap();
    assert_eq!((fake.attempts(), start.elapsed()), (1, Duration::ZERO));
    assert_eq!(headers["grpc-status"], "14");
}
