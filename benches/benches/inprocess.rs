//! In-process server benchmarks: each framework's tower service called with
//! prebuilt `http::Request`s, response body read to the end. No network.
//! `bare` (a service that answers with the request body) is the floor of
//! the harness.
//!
//! `cargo bench -p benches --bench inprocess`

use std::time::Duration;

use benches::workload::{Proto, Template, Workload, call, check};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;

fn bench_service<S, RB>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    framework: &str,
    svc: &S,
    proto: Proto,
    workloads: &[Workload],
    checked: bool,
) where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone,
    S::Error: std::fmt::Debug,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: std::fmt::Debug,
{
    for &w in workloads {
        let t = Template::new(w, proto);
        // One checked call before timing: never measure an error path.
        let (parts, collected) = rt.block_on(call(svc, t.request()));
        let trailers = collected.trailers().cloned();
        let body = collected.to_bytes();
        if checked && let Err(e) = check(&t, &parts, trailers.as_ref(), &body) {
            panic!(
                "{framework} {} {}: not a success: {e}",
                proto.name(),
                w.name()
            );
        }
        let mut group = c.benchmark_group(w.name());
        group.bench_function(format!("{framework}-{}", proto.name()), |b| {
            b.iter_batched(
                || t.request(),
                |req| rt.block_on(call(svc, req)),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = &Workload::ALL;
    let ours = benches::ours::router();
    let published = benches::published::service();
    let tonic = benches::tonic_impl::routes();
    bench_service(c, &rt, "ours", &ours, Proto::Connect, all, true);
    bench_service(
        c,
        &rt,
        "connectrpc09",
        &published,
        Proto::Connect,
        all,
        true,
    );
    bench_service(c, &rt, "ours", &ours, Proto::Grpc, all, true);
    bench_service(c, &rt, "connectrpc09", &published, Proto::Grpc, all, true);
    bench_service(c, &rt, "tonic", &tonic, Proto::Grpc, all, true);
    // The floor: the same harness around a service that answers with the
    // request body and does no RPC work (not an RPC answer, so unchecked).
    let bare = benches::bare::EchoService;
    bench_service(c, &rt, "bare", &bare, Proto::Grpc, all, false);
}

criterion_group! {
    name = inprocess;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = benches
}
criterion_main!(inprocess);
