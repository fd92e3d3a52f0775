//! The retry layer against a scripted channel: each attempt is answered
//! as the test says, in paused time.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use connect_core::{Code, ConnectError, Idempotency, MethodDescriptor, StreamType};
use connect_layers::ClientBody;
use connect_layers::protocol::MethodRoute;
use http_body_util::{BodyExt as _, Full};
use tokio::time::Instant;
use tower::{Service, ServiceExt as _};

use super::*;
use crate::resilience::{Attempt, ServedBy};

const IDEMPOTENT: MethodDescriptor = MethodDescriptor::new(
    "t.S",
    "Get",
    "/t.S/Get",
    StreamType::Unary,
    Idempotency::Idempotent,
);
const UNSAFE: MethodDescriptor = MethodDescriptor::new(
    "t.S",
    "Put",
    "/t.S/Put",
    StreamType::Unary,
    Idempotency::Unknown,
);
const UPLOAD: MethodDescriptor = MethodDescriptor::new(
    "t.S",
    "Upload",
    "/t.S/Upload",
    StreamType::ClientStream,
    Idempotency::Idempotent,
);

/// How the fake channel answers one attempt.
#[derive(Clone, Debug)]
enum Step {
    /// gRPC trailers-only, with an optional `grpc-retry-pushback-ms`.
    TrailersOnly(Code, Option<&'static str>),
    /// A Connect unary error: HTTP status and JSON body.
    ConnectError(u16, String),
    /// A transport error the server never processed.
    Unprocessed,
    /// A 200 whose body is "ok" (committed for every protocol).
    Ok,
    /// Waits, then answers.
    After(Duration, Box<Step>),
    /// Never answers.
    Stall,
}

/// What the fake saw of one attempt.
#[derive(Debug)]
struct Seen {
    at: Instant,
    headers: http::HeaderMap,
    attempt: Option<Attempt>,
    body: Bytes,
    /// Set when the attempt's future was dropped before it answered.
    dropped: Arc<AtomicBool>,
}

#[derive(Clone, Default)]
struct Fake {
    script: Arc<Mutex<VecDeque<Step>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct DropFlag(Arc<AtomicBool>, bool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

type FakeFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Full<Bytes>>, ConnectError>> + Send>>;

impl Fake {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Fake {
            script: Arc::new(Mutex::new(steps.into_iter().collect())),
            seen: Arc::default(),
        }
    }

    fn attempts(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn header(&self, i: usize, name: &str) -> Option<String> {
        self.seen.lock().unwrap()[i]
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

fn answer(step: Step, n: usize) -> FakeFuture {
    Box::pin(async move {
        let mut resp = match step {
            Step::After(d, next) => {
                tokio::time::sleep(d).await;
                return answer(*next, n).await;
            }
            Step::Stall => std::future::pending().await,
            Step::Unprocessed => {
                return Err(ConnectError::unavailable("refused stream").unprocessed());
            }
            Step::Ok => http::Response::new(Full::new(Bytes::from_static(b"ok"))),
            Step::TrailersOnly(code, pushback) => {
                let mut r = http::Response::new(Full::default());
                let h = r.headers_mut();
                h.insert("content-type", "application/grpc".parse().unwrap());
                h.insert("grpc-status", code.grpc_number().into());
                if let Some(p) = pushback {
                    h.insert("grpc-retry-pushback-ms", p.parse().unwrap());
                }
                r
            }
            Step::ConnectError(status, json) => {
                let mut r = http::Response::new(Full::new(Bytes::from(json)));
                *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                r
            }
        };
        let port = 1000 + n as u16;
        resp.extensions_mut()
            .insert(ServedBy(([127, 0, 0, 1], port).into()));
        Ok(resp)
    })
}

impl Service<http::Request<ClientBody>> for Fake {
    type Response = http::Response<Full<Bytes>>;
    type Error = ConnectError;
    type Future = FakeFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), ConnectError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> FakeFuture {
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .expect("an attempt beyond the script");
        let seen = self.seen.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let dropped = Arc::new(AtomicBool::new(false));
            let mut guard = DropFlag(dropped.clone(), false);
            // The whole request body is read before answering.
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(Seen {
                    at: Instant::now(),
                    headers: parts.headers,
                    attempt: parts.extensions.get::<Attempt>().cloned(),
                    body,
                    dropped,
                });
                seen.len()
            };
            let r = answer(step, n).await;
            guard.1 = true;
            r
        })
    }
}

fn request(
    method: &'static MethodDescriptor,
    ct: &'static str,
    timeout: Option<&str>,
) -> http::Request<ClientBody> {
    let mut req = http::Request::new(ClientBody::full(Bytes::from_static(b"request")));
    *req.method_mut() = http::Method::POST;
    req.headers_mut()
        .insert("content-type", ct.parse().unwrap());
    if let Some(t) = timeout {
        let name = if ct.starts_with("application/grpc") {
            "grpc-timeout"
        } else {
            "connect-timeout-ms"
        };
        req.headers_mut().insert(name, t.parse().unwrap());
    }
    req.extensions_mut().insert(MethodRoute(method));
    req
}

fn grpc(method: &'static MethodDescriptor) -> http::Request<ClientBody> {
    request(method, "application/grpc", None)
}

async fn run(
    layer: &RetryLayer,
    fake: &Fake,
    req: http::Request<ClientBody>,
) -> Result<(http::StatusCode, http::HeaderMap, Bytes), BoxError> {
    let mut svc = layer.layer(fake.clone());
    let resp = svc.ready().await?.call(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| Box::new(e) as BoxError)?
        .to_bytes();
    Ok((parts.status, parts.headers, body))
}

fn unavailable() -> Step {
    Step::TrailersOnly(Code::Unavailable, None)
}

fn gaps(fake: &Fake) -> Vec<u128> {
    let seen = fake.seen.lock().unwrap();
    seen.windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect()
}

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

fn connect_unavailable_json() -> String {
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

fn stream_request(chunks: Vec<Bytes>) -> http::Request<ClientBody> {
    let items: Vec<Result<Bytes, ConnectError>> = chunks.into_iter().map(Ok).collect();
    let body = ClientBody::stream(Box::pin(futures_util::stream::iter(items)));
    let mut req = grpc(&UPLOAD);
    *req.body_mut() = body;
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
