//! Calls one framework's generated client in a loop, in process, over the
//! in-memory channel of the client benchmarks, for a profiler
//! (`valgrind --tool=callgrind`, `perf`).
//!
//! `profile-client <ours|ours-view|connectrpc09|tonic|bare> <connect|grpc> <echo|ingest|client_stream|server_stream> <calls>`
//!
//! `ours-view` calls the `_view` methods (answers as zero-copy views, as
//! connectrpc 0.9 always answers). `bare` calls the channel with a
//! prebuilt HTTP request and reads the answer: the floor of the harness,
//! to subtract from the others.
//!
//! Requests are built before the calls, a pool of the same size whatever
//! `calls` is (1001, 201 for ingest, or `calls` if larger), and the unused
//! ones are leaked, so `(total(N) - total(1)) / (N - 1)` counts the calls
//! alone: encoding, sending, reading and decoding the answer, and dropping
//! the request (every framework the same).

use benches::clients::{Bare, ClientBench, Ours, Published, Tonic, expected_messages};
use benches::workload::{Proto, Workload};

fn run<B: ClientBench>(mut bench: B, workload: Workload, calls: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let first = bench.request();
    assert_eq!(
        rt.block_on(bench.call(first)),
        expected_messages(workload),
        "response messages"
    );
    let pool_len = calls.max(if workload == Workload::Ingest {
        201
    } else {
        1001
    });
    let mut pool: Vec<B::Request> = (0..pool_len).map(|_| bench.request()).collect();
    for _ in 0..calls {
        let req = pool.pop().expect("pool");
        std::hint::black_box(rt.block_on(bench.call(req)));
    }
    std::mem::forget(pool);
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let usage = "profile-client <ours|ours-view|connectrpc09|tonic|bare> <connect|grpc> <echo|ingest|client_stream|server_stream> <calls>";
    assert_eq!(a.len(), 4, "{usage}");
    let proto = match a[1].as_str() {
        "connect" => Proto::Connect,
        "grpc" => Proto::Grpc,
        _ => panic!("{usage}"),
    };
    let workload = match a[2].as_str() {
        "echo" => Workload::Echo,
        "ingest" => Workload::Ingest,
        "client_stream" => Workload::ClientStream,
        "server_stream" => Workload::ServerStream,
        _ => panic!("{usage}"),
    };
    let calls: usize = a[3].parse().expect(usage);
    match a[0].as_str() {
        "ours" => run(Ours::new(proto, workload), workload, calls),
        "ours-view" => run(Ours::with_views(proto, workload), workload, calls),
        "connectrpc09" => run(Published::new(proto, workload), workload, calls),
        "tonic" => {
            assert_eq!(proto, Proto::Grpc, "tonic speaks gRPC only");
            run(Tonic::new(workload), workload, calls)
        }
        "bare" => run(Bare::new(proto, workload), workload, calls),
        _ => panic!("{usage}"),
    }
}
