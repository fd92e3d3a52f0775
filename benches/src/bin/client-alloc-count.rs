//! Counts heap allocations per unary call through each framework's client
//! (ours, connectrpc 0.9, tonic) over the in-memory channel of the client
//! benchmarks ([`benches::canned::CannedChannel`]: no server, no socket):
//! what each client costs per call, the channel's own allocations (its
//! boxed future, the response it builds) included alike.
//!
//! `cargo run --release -p benches --bin client-alloc-count`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use benches::canned::{CannedChannel, REPLY};
use connectrpc::ClientConfig;
use connectrpc_published::Protocol;

const URI: &str = "http://127.0.0.1:1";

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

const CALLS: u64 = 1000;

/// Allocations per call of `call` (after a warm-up of 10 calls).
fn per_call(rt: &tokio::runtime::Runtime, mut call: impl AsyncFnMut()) -> f64 {
    for _ in 0..10 {
        rt.block_on(call());
    }
    let a0 = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..CALLS {
        rt.block_on(call());
    }
    (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / CALLS as f64
}

fn ours(rt: &tokio::runtime::Runtime, channel: CannedChannel, config: ClientConfig) -> f64 {
    use benches::ours_proto::bench::v1::{EchoRequest, EchoServiceClient};
    let client = EchoServiceClient::new(channel, config);
    let req = EchoRequest {
        message: REPLY.into(),
        ..Default::default()
    };
    let reply = rt.block_on(client.echo(&req)).expect("ours: call succeeds");
    assert_eq!(reply.message().message, REPLY);
    per_call(rt, async || drop(client.echo(&req).await))
}

fn published(rt: &tokio::runtime::Runtime, channel: CannedChannel, protocol: Protocol) -> f64 {
    use benches::published_proto::bench::v1::{EchoRequest, EchoServiceClient};
    use connectrpc_published::client::{ClientConfig, ServiceTransport};
    let config = ClientConfig::new(URI.parse().unwrap()).with_protocol(protocol);
    let client = EchoServiceClient::new(ServiceTransport::new(channel), config);
    let req = EchoRequest {
        message: REPLY.into(),
        ..Default::default()
    };
    let reply = rt
        .block_on(client.echo(req.clone()))
        .expect("connectrpc09: call succeeds");
    assert_eq!(reply.view().message, REPLY);
    // The request is cloned per call (the client takes it by value): one
    // allocation of the harness, subtracted.
    per_call(rt, async || drop(client.echo(req.clone()).await)) - 1.0
}

fn tonic(rt: &tokio::runtime::Runtime) -> f64 {
    use benches::tonic_proto::EchoRequest;
    use benches::tonic_proto::echo_service_client::EchoServiceClient;
    let mut client = EchoServiceClient::new(CannedChannel::grpc_unary());
    let req = EchoRequest {
        message: REPLY.into(),
    };
    let reply = rt
        .block_on(client.echo(req.clone()))
        .expect("tonic: call succeeds");
    assert_eq!(reply.get_ref().message, REPLY);
    // As above: the per-call clone of the request is subtracted.
    per_call(rt, async || drop(client.echo(req.clone()).await)) - 1.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = || ClientConfig::new(URI.parse().unwrap());
    let rows = [
        (
            "ours-connect",
            ours(&rt, CannedChannel::connect_unary(), config()),
        ),
        (
            "ours-grpc",
            ours(&rt, CannedChannel::grpc_unary(), config().grpc()),
        ),
        (
            "connectrpc09-connect",
            published(&rt, CannedChannel::connect_unary(), Protocol::Connect),
        ),
        (
            "connectrpc09-grpc",
            published(&rt, CannedChannel::grpc_unary(), Protocol::Grpc),
        ),
        ("tonic-grpc", tonic(&rt)),
    ];
    println!("{:<22} {:>12}", "client (unary echo)", "allocs/call");
    for (name, allocs) in rows {
        println!("{name:<22} {allocs:>12.1}");
    }
}
