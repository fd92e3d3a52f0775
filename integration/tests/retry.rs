//! The retry layer over real sockets on 127.0.0.1: a server that answers
//! `unavailable` before it succeeds (Connect, gRPC, gRPC-Web), one that
//! refuses streams (`REFUSED_STREAM`), one that sends GOAWAY before it
//! reads a request, and one that stalls past the deadline.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use connectrpc::client::resilience::retry::{
    Retry, RetryConfig, RetryLayer, RetryPolicy, encode_retry_info,
};
use connectrpc::client::{CallOptions, ClientBody, ClientConfig, HttpClient};
use connectrpc::{Code, ConnectError, Context, OwnedView, ResponseStream, Router, Streaming};
use http_body_util::BodyExt as _;
use integration_tests::proto::test::v1::test_service::{
    EmptyView, ServerStreamRequestView, UnaryRequestView,
};
use integration_tests::proto::test::v1::{
    TestService, TestServiceClient, TestServiceExt, UnaryRequest, UnaryResponse,
};
use integration_tests::service::TestImpl;
use tower::{Layer as _, Service as _, ServiceExt as _};

/// The test service, failing its first `fail` unary calls with
/// `unavailable`; counts the calls it sees.
#[derive(Clone)]
struct Flaky {
    fail: usize,
    seen: Arc<AtomicUsize>,
    /// Pushback on each failure: `grpc-retry-pushback-ms` and a
    /// `google.rpc.RetryInfo` detail.
    pushback_ms: Option<i64>,
    /// The first call stalls for 5 s (for hedging); counts the stalled
    /// handlers dropped before they finished (the client's reset).
    stall_first: bool,
    cancelled: Arc<AtomicUsize>,
}

/// Counts a handler dropped before it finished.
struct Cancelled(Arc<AtomicUsize>, bool);

impl Drop for Cancelled {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Flaky {
    fn new(fail: usize) -> Self {
        Flaky {
            fail,
            seen: Arc::default(),
            pushback_ms: None,
            stall_first: false,
            cancelled: Arc::default(),
        }
    }

    fn stall_first(mut self) -> Self {
        self.stall_first = true;
        self
    }

    fn pushback(mut self, ms: i64) -> Self {
        self.pushback_ms = Some(ms);
        self
    }

    fn gate(&self) -> Result<(), ConnectError> {
        if self.seen.fetch_add(1, Ordering::SeqCst) < self.fail {
            let mut err = ConnectError::unavailable("not yet");
            if let Some(ms) = self.pushback_ms {
                err.trailers_mut()
                    .insert("grpc-retry-pushback-ms", ms.to_string().parse().unwrap());
                let info = encode_retry_info(
                    ms.div_euclid(1000),
                    (ms.rem_euclid(1000) * 1_000_000) as i32,
                );
                err.add_detail(connectrpc::ErrorDetail::new("google.rpc.RetryInfo", info));
            }
            return Err(err);
        }
        Ok(())
    }
}

impl TestService for Flaky {
    async fn unary(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        if self.stall_first && self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            let mut guard = Cancelled(self.cancelled.clone(), false);
            tokio::time::sleep(Duration::from_secs(5)).await;
            guard.1 = true;
        }
        if !self.stall_first {
            self.gate()?;
        }
        TestImpl.unary(ctx, request).await
    }

    async fn server_stream(
        &self,
        ctx: Context,
        request: OwnedView<ServerStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        TestImpl.server_stream(ctx, request).await
    }

    async fn client_stream(
        &self,
        ctx: Context,
        requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        self.gate()?;
        TestImpl.client_stream(ctx, requests).await
    }

    async fn bidi(
        &self,
        ctx: Context,
        requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        TestImpl.bidi(ctx, requests).await
    }

    async fn not_gettable(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        self.gate()?;
        TestImpl.not_gettable(ctx, request).await
    }

    async fn ping(
        &self,
        ctx: Context,
        request: OwnedView<EmptyView<'static>>,
    ) -> Result<(buffa_types::google::protobuf::Empty, Context), ConnectError> {
        TestImpl.ping(ctx, request).await
    }
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    Connect,
    Grpc,
    GrpcWeb,
}

const PROTOS: [Proto; 3] = [Proto::Connect, Proto::Grpc, Proto::GrpcWeb];

