//! Observability (feature `tracing`): every call is a span with the
//! OpenTelemetry RPC attributes, on the server (`TraceLayer` around the
//! generated server) and on the client (built into the client stack), over
//! Connect, gRPC and gRPC-Web, unary and streaming, ok and failed; the
//! caller's `traceparent` is recorded and a malformed one ignored.
//!
//! Each test runs on one thread (the default current-thread runtime), so
//! a thread-local subscriber sees the server's and the client's spans.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use connectrpc::client::ClientBody;
use connectrpc::layers::observe::TraceLayer;
use connectrpc::{CallOptions, ClientConfig, Code, HttpClient, Router};
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceServer};
use support::{ServerStreamRequest, UnaryRequest};
use tower::Layer as _;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// How long a test waits for spans to close: only a hang guard.
const WAIT: Duration = Duration::from_secs(15);

/// A closed span: its name and every field recorded on it.
#[derive(Clone, Debug)]
struct Closed {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

impl Closed {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    fn field(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("{} has no {key}: {:?}", self.name, self.fields))
    }
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Collects every closed span.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Closed>>>, Arc<Notify>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        ctx.span(id).unwrap().extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(f) = ctx.span(id).unwrap().extensions_mut().get_mut::<Fields>() {
            values.record(f);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        if !span.name().starts_with("rpc.") {
            return; // h2's and hyper's own spans
        }
        let fields = span
            .extensions_mut()
            .remove::<Fields>()
            .map(|f| f.0)
            .unwrap_or_default();
        self.0.lock().unwrap().push(Closed {
            name: span.name(),
            fields,
        });
        self.1.notify_waiters();
    }
}

impl Capture {
    /// Installs the capture for this thread.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()))
    }

    /// Takes the spans closed so far named `name`, waiting until there are
    /// `n`: a server span closes once the response is written.
    async fn take(&self, name: &str, n: usize) -> Vec<Closed> {
        let count = || {
            let all = self.0.lock().unwrap();
            all.iter().filter(|s| s.name == name).count()
        };
        let enough = support::wait_until(&self.1, WAIT, || count() >= n).await;
        let mut all = self.0.lock().unwrap();
        assert!(enough, "fewer than {n} {name} spans: {all:?}");
        let (hit, rest) = all.drain(..).partition(|s| s.name == name);
        *all = rest;
        hit
    }

    async fn one(&self, name: &str) -> Closed {
        let mut spans = self.take(name, 1).await;
        assert_eq!(spans.len(), 1, "{spans:?}");
        spans.pop().unwrap()
    }
}

async fn traced_server() -> support::TestServer {
    let server = TraceLayer::new().layer(TestServiceServer::new(support::Impl));
    support::start_with(Router::new().add_service(server)).await
}

fn configs(server: &support::TestServer) -> [ClientConfig; 3] {
    let base: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    [
        ClientConfig::new(base.clone()),
        ClientConfig::new(base.clone()).grpc(),
        ClientConfig::new(base).grpc_web(),
    ]
}

fn h2() -> HttpClient<ClientBody> {
    HttpClient::builder().http2_only(true).build()
}

/// The protocol's expected `rpc.system` and `connectrpc.protocol`.
fn system(config: &ClientConfig) -> (&'static str, &'static str) {
    match config.protocol() {
        connectrpc::Protocol::Connect => ("connect_rpc", "connect"),
        connectrpc::Protocol::Grpc => ("grpc", "grpc"),
        _ => ("grpc", "grpc_web"),
    }
}

/// Checks the code fields: `rpc.grpc.status_code` for gRPC(-Web),
/// `rpc.connect_rpc.error_code` (errors only) for Connect.
fn assert_code(span: &Closed, config: &ClientConfig, code: Code) {
    if config.protocol() == connectrpc::Protocol::Connect {
        assert_eq!(span.get("rpc.grpc.status_code"), None);
        let expected = (code != Code::Ok).then(|| code.as_str());
        assert_eq!(span.get("rpc.connect_rpc.error_code"), expected, "{span:?}");
    } else {
        assert_eq!(span.get("rpc.connect_rpc.error_code"), None);
        assert_eq!(
            span.field("rpc.grpc.status_code"),
            code.grpc_number().to_string()
        );
    }
    let error_type = (code != Code::Ok).then(|| code.as_str());
    assert_eq!(span.get("error.type"), error_type, "{span:?}");
}

fn assert_method(span: &Closed, config: &ClientConfig, method: &str) {
    let (rpc_system, protocol) = system(config);
    assert_eq!(span.field("rpc.system"), rpc_system);
    assert_eq!(span.field("connectrpc.protocol"), protocol);
    assert_eq!(span.field("rpc.service"), "test.v1.TestService");
    assert_eq!(span.field("rpc.method"), method);
    assert_eq!(
        span.field("otel.name"),
        format!("test.v1.TestService/{method}")
    );
}

