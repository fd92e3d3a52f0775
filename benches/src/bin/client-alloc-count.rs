//! Counts heap allocations per call through each framework's generated
//! client (ours, connectrpc 0.9, tonic) over the in-memory channel of the
//! client benchmarks ([`benches::canned::CannedChannel`]: no server, no
//! socket), for every workload: what each client costs per call, the
//! channel's own allocations (its boxed future, the response it builds)
//! included alike; `bare` is those alone. Requests are built before the
//! counted calls (as `profile-client` does), so building them is not
//! counted; a call's encoding, reading and decoding are.
//!
//! `cargo run --release -p benches --bin client-alloc-count`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use benches::clients::{Bare, ClientBench, Ours, Published, Tonic};
use benches::workload::{Proto, Workload};

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

const CALLS: usize = 1000;

/// Allocations and bytes per call (after a warm-up of 10 calls).
fn per_call<B: ClientBench>(rt: &tokio::runtime::Runtime, mut bench: B) -> (f64, f64) {
    for _ in 0..10 {
        let req = bench.request();
        rt.block_on(bench.call(req));
    }
    let mut pool: Vec<B::Request> = (0..CALLS).map(|_| bench.request()).collect();
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    while let Some(req) = pool.pop() {
        rt.block_on(bench.call(req));
    }
    let n = CALLS as f64;
    (
        (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / n,
        (BYTES.load(Ordering::Relaxed) - b0) as f64 / n,
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{:<16} {:<22} {:>12} {:>12}",
        "workload", "client", "allocs/call", "bytes/call"
    );
    for w in Workload::ALL {
        let rows = [
            ("ours-connect", per_call(&rt, Ours::new(Proto::Connect, w))),
            ("ours-grpc", per_call(&rt, Ours::new(Proto::Grpc, w))),
            (
                "ours-view-connect",
                per_call(&rt, Ours::with_views(Proto::Connect, w)),
            ),
            (
                "ours-view-grpc",
                per_call(&rt, Ours::with_views(Proto::Grpc, w)),
            ),
            (
                "connectrpc09-connect",
                per_call(&rt, Published::new(Proto::Connect, w)),
            ),
            (
                "connectrpc09-grpc",
                per_call(&rt, Published::new(Proto::Grpc, w)),
            ),
            ("tonic-grpc", per_call(&rt, Tonic::new(w))),
            ("bare-connect", per_call(&rt, Bare::new(Proto::Connect, w))),
            ("bare-grpc", per_call(&rt, Bare::new(Proto::Grpc, w))),
        ];
        for (name, (allocs, bytes)) in rows {
            println!("{:<16} {name:<22} {allocs:>12.1} {bytes:>12.0}", w.name());
        }
    }
}
