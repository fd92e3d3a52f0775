//! The bench services on ours (`connectrpc` in this workspace).

use std::sync::Arc;

use connectrpc::OwnedView;
use connectrpc::{ConnectError, Context, ResponseStream, Router, Streaming};

use crate::ours_proto::bench::v1::echo_service::EchoRequestView;
use crate::ours_proto::bench::v1::log_service::IngestRequestView;
use crate::ours_proto::bench::v1::{
    EchoResponse, EchoService, EchoServiceExt as _, IngestResponse, LogService, LogServiceExt as _,
};

/// Implements `bench.v1.EchoService`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

/// Implements `bench.v1.LogService`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Log;

impl EchoService for Echo {
    async fn echo(
        &self,
        ctx: Context,
        request: OwnedView<EchoRequestView<'static>>,
    ) -> Result<(EchoResponse, Context), ConnectError> {
        Ok((
            EchoResponse {
                message: request.reborrow().message.to_owned(),
                ..Default::default()
            },
            ctx,
        ))
    }

    async fn echo_client_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<EchoRequestView<'static>>,
    ) -> Result<(EchoResponse, Context), ConnectError> {
        let mut message = String::new();
        while let Some(req) = requests.message().await? {
            message.push_str(req.reborrow().message);
        }
        Ok((
            EchoResponse {
                message,
                ..Default::default()
            },
            ctx,
        ))
    }

    async fn echo_server_stream(
        &self,
        ctx: Context,
        request: OwnedView<EchoRequestView<'static>>,
    ) -> Result<(ResponseStream<EchoResponse>, Context), ConnectError> {
        let message = request.reborrow().message.to_owned();
        let stream = futures_util::stream::iter((0..crate::STREAM_LEN).map(move |_| {
            Ok(EchoResponse {
                message: message.clone(),
                ..Default::default()
            })
        }));
        Ok((Box::pin(stream), ctx))
    }
}

impl LogService for Log {
    async fn ingest(
        &self,
        ctx: Context,
        request: OwnedView<IngestRequestView<'static>>,
    ) -> Result<(IngestResponse, Context), ConnectError> {
        let (count, bytes) = crate::sum_ingest_view!(request.reborrow());
        Ok((
            IngestResponse {
                count,
                total_bytes: bytes,
                ..Default::default()
            },
            ctx,
        ))
    }
}

/// Implements `raw.v1.LogService`: the ingest workload over messages whose
/// strings skip UTF-8 validation (`strict_utf8_mapping`: they are bytes).
#[derive(Clone, Copy, Debug, Default)]
pub struct RawLog;

impl crate::raw_proto::raw::v1::LogService for RawLog {
    async fn ingest(
        &self,
        ctx: Context,
        request: OwnedView<crate::raw_proto::raw::v1::log_service::IngestRequestView<'static>>,
    ) -> Result<(crate::raw_proto::raw::v1::IngestResponse, Context), ConnectError> {
        let (count, bytes) = crate::sum_ingest_view!(request.reborrow());
        Ok((
            crate::raw_proto::raw::v1::IngestResponse {
                count,
                total_bytes: bytes,
                ..Default::default()
            },
            ctx,
        ))
    }
}

/// The router serving `raw.v1.LogService` alone.
pub fn raw_router() -> Router {
    use crate::raw_proto::raw::v1::LogServiceExt as _;
    Arc::new(RawLog).register(Router::new())
}

/// The router serving both services (Connect, gRPC and gRPC-Web).
pub fn router() -> Router {
    let router = Arc::new(Echo).register(Router::new());
    Arc::new(Log).register(router)
}
