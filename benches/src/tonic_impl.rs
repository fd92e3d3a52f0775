//! The bench services on tonic 0.14 + prost.

use std::pin::Pin;

use futures_util::{Stream, StreamExt as _};
use tonic::{Request, Response, Status, Streaming};

use crate::tonic_proto::echo_service_server::{EchoService, EchoServiceServer};
use crate::tonic_proto::log_service_server::{LogService, LogServiceServer};
use crate::tonic_proto::{EchoRequest, EchoResponse, IngestRequest, IngestResponse};

/// Implements `bench.v1.EchoService`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

/// Implements `bench.v1.LogService`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log;

type EchoStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let message = request.into_inner().message;
        Ok(Response::new(EchoResponse { message }))
    }

    async fn echo_client_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let mut requests = request.into_inner();
        let mut message = String::new();
        while let Some(req) = requests.next().await {
            message.push_str(&req?.message);
        }
        Ok(Response::new(EchoResponse { message }))
    }

    type EchoServerStreamStream = EchoStream;

    async fn echo_server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<EchoStream>, Status> {
        let message = request.into_inner().message;
        let stream = futures_util::stream::iter((0..crate::STREAM_LEN).map(move |_| {
            Ok(EchoResponse {
                message: message.clone(),
            })
        }));
        Ok(Response::new(Box::pin(stream)))
    }
}

#[tonic::async_trait]
impl LogService for Log {
    async fn ingest(
        &self,
        request: Request<IngestRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        let req = request.into_inner();
        let mut count = 0i64;
        let mut bytes = 0i64;
        for r in &req.records {
            count += 1;
            bytes += (r.service.len() + r.host.len() + r.message.len()) as i64;
            std::hint::black_box(r.timestamp_ns);
            std::hint::black_box(r.severity);
            for (k, v) in &r.attributes {
                bytes += (k.len() + v.len()) as i64;
            }
            if let Some(src) = &r.source {
                bytes += (src.file.len() + src.function.len()) as i64;
                std::hint::black_box(src.line);
            }
        }
        Ok(Response::new(IngestResponse {
            count,
            total_bytes: bytes,
        }))
    }
}

/// Both services behind tonic's `Routes` (the axum router that
/// `tonic::transport::Server::add_service` builds).
pub fn routes() -> tonic::service::Routes {
    tonic::service::Routes::new(EchoServiceServer::new(Echo))
        .add_service(LogServiceServer::new(Log))
}
