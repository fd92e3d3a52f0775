//! The bench services on `connectrpc` 0.9 from crates.io.

use std::sync::Arc;

use connectrpc_published::{
    ConnectError, ConnectRpcService, InboundStream, RequestContext, Response, Router,
    ServiceRequest, ServiceResult, ServiceStream,
};
use futures_util::StreamExt as _;

use crate::published_proto::bench::v1::{
    EchoRequest, EchoResponse, EchoService, IngestRequest, IngestResponse, LogService,
};

/// Implements `bench.v1.EchoService`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

/// Implements `bench.v1.LogService`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log;

#[allow(refining_impl_trait)]
impl EchoService for Echo {
    async fn echo(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, EchoRequest>,
    ) -> ServiceResult<EchoResponse> {
        Response::ok(EchoResponse {
            message: request.view().message.to_owned(),
            ..Default::default()
        })
    }

    async fn echo_client_stream(
        &self,
        _ctx: RequestContext,
        mut requests: InboundStream<EchoRequest>,
    ) -> ServiceResult<EchoResponse> {
        let mut message = String::new();
        while let Some(req) = requests.next().await {
            let req = req?;
            message.push_str(req.message());
        }
        Response::ok(EchoResponse {
            message,
            ..Default::default()
        })
    }

    async fn echo_server_stream(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, EchoRequest>,
    ) -> ServiceResult<ServiceStream<EchoResponse>> {
        let message = request.view().message.to_owned();
        let stream = futures_util::stream::iter((0..crate::STREAM_LEN).map(move |_| {
            Ok::<_, ConnectError>(EchoResponse {
                message: message.clone(),
                ..Default::default()
            })
        }));
        let stream: ServiceStream<EchoResponse> = Box::pin(stream);
        Response::ok(stream)
    }
}

#[allow(refining_impl_trait)]
impl LogService for Log {
    async fn ingest(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, IngestRequest>,
    ) -> ServiceResult<IngestResponse> {
        let (count, bytes) = crate::sum_ingest_view!(request.view());
        Response::ok(IngestResponse {
            count,
            total_bytes: bytes,
            ..Default::default()
        })
    }
}

/// The router serving both services (Connect, gRPC and gRPC-Web).
pub fn router() -> Router {
    Router::new()
        .add_service(Arc::new(Echo))
        .add_service(Arc::new(Log))
}

/// The tower service (`Request<B>` -> `Response<ConnectRpcBody>`), as its
/// `Server` serves it.
pub fn service() -> ConnectRpcService {
    ConnectRpcService::new(router())
}