fn config(proto: Proto, addr: SocketAddr) -> ClientConfig {
    let config = ClientConfig::new(format!("http://{addr}").parse().unwrap());
    match proto {
        Proto::Connect => config,
        Proto::Grpc => config.grpc(),
        Proto::GrpcWeb => config.grpc_web(),
    }
}

/// A retrying client over h2c (every protocol runs over HTTP/2).
fn client(
    layer: &RetryLayer,
    proto: Proto,
    addr: SocketAddr,
) -> TestServiceClient<Retry<HttpClient>> {
    let channel = layer.layer(HttpClient::plaintext_http2_only());
    TestServiceClient::new(channel, config(proto, addr))
}

fn hi() -> UnaryRequest {
    UnaryRequest {
        text: "hi".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn unavailable_twice_then_success_over_every_protocol() {
    for proto in PROTOS {
        for http1 in [false, true] {
            if http1 && matches!(proto, Proto::Grpc) {
                continue;
            }
            let flaky = Flaky::new(2);
            let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
            let layer = RetryLayer::new(RetryConfig::new());
            let transport = if http1 {
                HttpClient::plaintext()
            } else {
                HttpClient::plaintext_http2_only()
            };
            let first = TestServiceClient::new(layer.layer(transport), config(proto, server.addr));
            let case = format!("{proto:?} http1={http1}");
            let resp = first
                .unary(hi())
                .await
                .unwrap_or_else(|e| panic!("{case}: {e:?}"));
            assert_eq!(resp.text, "hi", "{case}");
            assert_eq!(flaky.seen.load(Ordering::SeqCst), 3, "{case}");
            assert_eq!(layer.stats().retries(), 2, "{case}");

            // A method without an idempotency level is not retried.
            let flaky = Flaky::new(1);
            let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
            let client = client(&layer, proto, server.addr);
            let err = client.not_gettable(hi()).await.unwrap_err();
            assert_eq!(err.code(), Code::Unavailable, "{case}");
            assert_eq!(flaky.seen.load(Ordering::SeqCst), 1, "{case}");
        }
    }
}

#[tokio::test]
async fn client_streams_are_replayed_over_every_protocol() {
    for proto in PROTOS {
        let flaky = Flaky::new(1);
        let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
        let config =
            RetryConfig::new().method("/test.v1.TestService/ClientStream", RetryPolicy::default());
        let layer = RetryLayer::new(config);
        let client = client(&layer, proto, server.addr);
        let reqs = futures_util::stream::iter(["a", "b", "c"].map(|t| UnaryRequest {
            text: t.into(),
            ..Default::default()
        }));
        let resp = client
            .client_stream(reqs)
            .await
            .unwrap_or_else(|e| panic!("{proto:?}: {e:?}"));
        assert_eq!((resp.text.as_str(), resp.count), ("abc", 3), "{proto:?}");
        assert_eq!(flaky.seen.load(Ordering::SeqCst), 2, "{proto:?}");
    }
}

/// How a raw HTTP/2 front misbehaves before it proxies to the real server.
#[derive(Clone, Copy, Debug)]
enum Misbehave {
    /// Resets the first `n` streams with `REFUSED_STREAM`.
    Refuse(usize),
    /// Sends GOAWAY (last stream 0) on the first `n` connections, before
    /// reading any request.
    GoAway(usize),
}

/// A raw h2 server on 127.0.0.1 that misbehaves as told, then proxies to
/// `backend`; returns its address and how many times it misbehaved.
async fn h2_front(backend: SocketAddr, misbehave: Misbehave) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let bad = count.clone();
    tokio::spawn(async move {
        let upstream = HttpClient::plaintext_http2_only();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let bad = bad.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Misbehave::GoAway(n) = misbehave
                    && bad.fetch_add(1, Ordering::SeqCst) < n
                {
                    go_away(tcp).await;
                    return;
                }
                let Ok(mut conn) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((req, mut respond))) = conn.accept().await {
                    if let Misbehave::Refuse(n) = misbehave
                        && bad.fetch_add(1, Ordering::SeqCst) < n
                    {
                        respond.send_reset(h2::Reason::REFUSED_STREAM);
                        continue;
                    }
                    let upstream = upstream.clone();
                    tokio::spawn(proxy(upstream, backend, req, respond));
                }
            });
        }
    });
    (addr, count)
}

