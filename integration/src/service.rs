//! The test service every socket test serves: it echoes, and the request
//! can ask it to wait (`delay_ms`), fail (`fail_code`, `fail_code_after`),
//! report what it saw (`deadline?`, `header?`) or panic (`panic`).

use std::time::Duration;

use buffa_types::google::protobuf::Empty;
use connectrpc::{Code, ConnectError, Context, ErrorDetail, OwnedView, ResponseStream, Streaming};
use futures_util::StreamExt as _;

use crate::proto::test::v1::test_service::{EmptyView, ServerStreamRequestView, UnaryRequestView};
use crate::proto::test::v1::{TestService, UnaryResponse};

/// The service under test (see the module docs for what requests ask of it).
#[derive(Debug, Clone, Copy, Default)]
pub struct TestImpl;

fn code_from(n: i32) -> Code {
    Code::from_grpc_number(n as u32).unwrap_or(Code::Unknown)
}

fn failure(code: i32, text: &str) -> ConnectError {
    let mut err = ConnectError::new(code_from(code), format!("failed: {text}"))
        .with_detail(ErrorDetail::new("test.v1.UnaryResponse", vec![10, 1, b'd']));
    err.headers_mut()
        .insert("x-error-header", "eh".parse().unwrap());
    err.trailers_mut()
        .insert("x-error-trailer", "et".parse().unwrap());
    err
}

impl TestService for TestImpl {
    async fn unary(
        &self,
        mut ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let req = request.reborrow();
        if req.text == "panic" {
            panic!("a handler bug");
        }
        if req.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(req.delay_ms as u64)).await;
        }
        if req.fail_code != 0 {
            return Err(failure(req.fail_code, req.text));
        }
        let text = match req.text {
            "deadline?" => format!("{:?}", ctx.remaining().map(|d| d.as_secs())),
            "header?" => ctx
                .request_headers()
                .get("x-probe")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            t => t.to_owned(),
        };
        ctx.response_headers_mut()
            .insert("x-echo", "unary".parse().unwrap());
        ctx.response_trailers_mut()
            .append("x-trailer", "t1".parse().unwrap());
        ctx.response_trailers_mut()
            .append("x-trailer", "t2".parse().unwrap());
        let response = UnaryResponse {
            text,
            count: req.labels.len() as i64,
            payload: req.payload.to_vec(),
            ..Default::default()
        };
        Ok((response, ctx))
    }

    async fn server_stream(
        &self,
        mut ctx: Context,
        request: OwnedView<ServerStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        let req = request.reborrow();
        let text = req.text.to_owned();
        let (count, fail_after, delay) = (req.count, req.fail_code_after, req.delay_ms);
        ctx.response_trailers_mut()
            .insert("x-stream-trailer", "done".parse().unwrap());
        let stream = futures_util::stream::iter(0..count).then(move |i| {
            let text = text.clone();
            async move {
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay as u64)).await;
                }
                if fail_after > 0 && i >= fail_after {
                    return Err(failure(9, &text));
                }
                if text == "panic" && i == 1 {
                    panic!("a response stream bug");
                }
                Ok(UnaryResponse {
                    text: format!("{text}{i}"),
                    count: i64::from(i),
                    ..Default::default()
                })
            }
        });
        // Stop after the first error.
        let stream = stream.scan(false, |failed, item| {
            let out = if *failed { None } else { Some(item) };
            if let Some(Err(_)) = &out {
                *failed = true;
            }
            async move { out }
        });
        Ok((Box::pin(stream), ctx))
    }

    async fn client_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let mut text = String::new();
        let mut count = 0;
        while let Some(msg) = requests.message().await? {
            let msg = msg.reborrow();
            if msg.fail_code != 0 {
                return Err(failure(msg.fail_code, msg.text));
            }
            text.push_str(msg.text);
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
            let msg = msg.reborrow();
            if msg.fail_code != 0 {
                return Err(failure(msg.fail_code, msg.text));
            }
            Ok(UnaryResponse {
                text: msg.text.to_uppercase(),
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
