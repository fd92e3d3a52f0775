//! Observability: the greet service and its client in one process, each
//! call a `tracing` span with the OpenTelemetry RPC attributes (printed by
//! `tracing-subscriber`'s fmt layer when the span closes), and a metrics
//! [`Observer`] tallying calls, latency and sizes by method and code.
//!
//! ```sh
//! cargo run --example greet-tracing --features tracing
//! ```
//!
//! Prints, for each call, the client's and the server's span, e.g.:
//!
//! ```text
//! INFO rpc.server{otel.name="greet.v1.GreetService/Greet" otel.kind="server" rpc.system="grpc"
//!   rpc.service="greet.v1.GreetService" rpc.method="Greet" connectrpc.protocol="grpc"
//!   server.address="127.0.0.1" ... rpc.grpc.status_code=0 rpc.request.messages=1
//!   rpc.request.size=7 rpc.response.messages=1 rpc.response.size=17 trace_id=...}: close
//! ```
//!
//! # To OpenTelemetry
//!
//! Add `opentelemetry`, `opentelemetry_sdk`, `opentelemetry-otlp`,
//! `opentelemetry-http` and `tracing-opentelemetry` to your application
//! (this project depends on none of them), then:
//!
//! ```ignore
//! use opentelemetry::global;
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_http::{HeaderExtractor, HeaderInjector};
//! use opentelemetry_sdk::propagation::TraceContextPropagator;
//! use tracing_opentelemetry::OpenTelemetrySpanExt as _;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! global::set_text_map_propagator(TraceContextPropagator::new());
//! let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
//!     .with_batch_exporter(exporter)
//!     .build();
//! let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("greet"));
//! tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel))?;
//!
//! // The remote parent of server spans and the context of client calls.
//! struct Otel;
//! impl connectrpc::layers::observe::Propagator for Otel {
//!     fn extract(&self, headers: &http::HeaderMap, span: &tracing::Span) {
//!         let cx = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
//!         let _ = span.set_parent(cx);
//!     }
//!     fn inject(&self, span: &tracing::Span, headers: &mut http::HeaderMap) {
//!         let cx = span.context();
//!         global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
//!     }
//! }
//! connectrpc::layers::observe::set_propagator(Otel)?;
//! ```
//!
//! `tracing-opentelemetry` reads `otel.name`, `otel.kind` and
//! `otel.status_code` from the spans; every other field becomes a span
//! attribute under its own name.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::layers::observe::{self, CallInfo, CallSummary, Observer, Side, TraceLayer};
use connectrpc::{CallOptions, ClientConfig, HttpClient, Router, Server};
use examples::Greeter;
use examples::proto::greet::v1::{
    GreetRequest, GreetServiceClient, GreetServiceServer, GreetStreamRequest,
};
use tower::Layer as _;
use tracing_subscriber::fmt::format::FmtSpan;

/// The metrics recipe, in memory: with the `metrics` crate the same
/// method bodies call `counter!`, `histogram!` and `gauge!` with the
/// labels `rpc.method` and `rpc.code` (see `docs/observability.md`).
#[derive(Clone, Default)]
struct Tally(Arc<Mutex<Tallies>>);

#[derive(Default)]
struct Tallies {
    in_flight: i64,
    max_in_flight: i64,
    calls: BTreeMap<Key, Row>,
}

/// (side, method, code)
type Key = (&'static str, &'static str, &'static str);
/// (calls, total latency, request bytes, response bytes)
type Row = (u64, Duration, u64, u64);

impl Observer for Tally {
    fn call_started(&self, _call: &CallInfo) {
        let mut t = self.0.lock().unwrap();
        t.in_flight += 1;
        t.max_in_flight = t.max_in_flight.max(t.in_flight);
    }

    fn call_finished(&self, call: &CallInfo, end: &CallSummary) {
        let mut t = self.0.lock().unwrap();
        t.in_flight -= 1;
        let side = match call.side {
            Side::Server => "server",
            Side::Client => "client",
        };
        let e = t
            .calls
            .entry((side, call.method.path(), end.code.as_str()))
            .or_default();
        e.0 += 1;
        e.1 += end.duration;
        e.2 += end.request_bytes;
        e.3 += end.response_bytes;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Spans print when they close, with every field recorded on them.
    tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .init();
    let tally = Tally::default();
    observe::set_observer(tally.clone())?;

    // The server: the greet service wrapped in the trace layer.
    let greeter = TraceLayer::new().layer(GreetServiceServer::new(Greeter));
    let router = Router::new().add_service(greeter);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::new(router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .serve_with_listener(listener),
    );

    // The client: spans come with the `tracing` feature, no setup.
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    for config in [
        ClientConfig::new(base.parse()?),
        ClientConfig::new(base.parse()?).grpc(),
        ClientConfig::new(base.parse()?).grpc_web(),
    ] {
        let client = GreetServiceClient::new(http.clone(), config);
        let req = GreetRequest {
            name: "tracing".into(),
            ..Default::default()
        };
        // A caller's context: the server span records it as trace_id and
        // parent_span_id (a malformed one would be ignored).
        let options = CallOptions::new().header(
            "traceparent".parse()?,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?,
        );
        client.greet_with_options(&req, options).await?;

        let mut stream = client
            .greet_stream(&GreetStreamRequest {
                name: "stream".into(),
                count: 3,
                ..Default::default()
            })
            .await?;
        while let Some(reply) = stream.message().await {
            reply?;
        }

        // An invalid request: both spans end with invalid_argument (over
        // Connect the error ends the response stream, so read it: a
        // stream dropped unread ends its client span `canceled`).
        let too_many = GreetStreamRequest {
            count: 1_000,
            ..Default::default()
        };
        let outcome = match client.greet_stream(&too_many).await {
            Err(e) => Err(e),
            Ok(mut stream) => loop {
                match stream.message().await {
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                }
            },
        };
        assert!(outcome.is_err(), "the server refuses 1000 greetings");
    }
    // The last server span closes once its response is written.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = stop.send(());
    server.await??;

    let t = tally.0.lock().unwrap();
    println!("\nmetrics (side, method, code: calls, mean latency, request/response bytes):");
    for ((side, method, code), (n, total, req, resp)) in &t.calls {
        let mean = *total / u32::try_from(*n).unwrap_or(u32::MAX);
        println!("  {side} {method} {code}: {n} calls, {mean:?}, {req} B / {resp} B");
    }
    println!(
        "  in flight now {}, at most {}",
        t.in_flight, t.max_in_flight
    );
    Ok(())
}