#[tokio::test]
async fn unary_calls_are_spans_on_both_sides() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    let port = server.addr.port().to_string();
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config.clone());
        let req = UnaryRequest {
            text: "hello".into(),
            ..Default::default()
        };
        client.unary(&req).await.unwrap();

        let c = capture.one("rpc.client").await;
        assert_method(&c, &config, "Unary");
        assert_eq!(c.field("otel.kind"), "client");
        assert_eq!(c.field("server.address"), "127.0.0.1");
        assert_eq!(c.field("server.port"), port);
        assert_code(&c, &config, Code::Ok);
        assert_eq!(c.get("otel.status_code"), None);
        assert_eq!(c.field("rpc.request.messages"), "1");
        assert_eq!(c.field("rpc.request.size"), "7"); // field 1, "hello"
        assert_eq!(c.field("rpc.response.messages"), "1");
        assert_eq!(c.field("rpc.response.size"), "7");

        let s = capture.one("rpc.server").await;
        assert_method(&s, &config, "Unary");
        assert_eq!(s.field("otel.kind"), "server");
        // HTTP/2: the server learns its name from `:authority`, and the
        // client's address from the connection.
        assert_eq!(s.field("server.address"), "127.0.0.1");
        assert_eq!(s.field("server.port"), port);
        assert_eq!(s.field("client.address"), "127.0.0.1");
        assert!(s.field("client.port").parse::<u16>().is_ok());
        assert_code(&s, &config, Code::Ok);
        assert_eq!(s.field("rpc.request.messages"), "1");
        assert_eq!(s.field("rpc.request.size"), "7");
        assert_eq!(s.field("rpc.response.messages"), "1");
        assert_eq!(s.field("rpc.response.size"), "7");
        assert_eq!(s.get("trace_id"), None);
    }
}

#[tokio::test]
async fn failed_calls_record_the_code_and_the_status() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config.clone());
        // A caller's mistake: an error status on the client only.
        let req = UnaryRequest {
            text: "x".into(),
            fail_code: 5,
            ..Default::default()
        };
        assert_eq!(client.unary(&req).await.unwrap_err().code(), Code::NotFound);
        let c = capture.one("rpc.client").await;
        assert_code(&c, &config, Code::NotFound);
        assert_eq!(c.field("otel.status_code"), "ERROR");
        assert_eq!(c.field("otel.status_message"), "failed: x");
        let s = capture.one("rpc.server").await;
        assert_code(&s, &config, Code::NotFound);
        assert_eq!(s.get("otel.status_code"), None);
        assert_eq!(s.field("rpc.response.messages"), "0");

        // A server failure: an error status on both sides.
        let req = UnaryRequest {
            fail_code: 13,
            ..req
        };
        client.unary(&req).await.unwrap_err();
        let c = capture.one("rpc.client").await;
        assert_code(&c, &config, Code::Internal);
        let s = capture.one("rpc.server").await;
        assert_code(&s, &config, Code::Internal);
        assert_eq!(s.field("otel.status_code"), "ERROR");
    }
}

#[tokio::test]
async fn stream_spans_last_until_the_last_message() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config.clone());
        let req = ServerStreamRequest {
            text: "m".into(),
            count: 3,
            delay_ms: 20,
            ..Default::default()
        };
        let mut stream = client.server_stream(&req).await.unwrap();
        // The response headers are in: neither span may have closed yet.
        assert!(capture.0.lock().unwrap().is_empty(), "closed early");
        let mut n = 0;
        while let Some(msg) = stream.message().await {
            msg.unwrap();
            n += 1;
        }
        assert_eq!(n, 3);
        let c = capture.one("rpc.client").await;
        assert_method(&c, &config, "ServerStream");
        assert_code(&c, &config, Code::Ok);
        assert_eq!(c.field("rpc.response.messages"), "3");
        let s = capture.one("rpc.server").await;
        assert_method(&s, &config, "ServerStream");
        assert_code(&s, &config, Code::Ok);
        assert_eq!(s.field("rpc.request.messages"), "1");
        assert_eq!(s.field("rpc.response.messages"), "3");

        // A stream failing after two messages ends both spans with its code.
        let req = ServerStreamRequest {
            count: 5,
            fail_code_after: 2,
            delay_ms: 0,
            ..req
        };
        let mut stream = client.server_stream(&req).await.unwrap();
        let mut last = None;
        while let Some(msg) = stream.message().await {
            last = Some(msg);
        }
        assert_eq!(last.unwrap().unwrap_err().code(), Code::FailedPrecondition);
        let c = capture.one("rpc.client").await;
        assert_code(&c, &config, Code::FailedPrecondition);
        assert_eq!(c.field("rpc.response.messages"), "2");
        let s = capture.one("rpc.server").await;
        assert_code(&s, &config, Code::FailedPrecondition);
        assert_eq!(s.field("rpc.response.messages"), "2");
    }
}

