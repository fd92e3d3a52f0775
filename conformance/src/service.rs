//! `connectrpc.conformance.v1.ConformanceService`, with the semantics of the
//! suite's reference server (`internal/app/referenceserver` in
//! connectrpc/conformance): every request carries a response definition
//! (headers, trailers, data or an error, a delay), and every response echoes
//! what the server saw (request headers, timeout, the requests themselves).

use std::time::Duration;

use buffa::Message;
use buffa_types::google::protobuf::Any;
use connectrpc::{Code, ConnectError, Context, ErrorDetail, OwnedView, ResponseStream, Streaming};
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;

use crate::proto::connectrpc::conformance::v1::conformance_payload::RequestInfo;
use crate::proto::connectrpc::conformance::v1::conformance_service::{
    BidiStreamRequestView, ClientStreamRequestView, IdempotentUnaryRequestView,
    ServerStreamRequestView, UnaryRequestView, UnimplementedRequestView,
};
use crate::proto::connectrpc::conformance::v1::unary_response_definition::Response as UnaryResponseKind;
use crate::proto::connectrpc::conformance::v1::{
    BidiStreamResponse, ClientStreamResponse, ConformancePayload, ConformanceService, Error,
    Header, IdempotentUnaryResponse, ServerStreamResponse, StreamResponseDefinition, UnaryResponse,
    UnaryResponseDefinition, UnimplementedResponse,
};

const TYPE_URL_PREFIX: &str = "type.googleapis.com/";
const PACKAGE: &str = "connectrpc.conformance.v1";

/// The conformance service implementation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conformance;

/// Packs `msg` (of type `connectrpc.conformance.v1.<name>`) into an `Any`.
fn as_any<M: Message>(name: &str, msg: &M) -> Any {
    Any {
        type_url: format!("{TYPE_URL_PREFIX}{PACKAGE}.{name}"),
        value: msg.encode_to_vec().into(),
        ..Default::default()
    }
}

