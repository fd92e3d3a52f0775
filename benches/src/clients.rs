//! Each framework's generated client running one workload over the
//! in-memory channel ([`CannedChannel`]), shared by the client benchmarks
//! (`benches/client.rs`), the profiler driver (`profile-client`) and the
//! allocation counter (`client-alloc-count`).
//!
//! A [`ClientBench`] makes owned requests ([`ClientBench::request`], not
//! part of what is measured: callers build them beforehand) and makes one
//! call with each ([`ClientBench::call`]): the request is encoded and sent,
//! the answer read to its end and decoded, and the request dropped, the
//! same for every framework. [`Bare`] is the floor: the channel called with
//! a prebuilt HTTP request and its answer read to the end, no RPC work.

use std::future::Future;
use std::hint::black_box;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use tower::ServiceExt as _;

use crate::canned::CannedChannel;
use crate::workload::{ECHO_MESSAGE, Proto, Template, Workload, ingest_request};
use crate::{STREAM_LEN, ours_proto, published_proto, tonic_proto};

/// The base URI every client is configured with (the channel ignores it).
pub const URI: &str = "http://127.0.0.1:1";

/// One framework's client for one protocol and workload.
pub trait ClientBench {
    /// What one call consumes.
    type Request;

    /// A fresh request for one call.
    fn request(&self) -> Self::Request;

    /// One call with `req`, its answer read to the end; resolves to the
    /// number of response messages received.
    fn call(&mut self, req: Self::Request) -> impl Future<Output = usize>;
}

/// How many response messages a call of `workload` receives.
pub fn expected_messages(workload: Workload) -> usize {
    match workload {
        Workload::ServerStream => STREAM_LEN,
        _ => 1,
    }
}

/// The encoded response every `IngestRequest` gets.
fn ingest_reply() -> Bytes {
    use prost::Message as _;
    tonic_proto::IngestResponse {
        count: crate::workload::INGEST_RECORDS as i64,
        total_bytes: 12_345,
    }
    .encode_to_vec()
    .into()
}

/// The channel answering `workload` over `proto`.
pub fn channel(proto: Proto, workload: Workload) -> CannedChannel {
    match (proto, workload) {
        (Proto::Connect, Workload::Echo) => CannedChannel::connect_unary(),
        (Proto::Connect, Workload::Ingest) => CannedChannel::connect_unary_of(ingest_reply()),
        (Proto::Connect, Workload::ClientStream) => CannedChannel::connect_stream(1),
        (Proto::Connect, Workload::ServerStream) => CannedChannel::connect_stream(STREAM_LEN),
        (Proto::Grpc, Workload::Ingest) => CannedChannel::grpc_stream_of(1, &ingest_reply()),
        (Proto::Grpc, Workload::ServerStream) => CannedChannel::grpc_stream(STREAM_LEN),
        (Proto::Grpc, _) => CannedChannel::grpc_unary(),
    }
}

/// A request of each shape, as a framework's message types hold it.
#[derive(Clone, Debug)]
pub enum Request<E, I> {
    /// One echo request (unary echo, server stream).
    Echo(E),
    /// One ingest request.
    Ingest(I),
    /// The messages of a client stream.
    Stream(Vec<E>),
}

fn request_for<E: Clone, I: Clone>(workload: Workload, echo: &E, ingest: &I) -> Request<E, I> {
    match workload {
        Workload::Echo | Workload::ServerStream => Request::Echo(echo.clone()),
        Workload::Ingest => Request::Ingest(ingest.clone()),
        Workload::ClientStream => Request::Stream(vec![echo.clone(); STREAM_LEN]),
    }
}

/// Ours: this workspace's generated clients, answering with owned
/// messages or (with [`Ours::with_views`]) with zero-copy views, as
/// connectrpc 0.9's clients always do.
pub struct Ours {
    workload: Workload,
    views: bool,
    echo: ours_proto::bench::v1::EchoServiceClient<CannedChannel>,
    log: ours_proto::bench::v1::LogServiceClient<CannedChannel>,
    echo_req: ours_proto::bench::v1::EchoRequest,
    ingest_req: ours_proto::bench::v1::IngestRequest,
}

