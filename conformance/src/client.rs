//! The client-under-test: runs one `ClientCompatRequest` with the project's
//! generated `ConformanceServiceClient` over its own transports
//! ([`HttpClient`], with TLS when the runner asks for it), and reports what
//! came back as a `ClientCompatResponse`.
//!
//! With `CONFORMANCE_RESILIENT=1` in the environment the channel is the
//! resilient stack instead: `RetryLayer` (default policies; with
//! `CONFORMANCE_HEDGE_MS=<ms>`, hedging for side-effect-free methods too)
//! over a `BalancedChannel` with the one endpoint the runner names. The
//! suite must pass the same, showing the layers change no protocol
//! behaviour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buffa::Message;
use buffa_types::google::protobuf::Any;
use bytes::Bytes;
use connectrpc::client::resilience::balance::{
    BalancedChannel, Endpoint, HttpVersion, StaticResolver,
};
use connectrpc::client::resilience::retry::{HedgingDelay, HedgingPolicy, RetryConfig, RetryLayer};
use connectrpc::client::{BoxError, ClientBody};
use connectrpc::codec::compression::CompressionRegistry;
use connectrpc::{CallOptions, ClientConfig, ClientTlsConfig, ConnectError, GetPolicy, HttpClient};
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt as _;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::proto::connectrpc::conformance::v1::client_compat_request::cancel::CancelTiming;
use crate::proto::connectrpc::conformance::v1::client_compat_response::Result as CompatResult;
use crate::proto::connectrpc::conformance::v1::{
    BidiStreamRequest, ClientCompatRequest, ClientCompatResponse, ClientErrorResult,
    ClientResponseResult, ClientStreamRequest, Code as WireCode, Codec, Compression,
    ConformancePayload, ConformanceServiceClient, Error, HTTPVersion, IdempotentUnaryRequest,
    Protocol, ServerStreamRequest, StreamType, UnaryRequest, UnimplementedRequest,
};
use crate::service::headers_info;

type Channel = BoxCloneSyncService<
    http::Request<ClientBody>,
    http::Response<UnsyncBoxBody<Bytes, BoxError>>,
    BoxError,
>;
type Service = ConformanceServiceClient<Channel>;

/// HTTP/2 or not, the server certificate, the client certificate and key.
/// With the resilient stack, also the server's host and port: a balanced
/// channel is bound to its endpoints (a plain `HttpClient` follows each
/// request's URI, so the port is 0 there and one pool serves every server).
type ChannelKey = (bool, Vec<u8>, Vec<u8>, Vec<u8>, String, u32);

/// Transports shared across test cases with the same connection settings.
#[derive(Debug, Default)]
pub struct Channels {
    cache: Mutex<HashMap<ChannelKey, Channel>>,
}

impl Channels {
    fn get(&self, req: &ClientCompatRequest) -> Result<Channel, String> {
        let http2 = req.http_version == HTTPVersion::HTTP_VERSION_2;
        let creds = req.client_tls_creds.as_option();
        let is_resilient = std::env::var_os("CONFORMANCE_RESILIENT").is_some();
        let key = (
            http2,
            req.server_tls_cert.clone(),
            creds.map(|c| c.cert.clone()).unwrap_or_default(),
            creds.map(|c| c.key.clone()).unwrap_or_default(),
            if is_resilient {
                req.host.clone()
            } else {
                String::new()
            },
            if is_resilient { req.port } else { 0 },
        );
        let mut cache = self.cache.lock().map_err(|e| e.to_string())?;
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let mut builder = HttpClient::builder();
        builder = if http2 {
            builder.http2_only(true)
        } else {
            builder.http1_only(true)
        };
        if !req.server_tls_cert.is_empty() {
            let mut tls =
                ClientTlsConfig::with_roots_pem(&req.server_tls_cert).map_err(|e| e.to_string())?;
            if let Some(c) = creds {
                tls = tls
                    .client_auth_pem(&c.cert, &c.key)
                    .map_err(|e| e.to_string())?;
            }
            builder = builder.tls(tls);
        }
        let channel = if is_resilient {
            resilient(req, http2)?
        } else {
            let http: HttpClient<ClientBody> = builder.build();
            boxed(http)
        };
        cache.insert(key, channel.clone());
        Ok(channel)
    }
}