/// Headers as the suite's `Header` list, one entry per name.
pub fn headers_info(headers: &HeaderMap) -> Vec<Header> {
    headers
        .keys()
        .map(|name| Header {
            name: name.as_str().to_owned(),
            value: headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// What the server saw: headers, timeout and the request messages.
fn request_info(ctx: &Context, requests: Vec<Any>) -> RequestInfo {
    RequestInfo {
        request_headers: headers_info(ctx.request_headers()),
        timeout_ms: ctx
            .remaining()
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        requests,
        ..Default::default()
    }
}

/// Appends `headers` to `dst`, skipping names or values HTTP cannot carry.
fn add_headers(dst: &mut HeaderMap, headers: &[Header]) {
    for h in headers {
        let Ok(name) = HeaderName::try_from(h.name.as_str()) else {
            continue;
        };
        for v in &h.value {
            if let Ok(value) = HeaderValue::try_from(v.as_str()) {
                dst.append(name.clone(), value);
            }
        }
    }
}

/// The suite's `Error` as a [`ConnectError`], with `extra` appended to its
/// details.
fn to_connect_error(err: &Error, extra: Option<Any>) -> ConnectError {
    let code = u32::try_from(err.code.to_i32())
        .ok()
        .and_then(Code::from_grpc_number)
        .unwrap_or(Code::Unknown);
    let mut out = ConnectError::new(code, err.message.clone().unwrap_or_default());
    for any in err.details.iter().chain(extra.as_ref()) {
        let name = any
            .type_url
            .rsplit_once('/')
            .map_or(any.type_url.as_str(), |(_, n)| n);
        out.add_detail(ErrorDetail::new(name, any.value.clone()));
    }
    out
}

fn request_info_any(info: &RequestInfo) -> Any {
    as_any("ConformancePayload.RequestInfo", info)
}

async fn delay(ms: u32) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }
}

/// The reference server's `parseUnaryResponseDefinition` plus the headers,
/// trailers and delay of a unary (or client-streaming) answer.
async fn unary_answer(
    mut ctx: Context,
    def: Option<&UnaryResponseDefinition>,
    requests: Vec<Any>,
) -> Result<(ConformancePayload, Context), ConnectError> {
    let info = request_info(&ctx, requests);
    let Some(def) = def else {
        return Ok((
            ConformancePayload {
                request_info: info.into(),
                ..Default::default()
            },
            ctx,
        ));
    };
    if let Some(UnaryResponseKind::Error(err)) = &def.response {
        let mut err = to_connect_error(err, Some(request_info_any(&info)));
        add_headers(err.headers_mut(), &def.response_headers);
        add_headers(err.trailers_mut(), &def.response_trailers);
        delay(def.response_delay_ms).await;
        return Err(err);
    }
    let data = match &def.response {
        Some(UnaryResponseKind::ResponseData(data)) => data.clone(),
        _ => Vec::new(),
    };
    add_headers(ctx.response_headers_mut(), &def.response_headers);
    add_headers(ctx.response_trailers_mut(), &def.response_trailers);
    delay(def.response_delay_ms).await;
    Ok((
        ConformancePayload {
            data,
            request_info: info.into(),
            ..Default::default()
        },
        ctx,
    ))
}

/// A response stream fed by a channel.
fn channel_stream<M: Send + 'static>(
    rx: mpsc::Receiver<Result<M, ConnectError>>,
) -> ResponseStream<M> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Sends the responses of a stream definition, starting at `sent`, then its
/// error; `info` goes on the first response (or, with no responses at all,
/// into the error's details).
async fn send_rest<M>(
    tx: &mpsc::Sender<Result<M, ConnectError>>,
    def: &StreamResponseDefinition,
    mut sent: usize,
    mut info: Option<RequestInfo>,
    wrap: fn(ConformancePayload) -> M,
) {
    while sent < def.response_data.len() {
        let payload = ConformancePayload {
            data: def.response_data[sent].clone(),
            request_info: if sent == 0 {
                info.take().map(Into::into).unwrap_or_default()
            } else {
                Default::default()
            },
            ..Default::default()
        };
        delay(def.response_delay_ms).await;
        if tx.send(Ok(wrap(payload))).await.is_err() {
            return;
        }
        sent += 1;
    }
    if let Some(err) = def.error.as_option() {
        let extra = if sent == 0 {
            info.as_ref().map(request_info_any)
        } else {
            None
        };
        let _ = tx.send(Err(to_connect_error(err, extra))).await;
    }
}

impl ConformanceService for Conformance {
    async fn unary(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let req = request.to_owned_message();
        let any = as_any("UnaryRequest", &req);
        let (payload, ctx) =
            unary_answer(ctx, req.response_definition.as_option(), vec![any]).await?;
        Ok((
            UnaryResponse {
                payload: payload.into(),
                ..Default::default()
            },
            ctx,
        ))
    }

    async fn idempotent_unary(
        &self,
        ctx: Context,
        request: OwnedView<IdempotentUnaryRequestView<'static>>,
    ) -> Result<(IdempotentUnaryResponse, Context), ConnectError> {
        let req = request.to_owned_message();
        let any = as_any("IdempotentUnaryRequest", &req);
        let (payload, ctx) =
            unary_answer(ctx, req.response_definition.as_option(), vec![any]).await?;
        Ok((
            IdempotentUnaryResponse {
                payload: payload.into(),
                ..Default::default()
            },
            ctx,
        ))
    }

    async fn unimplemented(
        &self,
        _ctx: Context,
        _request: OwnedView<UnimplementedRequestView<'static>>,
    ) -> Result<(UnimplementedResponse, Context), ConnectError> {
        Err(ConnectError::unimplemented(
            "connectrpc.conformance.v1.ConformanceService.Unimplemented is not implemented",
        ))
    }

