//! Counts heap allocations per unary call through our client stack, over
//! a channel that answers at once with a canned response (no server, no
//! socket): what the client itself costs per call, over Connect and gRPC.
//!
//! `cargo run --release -p benches --bin client-alloc-count`

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use benches::ours_proto::bench::v1::{EchoRequest, EchoResponse, EchoServiceClient};
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

const CALLS: u64 = 1000;

/// A channel answering every request with `body` under `headers` and
/// `trailers`.
fn canned(content_type: &'static str, body: Bytes, grpc: bool) -> impl connectrpc::Channel + use<> {
    tower::service_fn(move |_req: http::Request<ClientBody>| {
        let body = body.clone();
        async move {
            let mut resp = http::Response::new(GrpcBody {
                data: Some(body),
                trailers: grpc.then(|| {
                    let mut t = http::HeaderMap::new();
                    t.insert("grpc-status", http::HeaderValue::from_static("0"));
                    t
                }),
            });
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(content_type),
            );
            Ok::<_, Infallible>(resp)
        }
    })
}

/// One data frame, then (for gRPC) trailers.
struct GrpcBody {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl http_body::Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let frame = match self.data.take() {
            Some(d) => Some(Ok(http_body::Frame::data(d))),
            None => self
                .trailers
                .take()
                .map(|t| Ok(http_body::Frame::trailers(t))),
        };
        std::task::Poll::Ready(frame)
    }
}

fn measure<T: connectrpc::Channel>(
    rt: &tokio::runtime::Runtime,
    client: &EchoServiceClient<T>,
) -> f64 {
    let req = EchoRequest {
        message: "hello".into(),
        ..Default::default()
    };
    let reply = rt.block_on(client.echo(&req)).expect("call succeeds");
    assert_eq!(reply.message().message, "hello");
    for _ in 0..10 {
        rt.block_on(client.echo(&req)).unwrap();
    }
    let a0 = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..CALLS {
        drop(rt.block_on(client.echo(&req)));
    }
    (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / CALLS as f64
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reply = EchoResponse {
        message: "hello".into(),
        ..Default::default()
    }
    .encode_to_bytes();
    let mut enveloped = vec![0u8, 0, 0, 0, reply.len() as u8];
    enveloped.extend_from_slice(&reply);
    let base: http::Uri = "http://127.0.0.1:1".parse().unwrap();
    let connect = EchoServiceClient::new(
        canned("application/proto", reply.clone(), false),
        ClientConfig::new(base.clone()),
    );
    let grpc = EchoServiceClient::new(
        canned("application/grpc", Bytes::from(enveloped), true),
        ClientConfig::new(base).grpc(),
    );
    println!("{:<10} {:>12}", "protocol", "allocs/call");
    println!("{:<10} {:>12.1}", "connect", measure(&rt, &connect));
    println!("{:<10} {:>12.1}", "grpc", measure(&rt, &grpc));
}
