//! The observability hooks end to end (feature `tracing`): an `Observer`
//! sees every call start and end on both sides with its method, code,
//! message counts and sizes (the metrics recipe), and a `Propagator`
//! injects trace context on the client that the server extracts.
//!
//! The hooks are process-wide, so this file is its own test binary and
//! one test.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use connectrpc::client::ClientBody;
use connectrpc::layers::observe::{
    self, CallInfo, CallSummary, Observer, Propagator, Side, TraceLayer, TraceParent,
};
use connectrpc::{ClientConfig, Code, HttpClient, Router};
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceServer};
use support::{ServerStreamRequest, UnaryRequest};
use tower::Layer as _;

/// Per (side, method, code): calls, total request/response messages and
/// bytes; and the in-flight gauge per side.
#[derive(Default)]
struct Metrics {
    calls: HashMap<(Side, &'static str, Code), [u64; 5]>,
    in_flight: HashMap<Side, i64>,
    longest: Duration,
}

/// The metrics, and a notice after each finished call.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Metrics>>, Arc<Notify>);

impl Observer for Recorder {
    fn call_started(&self, call: &CallInfo) {
        *self
            .0
            .lock()
            .unwrap()
            .in_flight
            .entry(call.side)
            .or_default() += 1;
    }

    fn call_finished(&self, call: &CallInfo, end: &CallSummary) {
        let mut m = self.0.lock().unwrap();
        *m.in_flight.entry(call.side).or_default() -= 1;
        m.longest = m.longest.max(end.duration);
        let e = m
            .calls
            .entry((call.side, call.method.method(), end.code))
            .or_default();
        e[0] += 1;
        e[1] += end.request_messages;
        e[2] += end.request_bytes;
        e[3] += end.response_messages;
        e[4] += end.response_bytes;
        drop(m);
        self.1.notify_waiters();
    }
}

/// A propagator without OpenTelemetry: the client sends a fixed
/// traceparent, the server keeps what it extracts.
#[derive(Clone, Default)]
struct Fixed(Arc<Mutex<Vec<Option<TraceParent>>>>);

const SENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

impl Propagator for Fixed {
    fn extract(&self, headers: &http::HeaderMap, _span: &tracing::Span) {
        self.0
            .lock()
            .unwrap()
            .push(TraceParent::from_headers(headers));
    }

    fn inject(&self, _span: &tracing::Span, headers: &mut http::HeaderMap) {
        headers.insert(observe::TRACEPARENT, SENT.parse().unwrap());
    }
}

#[tokio::test]
async fn observer_and_propagator_see_every_call() {
    let recorder = Recorder::default();
    let propagator = Fixed::default();
    observe::set_observer(recorder.clone()).unwrap();
    observe::set_propagator(propagator.clone()).unwrap();
    assert!(observe::set_observer(Recorder::default()).is_err());

    let server = TraceLayer::new().layer(TestServiceServer::new(support::Impl));
    let server = support::start_with(Router::new().add_service(server)).await;
    let base: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    for config in [
        ClientConfig::new(base.clone()),
        ClientConfig::new(base.clone()).grpc(),
        ClientConfig::new(base.clone()).grpc_web(),
    ] {
        let client = TestServiceClient::new(http.clone(), config);
        let ok = UnaryRequest {
            text: "hello".into(),
            delay_ms: 20,
            ..Default::default()
        };
        client.unary(&ok).await.unwrap();
        let bad = UnaryRequest {
            fail_code: 3,
            ..Default::default()
        };
        client.unary(&bad).await.unwrap_err();
        let req = ServerStreamRequest {
            text: "s".into(),
            count: 4,
            ..Default::default()
        };
        let mut stream = client.server_stream(&req).await.unwrap();
        while let Some(m) = stream.message().await {
            m.unwrap();
        }
    }
    // The server records a call once its response is written.
    let settled = support::wait_until(&recorder.1, Duration::from_secs(15), || {
        recorder
            .0
            .lock()
            .unwrap()
            .in_flight
            .values()
            .all(|n| *n == 0)
    })
    .await;
    assert!(settled, "calls still in flight");

    let m = recorder.0.lock().unwrap();
    assert_eq!(m.in_flight.get(&Side::Server), Some(&0));
    assert_eq!(m.in_flight.get(&Side::Client), Some(&0));
    assert!(m.longest >= Duration::from_millis(20), "{:?}", m.longest);
    for side in [Side::Server, Side::Client] {
        // Three protocols each: calls, messages and bytes both ways.
        assert_eq!(m.calls[&(side, "Unary", Code::Ok)], [3, 3, 27, 3, 21]);
        assert_eq!(
            m.calls[&(side, "Unary", Code::InvalidArgument)],
            [3, 3, 6, 0, 0]
        );
        let stream = m.calls[&(side, "ServerStream", Code::Ok)];
        assert_eq!(stream[..4], [3, 3, 15, 12]);
    }
    assert_eq!(m.calls.len(), 6, "{:?}", m.calls.keys());

    // Every server call saw the client's injected context.
    let seen = propagator.0.lock().unwrap();
    assert_eq!(seen.len(), 9);
    let sent = TraceParent::parse(SENT);
    assert!(seen.iter().all(|tp| *tp == sent), "{seen:?}");
}