    async fn client_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<ClientStreamRequestView<'static>>,
    ) -> Result<(ClientStreamResponse, Context), ConnectError> {
        let mut def = None;
        let mut anys = Vec::new();
        while let Some(msg) = requests.message().await? {
            let msg = msg.to_owned_message();
            if anys.is_empty() {
                def = msg.response_definition.as_option().cloned();
            }
            anys.push(as_any("ClientStreamRequest", &msg));
        }
        let (payload, ctx) = unary_answer(ctx, def.as_ref(), anys).await?;
        Ok((
            ClientStreamResponse {
                payload: payload.into(),
                ..Default::default()
            },
            ctx,
        ))
    }

    async fn server_stream(
        &self,
        mut ctx: Context,
        request: OwnedView<ServerStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<ServerStreamResponse>, Context), ConnectError> {
        let req = request.to_owned_message();
        let info = request_info(&ctx, vec![as_any("ServerStreamRequest", &req)]);
        let Some(def) = req.response_definition.into_option() else {
            return Ok((Box::pin(futures_util::stream::empty()), ctx));
        };
        add_headers(ctx.response_headers_mut(), &def.response_headers);
        add_headers(ctx.response_trailers_mut(), &def.response_trailers);
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            send_rest(&tx, &def, 0, Some(info), |payload| ServerStreamResponse {
                payload: payload.into(),
                ..Default::default()
            })
            .await;
        });
        Ok((channel_stream(rx), ctx))
    }

    async fn bidi_stream(
        &self,
        mut ctx: Context,
        mut requests: Streaming<BidiStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<BidiStreamResponse>, Context), ConnectError> {
        fn wrap(payload: ConformancePayload) -> BidiStreamResponse {
            BidiStreamResponse {
                payload: payload.into(),
                ..Default::default()
            }
        }
        let Some(first) = requests.message().await? else {
            return Ok((Box::pin(futures_util::stream::empty()), ctx));
        };
        let first = first.to_owned_message();
        let full_duplex = first.full_duplex;
        let def = first
            .response_definition
            .as_option()
            .cloned()
            .unwrap_or_default();
        let has_def = first.response_definition.is_set();
        add_headers(ctx.response_headers_mut(), &def.response_headers);
        add_headers(ctx.response_trailers_mut(), &def.response_trailers);
        let mut anys = vec![as_any("BidiStreamRequest", &first)];

        if !full_duplex {
            // Half duplex: the whole request, then the responses.
            while let Some(msg) = requests.message().await? {
                anys.push(as_any("BidiStreamRequest", &msg.to_owned_message()));
            }
            let info = request_info(&ctx, anys);
            let (tx, rx) = mpsc::channel(1);
            if has_def {
                tokio::spawn(async move { send_rest(&tx, &def, 0, Some(info), wrap).await });
            }
            return Ok((channel_stream(rx), ctx));
        }

        // Full duplex: one response per request while responses remain.
        let headers = ctx.request_headers().clone();
        let timeout_ms = request_info(&ctx, Vec::new()).timeout_ms;
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut sent = 0;
            let mut pending = Some(anys);
            loop {
                if sent >= def.response_data.len() {
                    break;
                }
                let reqs = match pending.take() {
                    Some(reqs) => reqs,
                    None => match requests.next().await {
                        None => break,
                        Some(Err(e)) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                        Some(Ok(msg)) => {
                            vec![as_any("BidiStreamRequest", &msg.to_owned_message())]
                        }
                    },
                };
                let info = if sent == 0 {
                    RequestInfo {
                        request_headers: headers_info(&headers),
                        timeout_ms,
                        requests: reqs,
                        ..Default::default()
                    }
                } else {
                    RequestInfo {
                        requests: reqs,
                        ..Default::default()
                    }
                };
                delay(def.response_delay_ms).await;
                let payload = ConformancePayload {
                    data: def.response_data[sent].clone(),
                    request_info: info.into(),
                    ..Default::default()
                };
                if tx.send(Ok(wrap(payload))).await.is_err() {
                    return;
                }
                sent += 1;
            }
            let info = (sent == 0).then(|| RequestInfo {
                request_headers: headers_info(&headers),
                timeout_ms,
                requests: pending.unwrap_or_default(),
                ..Default::default()
            });
            if has_def {
                send_rest(&tx, &def, sent, info, wrap).await;
            }
        });
        Ok((channel_stream(rx), ctx))
    }
}
