//! What observability costs per call: heap allocations and wall time,
//! in process (no sockets), on the server (a router call read to the end)
//! and on the client (over a channel answering at once).
//!
//! ```sh
//! cargo run --release -p benches --bin trace-overhead                    # feature off
//! cargo run --release -p benches --bin trace-overhead --features tracing # feature on
//! ```
//!
//! With the feature on, each traced row is measured with no subscriber
//! (spans disabled: the pass-through path) and under a `tracing-subscriber`
//! registry with a layer that only counts closed spans (spans enabled,
//! every field recorded).

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use benches::ours_proto::bench::v1::{EchoRequest, EchoResponse, EchoServiceClient};
use benches::workload::{Proto, Template, Workload, call};
use buffa::Message as _;
use bytes::Bytes;
use connectrpc::ClientConfig;
use connectrpc::client::ClientBody;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CALLS: u64 = 20_000;

/// Runs `one` CALLS times after a warm-up: (allocations, nanoseconds) per
/// call. The time is the best of 10 batches (the machine is shared).
fn per_call(rt: &tokio::runtime::Runtime, mut one: impl AsyncFnMut()) -> (f64, f64) {
    const BATCHES: u64 = 10;
    rt.block_on(async {
        for _ in 0..100 {
            one().await;
        }
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let mut best = f64::MAX;
        for _ in 0..BATCHES {
            let t0 = Instant::now();
            for _ in 0..CALLS / BATCHES {
                one().await;
            }
            best = best.min(t0.elapsed().as_nanos() as f64 / (CALLS / BATCHES) as f64);
        }
        let allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / CALLS as f64;
        (allocs, best)
    })
}

fn server<S, RB>(rt: &tokio::runtime::Runtime, svc: &S, t: &Template) -> (f64, f64)
where
    S: tower_service::Service<
            http::Request<http_body_util::Full<Bytes>>,
            Response = http::Response<RB>,
        > + Clone,
    S::Error: std::fmt::Debug,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: std::fmt::Debug,
{
    per_call(rt, async || drop(call(svc, t.request()).await))
}

/// A channel answering every request with `body` (and, for gRPC,
/// `grpc-status: 0` trailers).
fn canned(content_type: &'static str, body: Bytes, grpc: bool) -> impl connectrpc::Channel + use<> {
    tower::service_fn(move |_req: http::Request<ClientBody>| {
        let body = body.clone();
        async move {
            let mut trailers = http::HeaderMap::new();
            if grpc {
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            }
            let frames = [
                Ok::<_, Infallible>(http_body::Frame::data(body)),
                Ok(http_body::Frame::trailers(trailers)),
            ];
            let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
            let mut resp = http::Response::new(body);
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(content_type),
            );
            Ok::<_, Infallible>(resp)
        }
    })
}

fn client<T: connectrpc::Channel>(
    rt: &tokio::runtime::Runtime,
    client: &EchoServiceClient<T>,
) -> (f64, f64) {
    let req = EchoRequest {
        message: "hello".into(),
        ..Default::default()
    };
    per_call(rt, async || {
        let reply = client.echo(&req).await.expect("call succeeds");
        assert_eq!(reply.message().message, "hello");
    })
}

fn row(name: &str, (allocs, ns): (f64, f64)) {
    println!("{name:<44} {allocs:>12.2} {ns:>10.0}");
}

#[cfg(feature = "tracing")]
mod traced {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use benches::ours::{Echo, Log};
    use benches::ours_proto::bench::v1::{EchoServiceServer, LogServiceServer};
    use connectrpc::Router;
    use connectrpc::layers::observe::TraceLayer;
    use tower::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    /// The bench router with both services traced.
    pub(crate) fn router() -> Router {
        Router::new()
            .add_service(TraceLayer::new().layer(EchoServiceServer::new(Echo)))
            .add_service(TraceLayer::new().layer(LogServiceServer::new(Log)))
    }

    /// Counts closed spans, nothing more.
    #[derive(Clone, Default)]
    pub(crate) struct Closed(pub(crate) Arc<AtomicU64>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Closed {
        fn on_close(&self, _: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Installs a registry with `layer` on this thread.
    pub(crate) fn subscribe(layer: Closed) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer))
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let feature = if cfg!(feature = "tracing") {
        "on"
    } else {
        "off"
    };
    println!("feature tracing {feature}; {CALLS} calls per row, time: best batch of 10");
    println!("{:<44} {:>12} {:>10}", "case", "allocs/call", "ns/call");

    // Rows without a subscriber first, then the same under one: a thread
    // that once had a subscriber keeps paying for callsite checks.
    let plain = benches::ours::router();
    #[cfg(feature = "tracing")]
    let traced = traced::router();
    let cases = [
        (Workload::Echo, Proto::Connect),
        (Workload::Echo, Proto::Grpc),
        (Workload::ServerStream, Proto::Grpc),
    ];
    for (w, p) in cases {
        let t = Template::new(w, p);
        let name = format!("server {} {}", w.name(), p.name());
        row(&format!("{name} plain"), server(&rt, &plain, &t));
        #[cfg(feature = "tracing")]
        row(&format!("{name} traced"), server(&rt, &traced, &t));
    }
    let reply = EchoResponse {
        message: "hello".into(),
        ..Default::default()
    }
    .encode_to_bytes();
    let mut enveloped = vec![0u8, 0, 0, 0, reply.len() as u8];
    enveloped.extend_from_slice(&reply);
    let base: http::Uri = "http://127.0.0.1:1".parse().unwrap();
    let clients = [
        (
            "connect",
            EchoServiceClient::new(
                canned("application/proto", reply.clone(), false),
                ClientConfig::new(base.clone()),
            ),
        ),
        (
            "grpc",
            EchoServiceClient::new(
                canned("application/grpc", Bytes::from(enveloped), true),
                ClientConfig::new(base).grpc(),
            ),
        ),
    ];
    for (name, c) in &clients {
        row(&format!("client unary_echo {name}"), client(&rt, c));
    }
    #[cfg(feature = "tracing")]
    {
        let closed = traced::Closed::default();
        let _guard = traced::subscribe(closed.clone());
        for (w, p) in cases {
            let t = Template::new(w, p);
            let name = format!("server {} {} traced+subscriber", w.name(), p.name());
            row(&name, server(&rt, &traced, &t));
        }
        for (name, c) in &clients {
            row(
                &format!("client unary_echo {name} +subscriber"),
                client(&rt, c),
            );
        }
        let expected = CALLS * (cases.len() + clients.len()) as u64;
        assert!(closed.0.load(Ordering::Relaxed) >= expected, "spans closed");
    }
}