impl Ours {
    /// Ours over `proto`, calling `workload`.
    pub fn new(proto: Proto, workload: Workload) -> Self {
        use ours_proto::bench::v1::{EchoRequest, EchoServiceClient, LogServiceClient};
        let config = connectrpc::ClientConfig::new(URI.parse().unwrap());
        let config = match proto {
            Proto::Connect => config,
            Proto::Grpc => config.grpc(),
        };
        let channel = channel(proto, workload);
        Ours {
            workload,
            views: false,
            echo: EchoServiceClient::new(channel.clone(), config.clone()),
            log: LogServiceClient::new(channel, config),
            echo_req: EchoRequest {
                message: ECHO_MESSAGE.into(),
                ..Default::default()
            },
            ingest_req: buffa::Message::decode_from_slice(&ingest_request()).unwrap(),
        }
    }

    /// Ours over `proto`, calling the `_view` methods: every answer a
    /// zero-copy view over its bytes.
    pub fn with_views(proto: Proto, workload: Workload) -> Self {
        Ours {
            views: true,
            ..Ours::new(proto, workload)
        }
    }
}

impl ClientBench for Ours {
    type Request =
        Request<ours_proto::bench::v1::EchoRequest, ours_proto::bench::v1::IngestRequest>;

    fn request(&self) -> Self::Request {
        request_for(self.workload, &self.echo_req, &self.ingest_req)
    }

    async fn call(&mut self, req: Self::Request) -> usize {
        match req {
            Request::Echo(r) if self.workload == Workload::ServerStream && self.views => {
                let mut s = self
                    .echo
                    .echo_server_stream_view(&r)
                    .await
                    .expect("ours stream");
                let mut n = 0;
                while let Some(m) = s.message().await {
                    black_box(m.expect("ours message"));
                    n += 1;
                }
                n
            }
            Request::Echo(r) if self.workload == Workload::ServerStream => {
                let mut s = self.echo.echo_server_stream(&r).await.expect("ours stream");
                let mut n = 0;
                while let Some(m) = s.message().await {
                    black_box(m.expect("ours message"));
                    n += 1;
                }
                n
            }
            Request::Echo(r) if self.views => {
                black_box(self.echo.echo_view(&r).await.expect("ours echo"));
                1
            }
            Request::Echo(r) => {
                black_box(self.echo.echo(&r).await.expect("ours echo"));
                1
            }
            Request::Ingest(r) if self.views => {
                black_box(self.log.ingest_view(&r).await.expect("ours ingest"));
                1
            }
            Request::Ingest(r) => {
                black_box(self.log.ingest(&r).await.expect("ours ingest"));
                1
            }
            Request::Stream(v) if self.views => {
                let s = futures_util::stream::iter(v);
                let answer = self.echo.echo_client_stream_view(s).await;
                black_box(answer.expect("ours stream"));
                1
            }
            Request::Stream(v) => {
                let s = futures_util::stream::iter(v);
                black_box(self.echo.echo_client_stream(s).await.expect("ours stream"));
                1
            }
        }
    }
}

/// connectrpc 0.9 from crates.io: its generated clients.
pub struct Published {
    workload: Workload,
    echo: published_proto::bench::v1::EchoServiceClient<
        connectrpc_published::client::ServiceTransport<CannedChannel>,
    >,
    log: published_proto::bench::v1::LogServiceClient<
        connectrpc_published::client::ServiceTransport<CannedChannel>,
    >,
    echo_req: published_proto::bench::v1::EchoRequest,
    ingest_req: published_proto::bench::v1::IngestRequest,
}

impl Published {
    /// connectrpc 0.9 over `proto`, calling `workload`.
    pub fn new(proto: Proto, workload: Workload) -> Self {
        use connectrpc_published::Protocol;
        use connectrpc_published::client::{ClientConfig, ServiceTransport};
        use published_proto::bench::v1::{EchoRequest, EchoServiceClient, LogServiceClient};
        let protocol = match proto {
            Proto::Connect => Protocol::Connect,
            Proto::Grpc => Protocol::Grpc,
        };
        let config = ClientConfig::new(URI.parse().unwrap()).with_protocol(protocol);
        let channel = channel(proto, workload);
        Published {
            workload,
            echo: EchoServiceClient::new(ServiceTransport::new(channel.clone()), config.clone()),
            log: LogServiceClient::new(ServiceTransport::new(channel), config),
            echo_req: EchoRequest {
                message: ECHO_MESSAGE.into(),
                ..Default::default()
            },
            ingest_req: buffa::Message::decode_from_slice(&ingest_request()).unwrap(),
        }
    }
}