#[tokio::test]
async fn client_and_bidi_streams_count_request_messages() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config.clone());
        let msgs: Vec<UnaryRequest> = ["a", "b", "c"]
            .into_iter()
            .map(|t| UnaryRequest {
                text: t.into(),
                ..Default::default()
            })
            .collect();
        let resp = client
            .client_stream(futures_util::stream::iter(msgs.clone()))
            .await
            .unwrap();
        assert_eq!(resp.message().text, "abc");
        for span in [
            capture.one("rpc.client").await,
            capture.one("rpc.server").await,
        ] {
            assert_method(&span, &config, "ClientStream");
            assert_code(&span, &config, Code::Ok);
            assert_eq!(span.field("rpc.request.messages"), "3");
            assert_eq!(span.field("rpc.request.size"), "9");
            assert_eq!(span.field("rpc.response.messages"), "1");
        }

        if config.protocol() == connectrpc::Protocol::GrpcWeb {
            continue; // gRPC-Web has no bidi streams
        }
        let mut bidi = client.bidi().await.unwrap();
        for m in &msgs {
            bidi.send(m).await.unwrap();
            bidi.message().await.unwrap().unwrap();
        }
        bidi.close_send();
        assert!(bidi.message().await.is_none());
        for span in [
            capture.one("rpc.client").await,
            capture.one("rpc.server").await,
        ] {
            assert_method(&span, &config, "Bidi");
            assert_code(&span, &config, Code::Ok);
            assert_eq!(span.field("rpc.request.messages"), "3");
            assert_eq!(span.field("rpc.response.messages"), "3");
        }
    }
}

#[tokio::test]
async fn a_deadline_ends_both_spans() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config.clone());
        let req = UnaryRequest {
            delay_ms: 2_000,
            ..Default::default()
        };
        let options = CallOptions::new().timeout(Duration::from_millis(100));
        let err = client.unary_with_options(&req, options).await.unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded);
        let c = capture.one("rpc.client").await;
        assert_code(&c, &config, Code::DeadlineExceeded);
        // The server's own timer or the client's reset, whichever came
        // first, ended the handler; either way the span ended with it.
        let s = capture.one("rpc.server").await;
        let code = s.field("error.type");
        assert!(code == "deadline_exceeded" || code == "canceled", "{s:?}");
    }
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn call_with_headers(
    client: &TestServiceClient<HttpClient<ClientBody>>,
    headers: &[(&'static str, &str)],
) {
    let mut options = CallOptions::new();
    for (name, value) in headers {
        options
            .headers_mut()
            .append(*name, http::HeaderValue::from_str(value).unwrap());
    }
    let req = UnaryRequest::default();
    client.unary_with_options(&req, options).await.unwrap();
}

#[tokio::test]
async fn the_callers_traceparent_is_recorded() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config);
        let headers = [
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ];
        call_with_headers(&client, &headers).await;
        let s = capture.one("rpc.server").await;
        assert_eq!(s.field("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.field("parent_span_id"), "00f067aa0ba902b7");
        assert_eq!(s.field("trace_flags"), "1");
        assert_eq!(s.field("tracestate"), "congo=t61rcWkgMzE");
        capture.one("rpc.client").await;
    }
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored() {
    let capture = Capture::default();
    let _guard = capture.install();
    let server = traced_server().await;
    let upper = TRACEPARENT.to_uppercase();
    let short = &TRACEPARENT[..50];
    let zero = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
    let bad_version = TRACEPARENT.replacen("00", "ff", 1);
    let long_v0 = format!("{TRACEPARENT}-extra");
    let cases: Vec<Vec<(&'static str, &str)>> = vec![
        vec![("traceparent", "garbage")],
        vec![("traceparent", &upper)],
        vec![("traceparent", short)],
        vec![("traceparent", zero)],
        vec![("traceparent", &bad_version)],
        vec![("traceparent", &long_v0)],
        vec![("traceparent", TRACEPARENT), ("traceparent", TRACEPARENT)],
        vec![("traceparent", "x"), ("tracestate", "congo=t61rcWkgMzE")],
    ];
    for config in configs(&server) {
        let client = TestServiceClient::new(h2(), config.clone());
        for headers in &cases {
            // The call is served as if the header were absent.
            call_with_headers(&client, headers).await;
            let s = capture.one("rpc.server").await;
            assert_code(&s, &config, Code::Ok);
            for field in ["trace_id", "parent_span_id", "trace_flags", "tracestate"] {
                assert_eq!(s.get(field), None, "{headers:?}: {s:?}");
            }
            capture.one("rpc.client").await;
        }
    }
}