/// Any channel, boxed (its errors and body errors as `BoxError`).
fn boxed<S, B>(svc: S) -> Channel
where
    S: tower::Service<http::Request<ClientBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .map_response(|resp: http::Response<B>| {
                resp.map(|b| b.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into)
            .service(svc),
    )
}

/// The resilient stack over the one server the runner names.
fn resilient(req: &ClientCompatRequest, http2: bool) -> Result<Channel, String> {
    use std::net::ToSocketAddrs as _;
    let addrs: Vec<Endpoint> = (req.host.as_str(), req.port as u16)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {}: {e}", req.host))?
        .take(1)
        .map(Endpoint::from)
        .collect();
    let mut builder = BalancedChannel::builder(StaticResolver::new(addrs))
        .http_version(if http2 {
            HttpVersion::Http2
        } else {
            HttpVersion::Http1
        })
        .server_name(req.host.clone());
    if !req.server_tls_cert.is_empty() {
        let mut tls =
            ClientTlsConfig::with_roots_pem(&req.server_tls_cert).map_err(|e| e.to_string())?;
        if let Some(c) = req.client_tls_creds.as_option() {
            tls = tls
                .client_auth_pem(&c.cert, &c.key)
                .map_err(|e| e.to_string())?;
        }
        builder = builder.tls(tls);
    }
    let mut config = RetryConfig::new();
    if let Some(ms) = std::env::var("CONFORMANCE_HEDGE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config = config.service(
            "connectrpc.conformance.v1.ConformanceService",
            HedgingPolicy::new(2, HedgingDelay::Fixed(Duration::from_millis(ms))),
        );
    }
    let channel = ServiceBuilder::new()
        .layer(RetryLayer::new(config))
        .service(builder.build());
    Ok(boxed(channel))
}

/// Runs one test case.
pub async fn run(channels: Arc<Channels>, req: ClientCompatRequest) -> ClientCompatResponse {
    let test_name = req.test_name.clone();
    let result = match run_case(&channels, req).await {
        Ok(r) => CompatResult::Response(Box::new(r)),
        Err(message) => CompatResult::Error(Box::new(ClientErrorResult {
            message,
            ..Default::default()
        })),
    };
    ClientCompatResponse {
        test_name,
        result: Some(result),
        ..Default::default()
    }
}

fn config(req: &ClientCompatRequest) -> Result<ClientConfig, String> {
    let scheme = if req.server_tls_cert.is_empty() {
        "http"
    } else {
        "https"
    };
    let uri = format!("{scheme}://{}:{}", req.host, req.port)
        .parse()
        .map_err(|e| format!("bad server address: {e}"))?;
    // Every compression the suite tests, to send and to accept.
    let mut config = ClientConfig::new(uri).compressions(CompressionRegistry::all());
    config = match req.protocol.as_known() {
        Some(Protocol::PROTOCOL_GRPC) => config.grpc(),
        Some(Protocol::PROTOCOL_GRPC_WEB) => config.grpc_web(),
        _ => config.connect(),
    };
    if req.codec == Codec::CODEC_JSON {
        config = config.json();
    }
    config = match req.compression.as_known() {
        Some(Compression::COMPRESSION_GZIP) => config.send_compression("gzip"),
        Some(Compression::COMPRESSION_ZSTD) => config.send_compression("zstd"),
        Some(Compression::COMPRESSION_BR) => config.send_compression("br"),
        Some(Compression::COMPRESSION_DEFLATE) => config.send_compression("deflate"),
        Some(Compression::COMPRESSION_SNAPPY) => config.send_compression("snappy"),
        Some(Compression::COMPRESSION_IDENTITY | Compression::COMPRESSION_UNSPECIFIED) => config,
        None => {
            return Err(format!(
                "compression {:?} is not supported",
                req.compression
            ));
        }
    };
    if req.use_get_http_method {
        config = config.get_policy(GetPolicy::IfNoSideEffects);
    }
    if req.message_receive_limit > 0 {
        config = config.read_max_bytes(req.message_receive_limit as usize);
    }
    Ok(config)
}

