//! Counts heap allocations per in-process call through each framework's
//! tower service (request construction excluded, response body read to the
//! end included).
//!
//! `cargo run --release -p benches --bin alloc-count`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use benches::workload::{Proto, Template, Workload, call, check};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CALLS: u64 = 1000;

fn measure<S, RB>(rt: &tokio::runtime::Runtime, svc: &S, t: &Template) -> (f64, f64)
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone,
    S::Error: std::fmt::Debug,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: std::fmt::Debug,
{
    let (parts, collected) = rt.block_on(call(svc, t.request()));
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes();
    check(t, &parts, trailers.as_ref(), &body).expect("success");
    // Warm up, then count over CALLS calls; requests are built beforehand.
    for _ in 0..10 {
        rt.block_on(call(svc, t.request()));
    }
    let reqs: Vec<_> = (0..CALLS).map(|_| t.request()).collect();
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let b0 = BYTES.load(Ordering::Relaxed);
    for req in reqs {
        let out = rt.block_on(call(svc, req));
        drop(out);
    }
    let a = ALLOCS.load(Ordering::Relaxed) - a0;
    let b = BYTES.load(Ordering::Relaxed) - b0;
    (a as f64 / CALLS as f64, b as f64 / CALLS as f64)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ours = benches::ours::router();
    let published = benches::published::service();
    let tonic = benches::tonic_impl::routes();
    println!(
        "{:<16} {:<22} {:>12} {:>14}",
        "workload", "framework", "allocs/call", "bytes/call"
    );
    for w in Workload::ALL {
        let rows: Vec<(&str, (f64, f64))> = vec![
            (
                "ours-connect",
                measure(&rt, &ours, &Template::new(w, Proto::Connect)),
            ),
            (
                "connectrpc09-connect",
                measure(&rt, &published, &Template::new(w, Proto::Connect)),
            ),
            (
                "ours-grpc",
                measure(&rt, &ours, &Template::new(w, Proto::Grpc)),
            ),
            (
                "connectrpc09-grpc",
                measure(&rt, &published, &Template::new(w, Proto::Grpc)),
            ),
            (
                "tonic-grpc",
                measure(&rt, &tonic, &Template::new(w, Proto::Grpc)),
            ),
        ];
        for (name, (a, b)) in rows {
            println!("{:<16} {:<22} {:>12.1} {:>14.0}", w.name(), name, a, b);
        }
    }
}
