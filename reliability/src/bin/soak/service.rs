//! The service under load: the integration test service, implemented for
//! the soak (echo, optional delay and failure, streams paced by a delay).

use std::time::Duration;

use buffa_types::google::protobuf::Empty;
use connectrpc::{Code, ConnectError, Context, OwnedView, ResponseStream, Streaming};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::test_service::{
    EmptyView, ServerStreamRequestView, UnaryRequestView,
};
use integration_tests::proto::test::v1::{TestService, UnaryResponse};

/// Echoes; `delay_ms` holds the answer (or each streamed message) back so
/// that a short client deadline expires mid-call; `fail_code` fails it.
pub(crate) struct SoakService;

fn failure(code: i32) -> ConnectError {
    let code = Code::from_grpc_number(code as u32).unwrap_or(Code::Unknown);
    ConnectError::new(code, "provoked failure")
}

fn delay(ms: i64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

impl TestService for SoakService {
    async fn unary(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let req = request.reborrow();
        if let Some(d) = delay(req.delay_ms) {
            tokio::time::sleep(d).await;
        }
        if req.fail_code != 0 {
            return Err(failure(req.fail_code));
        }
        let response = UnaryResponse {
            text: req.text.to_owned(),
            count: req.labels.len() as i64,
            payload: req.payload.to_vec(),
            ..Default::default()
        };
        Ok((response, ctx))
    }

    async fn server_stream(
        &self,
        ctx: Context,
        request: OwnedView<ServerStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        let req = request.reborrow();
        let text = req.text.to_owned();
        let pause = delay(req.delay_ms);
        let stream = futures_util::stream::iter(0..req.count).then(move |i| {
            let text = text.clone();
            async move {
                if let Some(d) = pause {
                    tokio::time::sleep(d).await;
                }
                Ok(UnaryResponse {
                    text,
                    count: i64::from(i),
                    ..Default::default()
                })
            }
        });
        Ok((Box::pin(stream), ctx))
    }

    async fn client_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let mut count = 0;
        let mut text = String::new();
        while let Some(msg) = requests.message().await? {
            text.push_str(msg.reborrow().text);
            count += 1;
        }
        let response = UnaryResponse {
            text,
            count,
            ..Default::default()
        };
        Ok((response, ctx))
    }

    async fn bidi(
        &self,
        ctx: Context,
        requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        let out = requests.map(|msg| {
            let msg = msg?;
            Ok(UnaryResponse {
                text: msg.reborrow().text.to_uppercase(),
                ..Default::default()
            })
        });
        Ok((Box::pin(out), ctx))
    }

    async fn not_gettable(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        self.unary(ctx, request).await
    }

    async fn ping(
        &self,
        ctx: Context,
        _request: OwnedView<EmptyView<'static>>,
    ) -> Result<(Empty, Context), ConnectError> {
        Ok((Empty::default(), ctx))
    }
}