impl ClientBench for Published {
    type Request =
        Request<published_proto::bench::v1::EchoRequest, published_proto::bench::v1::IngestRequest>;

    fn request(&self) -> Self::Request {
        request_for(self.workload, &self.echo_req, &self.ingest_req)
    }

    async fn call(&mut self, req: Self::Request) -> usize {
        match req {
            Request::Echo(r) if self.workload == Workload::ServerStream => {
                let mut s = self
                    .echo
                    .echo_server_stream(r)
                    .await
                    .expect("connectrpc09 stream");
                let mut n = 0;
                while let Some(m) = s.message().await.expect("connectrpc09 message") {
                    black_box(m);
                    n += 1;
                }
                n
            }
            Request::Echo(r) => {
                black_box(self.echo.echo(r).await.expect("connectrpc09 echo"));
                1
            }
            Request::Ingest(r) => {
                black_box(self.log.ingest(r).await.expect("connectrpc09 ingest"));
                1
            }
            Request::Stream(v) => {
                let s = connectrpc_published::stream_iter(v);
                black_box(
                    self.echo
                        .echo_client_stream(s)
                        .await
                        .expect("connectrpc09 stream"),
                );
                1
            }
        }
    }
}

/// tonic 0.14: its generated clients (gRPC only).
pub struct Tonic {
    workload: Workload,
    echo: tonic_proto::echo_service_client::EchoServiceClient<CannedChannel>,
    log: tonic_proto::log_service_client::LogServiceClient<CannedChannel>,
    echo_req: tonic_proto::EchoRequest,
    ingest_req: tonic_proto::IngestRequest,
}

impl Tonic {
    /// tonic over gRPC, calling `workload`.
    pub fn new(workload: Workload) -> Self {
        use prost::Message as _;
        use tonic_proto::echo_service_client::EchoServiceClient;
        use tonic_proto::log_service_client::LogServiceClient;
        let channel = channel(Proto::Grpc, workload);
        Tonic {
            workload,
            echo: EchoServiceClient::new(channel.clone()),
            log: LogServiceClient::new(channel),
            echo_req: tonic_proto::EchoRequest {
                message: ECHO_MESSAGE.into(),
            },
            ingest_req: tonic_proto::IngestRequest::decode(ingest_request()).unwrap(),
        }
    }
}

impl ClientBench for Tonic {
    type Request = Request<tonic_proto::EchoRequest, tonic_proto::IngestRequest>;

    fn request(&self) -> Self::Request {
        request_for(self.workload, &self.echo_req, &self.ingest_req)
    }

    async fn call(&mut self, req: Self::Request) -> usize {
        match req {
            Request::Echo(r) if self.workload == Workload::ServerStream => {
                let mut s = self
                    .echo
                    .echo_server_stream(r)
                    .await
                    .expect("tonic stream")
                    .into_inner();
                let mut n = 0;
                while let Some(m) = s.message().await.expect("tonic message") {
                    black_box(m);
                    n += 1;
                }
                n
            }
            Request::Echo(r) => {
                black_box(self.echo.echo(r).await.expect("tonic echo"));
                1
            }
            Request::Ingest(r) => {
                black_box(self.log.ingest(r).await.expect("tonic ingest"));
                1
            }
            Request::Stream(v) => {
                let s = futures_util::stream::iter(v);
                black_box(self.echo.echo_client_stream(s).await.expect("tonic stream"));
                1
            }
        }
    }
}

/// The floor: the channel called directly with a prebuilt HTTP request of
/// the workload (already encoded and framed), its answer read to the end.
pub struct Bare {
    workload: Workload,
    channel: CannedChannel,
    template: Template,
}

impl Bare {
    /// The floor of `workload` over `proto`.
    pub fn new(proto: Proto, workload: Workload) -> Self {
        Bare {
            workload,
            channel: channel(proto, workload),
            template: Template::new(workload, proto),
        }
    }
}

impl ClientBench for Bare {
    type Request = http::Request<Full<Bytes>>;

    fn request(&self) -> Self::Request {
        self.template.request()
    }

    async fn call(&mut self, req: Self::Request) -> usize {
        let resp = self.channel.clone().oneshot(req).await.expect("channel");
        black_box(resp.into_body().collect().await.expect("body"));
        expected_messages(self.workload)
    }
}