fn options(req: &ClientCompatRequest) -> Result<CallOptions, String> {
    let mut options = CallOptions::new();
    if let Some(ms) = req.timeout_ms {
        options = options.timeout(Duration::from_millis(u64::from(ms)));
    }
    for h in &req.request_headers {
        let name = HeaderName::try_from(h.name.as_str()).map_err(|e| e.to_string())?;
        for v in &h.value {
            let value = HeaderValue::try_from(v.as_str()).map_err(|e| e.to_string())?;
            options = options.header(name.clone(), value);
        }
    }
    Ok(options)
}

fn decode_all<M: Message + Default>(messages: &[Any]) -> Result<Vec<M>, String> {
    messages
        .iter()
        .map(|any| {
            M::decode_from_slice(&any.value).map_err(|e| format!("bad request message: {e}"))
        })
        .collect()
}

/// What came back: headers, payloads, error, trailers.
#[derive(Default)]
struct Outcome {
    headers: HeaderMap,
    payloads: Vec<ConformancePayload>,
    error: Option<ConnectError>,
    trailers: HeaderMap,
    unsent: i32,
}

impl Outcome {
    fn fail(&mut self, err: ConnectError) {
        if self.headers.is_empty() {
            self.headers = err.headers().clone();
        }
        self.trailers = err.trailers().clone();
        self.error = Some(err);
    }

    fn into_result(self) -> ClientResponseResult {
        ClientResponseResult {
            response_headers: headers_info(&self.headers),
            payloads: self.payloads,
            error: self.error.as_ref().map(wire_error).into(),
            response_trailers: headers_info(&self.trailers),
            num_unsent_requests: self.unsent,
            ..Default::default()
        }
    }
}

fn wire_error(err: &ConnectError) -> Error {
    Error {
        code: <WireCode as buffa::Enumeration>::from_i32(err.code().grpc_number() as i32)
            .unwrap_or(WireCode::CODE_UNKNOWN)
            .into(),
        message: (!err.message().is_empty()).then(|| err.message().to_owned()),
        details: err
            .details()
            .iter()
            .map(|d| Any {
                type_url: d.type_url(),
                value: d.value().to_vec().into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn canceled() -> ConnectError {
    ConnectError::canceled("canceled by the client")
}

async fn delay(ms: u32) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
    }
}

async fn run_case(
    channels: &Channels,
    req: ClientCompatRequest,
) -> Result<ClientResponseResult, String> {
    let channel = channels.get(&req)?;
    let client = Service::new(channel, config(&req)?);
    let options = options(&req)?;
    let cancel = req.cancel.as_option().and_then(|c| c.cancel_timing.clone());
    let method = req.method.clone().unwrap_or_default();
    let mut out = Outcome::default();
    match method.as_str() {
        "Unary" | "IdempotentUnary" | "Unimplemented" => {
            unary(&client, &req, &method, options, cancel, &mut out).await?;
        }
        "ServerStream" => {
            let [msg] = decode_all::<ServerStreamRequest>(&req.request_messages)?
                .try_into()
                .map_err(|_| "server stream takes exactly one request".to_owned())?;
            let call = client.server_stream_with_options(&msg, options);
            let after_close = match &cancel {
                Some(CancelTiming::AfterCloseSendMs(ms)) => Some(at(*ms)),
                _ => None,
            };
            let limit = match &cancel {
                Some(CancelTiming::AfterNumResponses(n)) => Some(*n as usize),
                _ => None,
            };
            let stream = match with_cancel_after(after_close, call).await {
                Ok(s) => s,
                Err(e) => {
                    out.fail(e);
                    return Ok(out.into_result());
                }
            };
            out.headers = stream.headers().clone();
            receive(stream, after_close, limit, &mut out, |r| {
                r.payload.into_option().unwrap_or_default()
            })
            .await;
        }
        "ClientStream" => {
            let msgs = decode_all::<ClientStreamRequest>(&req.request_messages)?;
            let (tx, rx) = mpsc::unbounded_channel();
            let requests = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|m| (m, rx))
            });
            let client = client.clone();
            let mut task =
                tokio::spawn(
                    async move { client.client_stream_with_options(requests, options).await },
                );
            let total = msgs.len();
            for (i, m) in msgs.into_iter().enumerate() {
                delay(req.request_delay_ms).await;
                if task.is_finished() || tx.send(m).is_err() {
                    out.unsent = (total - i) as i32;
                    break;
                }
            }
            let result = match cancel {
                Some(CancelTiming::BeforeCloseSend(_)) => {
                    task.abort();
                    Err(canceled())
                }
                Some(CancelTiming::AfterCloseSendMs(ms)) => {
                    drop(tx);
                    tokio::select! {
                        r = &mut task => r.map_err(|e| ConnectError::internal(e.to_string())).and_then(|r| r),
                        () = delay(ms) => { task.abort(); Err(canceled()) }
                    }
                }
                _ => {
                    drop(tx);
                    task.await
                        .map_err(|e| ConnectError::internal(e.to_string()))
                        .and_then(|r| r)
                }
            };
            match result {
                Ok(resp) => {
                    let (headers, msg, trailers) = resp.into_parts();
                    out.headers = headers;
                    out.trailers = trailers;
                    out.payloads
                        .push(msg.payload.into_option().unwrap_or_default());
                }
                Err(e) => out.fail(e),
            }
        }
        "BidiStream" => {
            let msgs = decode_all::<BidiStreamRequest>(&req.request_messages)?;
            let full_duplex = req.stream_type == StreamType::STREAM_TYPE_FULL_DUPLEX_BIDI_STREAM;
            bidi(
                &client,
                msgs,
                full_duplex,
                req.request_delay_ms,
                options,
                cancel,
                &mut out,
            )
            .await;
        }
        other => return Err(format!("unknown method {other:?}")),
    }
    Ok(out.into_result())
}

