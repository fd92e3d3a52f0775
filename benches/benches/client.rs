//! In-process client benchmarks: each framework's generated client calls
//! over the same in-memory channel ([`benches::canned::CannedChannel`]),
//! which reads the request body to the end and answers with a prebuilt
//! response. What is timed is the client: encoding the request, building
//! the HTTP request, reading and decoding the answer, dropping the request.
//! Requests are built outside the timing (`iter_batched`). `bare` calls the
//! channel directly with a prebuilt HTTP request and reads the answer: the
//! floor of the harness. The setup is shared with `profile-client` and
//! `client-alloc-count` ([`benches::clients`]).
//!
//! `cargo bench -p benches --bench client`

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Duration;

use benches::clients::{Bare, ClientBench, Ours, Published, Tonic, expected_messages};
use benches::workload::{Proto, Workload};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

type Rt = tokio::runtime::Runtime;

/// Benchmarks `bench` as `name` in `workload`'s group, after checking one
/// call's answer.
fn run<B: ClientBench>(c: &mut Criterion, rt: &Rt, workload: Workload, name: &str, bench: B) {
    let bench = RefCell::new(bench);
    let first = bench.borrow().request();
    assert_eq!(
        rt.block_on(bench.borrow_mut().call(first)),
        expected_messages(workload),
        "{name} {}",
        workload.name()
    );
    c.benchmark_group(format!("client_{}", workload.name()))
        .bench_function(name, |b| {
            b.iter_batched(
                || bench.borrow().request(),
                |req| black_box(rt.block_on(bench.borrow_mut().call(req))),
                BatchSize::SmallInput,
            )
        });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for w in Workload::ALL {
        for proto in [Proto::Connect, Proto::Grpc] {
            let p = proto.name();
            run(c, &rt, w, &format!("ours-{p}"), Ours::new(proto, w));
            run(
                c,
                &rt,
                w,
                &format!("ours-view-{p}"),
                Ours::with_views(proto, w),
            );
            run(
                c,
                &rt,
                w,
                &format!("connectrpc09-{p}"),
                Published::new(proto, w),
            );
        }
        run(c, &rt, w, "tonic-grpc", Tonic::new(w));
        run(c, &rt, w, "bare-grpc", Bare::new(Proto::Grpc, w));
    }
}

criterion_group! {
    name = client;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = benches
}
criterion_main!(client);
