//! In-process client benchmarks: each framework's generated client calls
//! over the same in-memory channel ([`benches::canned::CannedChannel`]),
//! which reads the request body to the end and answers with a prebuilt
//! response. What is timed is the client: encoding the request, building
//! the HTTP request, reading and decoding the answer. `bare` calls the
//! channel directly with a prebuilt request and reads the answer: the floor
//! of the harness.
//!
//! `cargo bench -p benches --bench client`

use std::hint::black_box;
use std::time::Duration;

use benches::canned::{CannedChannel, REPLY};
use benches::{STREAM_LEN, ours_proto, published_proto, tonic_proto};
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt as _, Full};
use tower::ServiceExt as _;

type Rt = tokio::runtime::Runtime;

const URI: &str = "http://127.0.0.1:1";

fn ours(c: &mut Criterion, rt: &Rt) {
    use ours_proto::bench::v1::{EchoRequest, EchoServiceClient};
    let config = || connectrpc::ClientConfig::new(URI.parse().unwrap());
    let req = EchoRequest {
        message: REPLY.into(),
        ..Default::default()
    };
    for (proto, unary, stream, config) in [
        (
            "connect",
            CannedChannel::connect_unary(),
            CannedChannel::connect_stream(STREAM_LEN),
            config(),
        ),
        (
            "grpc",
            CannedChannel::grpc_unary(),
            CannedChannel::grpc_stream(STREAM_LEN),
            config().grpc(),
        ),
    ] {
        let client = EchoServiceClient::new(unary, config.clone());
        let reply = rt.block_on(client.echo(&req)).expect("ours unary");
        assert_eq!(reply.message().message, REPLY);
        c.benchmark_group("client_unary_echo")
            .bench_function(format!("ours-{proto}"), |b| {
                b.iter(|| black_box(rt.block_on(client.echo(&req)).unwrap()))
            });

        let client = EchoServiceClient::new(stream, config);
        let read_all = || async {
            let mut s = client.echo_server_stream(&req).await.unwrap();
            let mut n = 0;
            while let Some(m) = s.message().await {
                black_box(m.unwrap());
                n += 1;
            }
            n
        };
        assert_eq!(rt.block_on(read_all()), STREAM_LEN, "ours {proto} stream");
        c.benchmark_group("client_server_stream10")
            .bench_function(format!("ours-{proto}"), |b| {
                b.iter(|| rt.block_on(read_all()))
            });
    }
}

fn published(c: &mut Criterion, rt: &Rt) {
    use connectrpc_published::Protocol;
    use connectrpc_published::client::{ClientConfig, ServiceTransport};
    use published_proto::bench::v1::{EchoRequest, EchoServiceClient};
    let req = EchoRequest {
        message: REPLY.into(),
        ..Default::default()
    };
    for (proto, unary, stream, protocol) in [
        (
            "connect",
            CannedChannel::connect_unary(),
            CannedChannel::connect_stream(STREAM_LEN),
            Protocol::Connect,
        ),
        (
            "grpc",
            CannedChannel::grpc_unary(),
            CannedChannel::grpc_stream(STREAM_LEN),
            Protocol::Grpc,
        ),
    ] {
        let config = ClientConfig::new(URI.parse().unwrap()).with_protocol(protocol);
        let client = EchoServiceClient::new(ServiceTransport::new(unary), config.clone());
        let reply = rt
            .block_on(client.echo(req.clone()))
            .expect("connectrpc09 unary");
        assert_eq!(reply.view().message, REPLY);
        c.benchmark_group("client_unary_echo").bench_function(
            format!("connectrpc09-{proto}"),
            |b| {
                b.iter_batched(
                    || req.clone(),
                    |r| black_box(rt.block_on(client.echo(r)).unwrap()),
                    BatchSize::SmallInput,
                )
            },
        );

        let client = EchoServiceClient::new(ServiceTransport::new(stream), config);
        let read_all = |r: EchoRequest| async {
            let mut s = client.echo_server_stream(r).await.unwrap();
            let mut n = 0;
            while let Some(m) = s.message().await.unwrap() {
                black_box(m);
                n += 1;
            }
            n
        };
        assert_eq!(
            rt.block_on(read_all(req.clone())),
            STREAM_LEN,
            "connectrpc09 {proto} stream"
        );
        c.benchmark_group("client_server_stream10").bench_function(
            format!("connectrpc09-{proto}"),
            |b| {
                b.iter_batched(
                    || req.clone(),
                    |r| rt.block_on(read_all(r)),
                    BatchSize::SmallInput,
                )
            },
        );
    }
}

fn tonic(c: &mut Criterion, rt: &Rt) {
    use tonic_proto::EchoRequest;
    use tonic_proto::echo_service_client::EchoServiceClient;
    let req = EchoRequest {
        message: REPLY.into(),
    };
    let mut client = EchoServiceClient::new(CannedChannel::grpc_unary());
    let reply = rt.block_on(client.echo(req.clone())).expect("tonic unary");
    assert_eq!(reply.get_ref().message, REPLY);
    c.benchmark_group("client_unary_echo")
        .bench_function("tonic-grpc", |b| {
            b.iter_batched(
                || req.clone(),
                |r| black_box(rt.block_on(client.echo(r)).unwrap()),
                BatchSize::SmallInput,
            )
        });

    let client = EchoServiceClient::new(CannedChannel::grpc_stream(STREAM_LEN));
    let read_all = |r: EchoRequest| {
        let mut client = client.clone();
        async move {
            let mut s = client.echo_server_stream(r).await.unwrap().into_inner();
            let mut n = 0;
            while let Some(m) = s.message().await.unwrap() {
                black_box(m);
                n += 1;
            }
            n
        }
    };
    assert_eq!(
        rt.block_on(read_all(req.clone())),
        STREAM_LEN,
        "tonic stream"
    );
    c.benchmark_group("client_server_stream10")
        .bench_function("tonic-grpc", |b| {
            b.iter_batched(
                || req.clone(),
                |r| rt.block_on(read_all(r)),
                BatchSize::SmallInput,
            )
        });
}

/// The floor: the channel called directly with a prebuilt gRPC request,
/// its answer read to the end.
fn bare(c: &mut Criterion, rt: &Rt) {
    let request = || {
        http::Request::post(format!("{URI}/bench.v1.EchoService/Echo"))
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .body(Full::new(Bytes::from_static(b"\0\0\0\0\x07\n\x05hello")))
            .unwrap()
    };
    for (group, channel) in [
        ("client_unary_echo", CannedChannel::grpc_unary()),
        (
            "client_server_stream10",
            CannedChannel::grpc_stream(STREAM_LEN),
        ),
    ] {
        c.benchmark_group(group).bench_function("bare-grpc", |b| {
            b.iter_batched(
                request,
                |req| {
                    rt.block_on(async {
                        let resp = channel.clone().oneshot(req).await.unwrap();
                        black_box(resp.into_body().collect().await.unwrap())
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    ours(c, &rt);
    published(c, &rt);
    tonic(c, &rt);
    bare(c, &rt);
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