/// The instant `ms` from now.
fn at(ms: u32) -> Instant {
    Instant::now() + Duration::from_millis(u64::from(ms))
}

/// Resolves `call`, or fails with `canceled` at `when` if given.
async fn with_cancel_after<T>(
    when: Option<Instant>,
    call: impl std::future::Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    match when {
        None => call.await,
        Some(when) => tokio::select! {
            r = call => r,
            () = tokio::time::sleep_until(when) => Err(canceled()),
        },
    }
}

async fn unary(
    client: &Service,
    req: &ClientCompatRequest,
    method: &str,
    options: CallOptions,
    cancel: Option<CancelTiming>,
    out: &mut Outcome,
) -> Result<(), String> {
    let after = match cancel {
        Some(CancelTiming::AfterCloseSendMs(ms)) => Some(at(ms)),
        _ => None,
    };
    let result = match method {
        "Unary" => {
            let [msg] = decode_all::<UnaryRequest>(&req.request_messages)?
                .try_into()
                .map_err(|_| "unary takes exactly one request".to_owned())?;
            with_cancel_after(after, client.unary_with_options(&msg, options))
                .await
                .map(|r| {
                    let (h, m, t) = r.into_parts();
                    (h, Some(m.payload.into_option().unwrap_or_default()), t)
                })
        }
        "IdempotentUnary" => {
            let [msg] = decode_all::<IdempotentUnaryRequest>(&req.request_messages)?
                .try_into()
                .map_err(|_| "unary takes exactly one request".to_owned())?;
            with_cancel_after(after, client.idempotent_unary_with_options(&msg, options))
                .await
                .map(|r| {
                    let (h, m, t) = r.into_parts();
                    (h, Some(m.payload.into_option().unwrap_or_default()), t)
                })
        }
        _ => {
            let [msg] = decode_all::<UnimplementedRequest>(&req.request_messages)?
                .try_into()
                .map_err(|_| "unary takes exactly one request".to_owned())?;
            with_cancel_after(after, client.unimplemented_with_options(&msg, options))
                .await
                .map(|r| {
                    let (h, _, t) = r.into_parts();
                    (h, None, t)
                })
        }
    };
    match result {
        Ok((headers, payload, trailers)) => {
            out.headers = headers;
            out.payloads.extend(payload);
            out.trailers = trailers;
        }
        Err(e) => out.fail(e),
    }
    Ok(())
}