/// Answers a connection's preface with SETTINGS and GOAWAY (last stream
/// 0: nothing was processed), as a server shutting down does, and keeps
/// the connection open (reading) until the client closes it.
async fn go_away(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    let goaway = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let _ = tcp.write_all(&settings).await;
    let _ = tcp.write_all(&goaway).await;
    let mut buf = [0u8; 4096];
    let drain = async { while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
}

async fn proxy(
    mut upstream: HttpClient,
    backend: SocketAddr,
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) {
    let (mut parts, mut body) = req.into_parts();
    let mut data = BytesMut::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = format!("http://{backend}{path}").parse().unwrap();
    let req = http::Request::from_parts(parts, ClientBody::full(data.freeze()));
    let Ok(resp) = upstream.ready().await.unwrap().call(req).await else {
        respond.send_reset(h2::Reason::INTERNAL_ERROR);
        return;
    };
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    let bytes = collected.to_bytes();
    let mut head = http::Response::from_parts(parts, ());
    head.headers_mut().remove("content-length");
    let mut send = respond.send_response(head, false).unwrap();
    let _ = send.send_data(bytes, trailers.is_none());
    if let Some(t) = trailers {
        let _ = send.send_trailers(t);
    }
}

#[tokio::test]
async fn refused_streams_are_retried_transparently_even_for_unsafe_methods() {
    for proto in PROTOS {
        let server = support::start().await;
        let (front, refused) = h2_front(server.addr, Misbehave::Refuse(2)).await;
        let layer = RetryLayer::new(RetryConfig::new());
        let client = client(&layer, proto, front);
        let resp = client
            .not_gettable(hi())
            .await
            .unwrap_or_else(|e| panic!("{proto:?}: {e:?}"));
        assert_eq!(resp.text, "hi");
        assert_eq!(
            refused.load(Ordering::SeqCst),
            3,
            "{proto:?}: 2 refused, then proxied"
        );
        assert_eq!(layer.stats().transparent_retries(), 2, "{proto:?}");
        assert_eq!(layer.stats().retries(), 0, "{proto:?}");

        // Without the retry layer, the refusal is an unprocessed unavailable.
        let (front, _) = h2_front(server.addr, Misbehave::Refuse(1)).await;
        let plain =
            TestServiceClient::new(HttpClient::plaintext_http2_only(), config(proto, front));
        let err = plain.not_gettable(hi()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{proto:?}: {err:?}");
        assert!(err.is_unprocessed(), "{proto:?}: {err:?}");
    }
}

#[tokio::test]
async fn goaway_before_processing_is_retried_transparently_even_for_unsafe_methods() {
    for proto in PROTOS {
        let server = support::start().await;
        let (front, goaways) = h2_front(server.addr, Misbehave::GoAway(2)).await;
        let layer = RetryLayer::new(RetryConfig::new());
        let client = client(&layer, proto, front);
        let resp = client
            .not_gettable(hi())
            .await
            .unwrap_or_else(|e| panic!("{proto:?}: {e:?}"));
        assert_eq!(resp.text, "hi");
        assert_eq!(
            goaways.load(Ordering::SeqCst),
            3,
            "{proto:?}: 2 GOAWAYs, then proxied"
        );
        assert!(layer.stats().transparent_retries() >= 1, "{proto:?}");
        assert_eq!(layer.stats().retries(), 0, "{proto:?}");
    }
}

#[tokio::test]
async fn goaway_storms_are_capped() {
    let server = support::start().await;
    let (front, goaways) = h2_front(server.addr, Misbehave::GoAway(usize::MAX)).await;
    let layer = RetryLayer::new(RetryConfig::new());
    let client = client(&layer, Proto::Grpc, front);
    let err = client.unary(hi()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(layer.stats().transparent_retries(), 3);
    assert!(goaways.load(Ordering::SeqCst) <= 4 + 1, "bounded attempts");
}

#[tokio::test]
async fn a_stalled_server_ends_the_call_at_its_deadline() {
    for proto in PROTOS {
        // The first attempt fails at once, the retry stalls past the deadline.
        let flaky = Flaky::new(1);
        let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
        let layer = RetryLayer::new(RetryConfig::new());
        let client = client(&layer, proto, server.addr);
        let deadline = Duration::from_millis(400);
        let req = UnaryRequest {
            text: "slow".into(),
            delay_ms: 10_000,
            ..Default::default()
        };
        let start = Instant::now();
        let err = client
            .unary_with_options(req, CallOptions::default().with_timeout(deadline))
            .await
            .unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{proto:?}: {err:?}");
        assert!(
            took >= deadline && took < deadline + Duration::from_millis(50),
            "{proto:?}: took {took:?}"
        );
        assert_eq!(
            flaky.seen.load(Ordering::SeqCst),
            2,
            "{proto:?}: retried once"
        );
    }
}

#[tokio::test]
async fn server_pushback_is_obeyed_over_every_protocol() {
    for proto in PROTOS {
        let flaky = Flaky::new(1).pushback(300);
        let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
        let layer = RetryLayer::new(RetryConfig::new());
        let pushed = client(&layer, proto, server.addr);
        let start = Instant::now();
        pushed
            .unary(hi())
            .await
            .unwrap_or_else(|e| panic!("{proto:?}: {e:?}"));
        let took = start.elapsed();
        // The default backoff would be 80-120 ms.
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(450),
            "{proto:?}: took {took:?}"
        );
        assert_eq!(flaky.seen.load(Ordering::SeqCst), 2, "{proto:?}");

        // A negative pushback stops retrying.
        let flaky = Flaky::new(1).pushback(-1);
        let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
        let client = client(&layer, proto, server.addr);
        let err = client.unary(hi()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{proto:?}");
        assert_eq!(flaky.seen.load(Ordering::SeqCst), 1, "{proto:?}");
    }
}

#[tokio::test]
async fn the_throttle_stops_a_retry_storm_when_the_server_always_fails() {
    let flaky = Flaky::new(usize::MAX);
    let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
    // gRFC A6's example bucket (the default holds 100 tokens).
    let layer = RetryLayer::new(RetryConfig::new().throttle(10, 0.1));
    let client = client(&layer, Proto::Grpc, server.addr);
    for _ in 0..20 {
        let err = client.unary(hi()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
    }
    // 3 attempts, then 2 (the bucket reaches half), then 1 each.
    assert_eq!(flaky.seen.load(Ordering::SeqCst), 3 + 2 + 18);
    assert_eq!(layer.stats().retries(), 3);
    assert_eq!(layer.stats().throttled(), 19);
}

#[tokio::test]
async fn refused_connections_are_unprocessed_and_retried_transparently_a_bounded_number_of_times() {
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for proto in PROTOS {
        let layer = RetryLayer::new(RetryConfig::new());
        let client = client(&layer, proto, addr);
        let start = Instant::now();
        let err = client.not_gettable(hi()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{proto:?}: {err:?}");
        assert!(err.is_unprocessed(), "{proto:?}: {err:?}");
        assert_eq!(layer.stats().transparent_retries(), 3, "{proto:?}");
        assert_eq!(layer.stats().attempts(), 4, "{proto:?}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{proto:?}: no backoff"
        );
    }
}

#[tokio::test]
async fn a_hedge_wins_over_a_stalled_attempt_which_is_reset_on_the_wire() {
    use connectrpc::client::resilience::retry::{HedgingDelay, HedgingPolicy};
    for proto in PROTOS {
        let flaky = Flaky::new(0).stall_first();
        let server = support::start_with(Arc::new(flaky.clone()).register(Router::new())).await;
        let policy = HedgingPolicy::new(3, HedgingDelay::Fixed(Duration::from_millis(100)));
        let layer =
            RetryLayer::new(RetryConfig::new().method("/test.v1.TestService/Unary", policy));
        let hedged = client(&layer, proto, server.addr);
        let start = Instant::now();
        let resp = hedged
            .unary(hi())
            .await
            .unwrap_or_else(|e| panic!("{proto:?}: {e:?}"));
        let took = start.elapsed();
        assert_eq!(resp.text, "hi");
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_millis(1000),
            "{proto:?}: took {took:?}"
        );
        assert_eq!(layer.stats().hedges(), 1, "{proto:?}");
        // The server sees the loser's stream reset: its handler is dropped.
        let reset = async {
            while flaky.cancelled.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(2), reset)
            .await
            .unwrap_or_else(|_| panic!("{proto:?}: the stalled attempt was not reset"));
    }
}
