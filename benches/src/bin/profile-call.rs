//! Calls one framework's tower service in a loop, in process, for a
//! profiler (`valgrind --tool=callgrind`, `perf`).
//!
//! `profile-call <ours|ours-raw|connectrpc09|tonic|bare> <connect|grpc> <echo|ingest|client_stream|server_stream> <calls>`
//!
//! `ours-raw` serves only the ingest workload, over `raw.v1`: the same
//! messages from an editions file whose strings skip UTF-8 validation,
//! generated with `strict_utf8_mapping`.
//!
//! `bare` answers with the request body and does no RPC work: the floor of
//! the harness, to subtract from the others.

use benches::workload::{Proto, Template, Workload, call, check};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

/// One call before the loop (checked to be an RPC success unless
/// `checked` is false: bare's answer is no RPC), then `calls` calls.
fn run<S, RB>(svc: &S, t: &Template, calls: usize, checked: bool)
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone,
    S::Error: std::fmt::Debug,
    RB: http_body::Body<Data = Bytes>,
    RB::Error: std::fmt::Debug,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (parts, collected) = rt.block_on(call(svc, t.request()));
    if checked {
        let trailers = collected.trailers().cloned();
        check(t, &parts, trailers.as_ref(), &collected.to_bytes()).expect("success");
    }
    for _ in 0..calls {
        let req = t.request();
        std::hint::black_box(rt.block_on(call(svc, req)));
    }
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let usage = "profile-call <ours|ours-raw|connectrpc09|tonic|bare> <connect|grpc> <echo|ingest|client_stream|server_stream> <calls>\n\
                 (ours-raw: ingest only, over raw.v1 (strings not validated as UTF-8, strict_utf8_mapping))";
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
    let mut t = Template::new(workload, proto);
    match a[0].as_str() {
        "ours-raw" => {
            assert_eq!(workload, Workload::Ingest, "{usage}");
            t.path = "/raw.v1.LogService/Ingest";
            run(&benches::ours::raw_router(), &t, calls, true)
        }
        "ours" => run(&benches::ours::router(), &t, calls, true),
        "connectrpc09" => run(&benches::published::service(), &t, calls, true),
        "tonic" => run(&benches::tonic_impl::routes(), &t, calls, true),
        "bare" => run(&benches::bare::EchoService, &t, calls, false),
        _ => panic!("{usage}"),
    }
}