/// Reads a response stream to its end, cancelling after `limit` messages
/// or `after_ms` if asked.
async fn receive<S, M>(
    mut stream: S,
    cancel_at: Option<Instant>,
    limit: Option<usize>,
    out: &mut Outcome,
    payload: impl Fn(M) -> ConformancePayload,
) where
    S: futures_util::Stream<Item = Result<M, ConnectError>> + Unpin + Trailers,
{
    let deadline = cancel_at;
    let mut received = 0usize;
    loop {
        if limit.is_some_and(|n| received >= n) {
            stream.cancel_call();
        }
        let next = match deadline {
            Some(d) => tokio::select! {
                n = stream.next() => n,
                () = tokio::time::sleep_until(d) => { stream.cancel_call(); stream.next().await }
            },
            None => stream.next().await,
        };
        match next {
            Some(Ok(m)) => {
                received += 1;
                out.payloads.push(payload(m));
            }
            Some(Err(e)) => {
                out.fail(e);
                return;
            }
            None => break,
        }
    }
    if let Some(t) = stream.trailers_now() {
        out.trailers = t.clone();
    }
}

/// What `receive` needs from a response stream besides messages.
trait Trailers {
    fn trailers_now(&self) -> Option<&HeaderMap>;
    fn cancel_call(&mut self);
}

impl<M> Trailers for connectrpc::ServerStreaming<M> {
    fn trailers_now(&self) -> Option<&HeaderMap> {
        self.trailers()
    }
    fn cancel_call(&mut self) {
        self.cancel();
    }
}

impl<M: connectrpc::client::client::ResponseMessage> Trailers for connectrpc::BidiReceiver<M> {
    fn trailers_now(&self) -> Option<&HeaderMap> {
        self.trailers()
    }
    fn cancel_call(&mut self) {
        self.cancel();
    }
}

async fn bidi(
    client: &Service,
    msgs: Vec<BidiStreamRequest>,
    full_duplex: bool,
    delay_ms: u32,
    options: CallOptions,
    cancel: Option<CancelTiming>,
    out: &mut Outcome,
) {
    let call = match client.bidi_stream_with_options(options).await {
        Ok(c) => c,
        Err(e) => {
            out.fail(e);
            return;
        }
    };
    let (mut tx, mut rx) = call.split();
    let total = msgs.len();
    let limit = match &cancel {
        Some(CancelTiming::AfterNumResponses(n)) => Some(*n as usize),
        _ => None,
    };
    let mut received = 0usize;
    let mut failed = false;
    for (i, m) in msgs.iter().enumerate() {
        delay(delay_ms).await;
        if tx.send(m).await.is_err() {
            out.unsent = (total - i) as i32;
            break;
        }
        if full_duplex {
            if limit.is_some_and(|n| received >= n) {
                rx.cancel();
            }
            match rx.message().await {
                Some(Ok(r)) => {
                    received += 1;
                    out.payloads
                        .push(r.payload.into_option().unwrap_or_default());
                }
                Some(Err(e)) => {
                    out.fail(e);
                    failed = true;
                    out.unsent = (total - i - 1) as i32;
                    break;
                }
                None => {}
            }
        }
    }
    if failed {
        return;
    }
    if out.headers.is_empty()
        && full_duplex
        && let Ok(h) = rx.headers().await
    {
        out.headers = h.clone();
    }
    let after_ms = match cancel {
        Some(CancelTiming::BeforeCloseSend(_)) => {
            tx.cancel();
            None
        }
        Some(CancelTiming::AfterCloseSendMs(ms)) => {
            tx.close();
            Some(at(ms))
        }
        _ => {
            tx.close();
            None
        }
    };
    if !full_duplex || out.headers.is_empty() {
        let opened = with_cancel_after(after_ms, async { rx.headers().await.cloned() }).await;
        match opened {
            Ok(h) => out.headers = h,
            Err(e) => {
                rx.cancel();
                out.fail(e);
                return;
            }
        }
    }
    let remaining = limit.map(|n| n.saturating_sub(received));
    receive(
        rx,
        after_ms,
        remaining,
        out,
        |r: crate::proto::connectrpc::conformance::v1::BidiStreamResponse| {
            r.payload.into_option().unwrap_or_default()
        },
    )
    .await;
}
