//! The whole server stack in process: a generated `TestServiceServer`
//! behind `connectrpc::Router` with a 64 KiB read limit, called with
//! requests built from the fuzz input.
#![no_main]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use buffa::view::OwnedView;
use buffa_types::google::protobuf::__buffa::view::EmptyView;
use buffa_types::google::protobuf::Empty;
use bytes::{BufMut, Bytes, BytesMut};
use connect_codec::compression::CompressionRegistry;
use connect_codec::envelope::EnvelopeDecoder;
use connect_core::Code;
use connectrpc::{ConnectError, ConnectLayer, Context, ResponseStream, Router, Streaming};
use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, StreamBody};
use integration_tests::proto::test::v1::__buffa::view::{
    ServerStreamRequestView, UnaryRequestView,
};
use integration_tests::proto::test::v1::{TestService, TestServiceExt, UnaryResponse};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

/// A trivial implementation: echoes, counts, streams a little.
struct Impl;

impl TestService for Impl {
    async fn unary(
        &self,
        ctx: Context,
        request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let request = request.reborrow();
        if request.fail_code != 0 {
            let code = Code::from_grpc_number(request.fail_code as u32).unwrap_or(Code::Unknown);
            return Err(ConnectError::new(code, request.text));
        }
        let response = UnaryResponse {
            text: request.text.to_string(),
            payload: request.payload.to_vec(),
            ..Default::default()
        };
        Ok((response, ctx))
    }

    async fn server_stream(
        &self,
        ctx: Context,
        request: OwnedView<ServerStreamRequestView<'static>>,
    ) -> Result<(ResponseStream<UnaryResponse>, Context), ConnectError> {
        let request = request.reborrow();
        let text = request.text.to_string();
        let items = (0..i64::from(request.count.clamp(0, 8))).map(move |count| {
            Ok(UnaryResponse {
                text: text.clone(),
                count,
                ..Default::default()
            })
        });
        let stream: ResponseStream<UnaryResponse> = Box::pin(futures_util::stream::iter(items));
        Ok((stream, ctx))
    }

    async fn client_stream(
        &self,
        ctx: Context,
        mut requests: Streaming<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        let mut count = 0;
        while let Some(_request) = requests.message().await? {
            count += 1;
        }
        let response = UnaryResponse {
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
                text: msg.reborrow().text.to_string(),
                ..Default::default()
            })
        });
        Ok((Box::pin(out), ctx))
    }

    async fn not_gettable(
        &self,
        ctx: Context,
        _request: OwnedView<UnaryRequestView<'static>>,
    ) -> Result<(UnaryResponse, Context), ConnectError> {
        Ok((UnaryResponse::default(), ctx))
    }

    async fn ping(
        &self,
        ctx: Context,
        _request: OwnedView<EmptyView<'static>>,
    ) -> Result<(Empty, Context), ConnectError> {
        Ok((Empty::default(), ctx))
    }
}

const PATHS: &[&str] = &[
    "/test.v1.TestService/Unary",
    "/test.v1.TestService/ServerStream",
    "/test.v1.TestService/ClientStream",
    "/test.v1.TestService/Bidi",
    "/test.v1.TestService/NotGettable",
    "/test.v1.TestService/Ping",
];
const UNARY_PATHS: &[&str] = &[PATHS[0], PATHS[4], PATHS[5]];
const CONTENT_TYPES: &[&str] = &[
    "application/proto",
    "application/json",
    "application/json; charset=utf-8",
    "application/connect+proto",
    "application/connect+json",
    "application/connect+json; charset=utf-8",
    "application/grpc",
    "application/grpc+proto",
    "application/grpc+json",
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web+json",
    "application/grpc-web-text+proto",
    "text/plain",
];
const ENCODINGS: &[&str] = &["gzip", "zstd", "identity", "br", "", "gzip, zstd"];
const METHODS: &[http::Method] = &[http::Method::POST, http::Method::GET, http::Method::PUT];
const STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 409, 415, 429, 499, 500, 501, 503, 504, 505,
];

#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Junk(String),
}

impl Pick {
    fn get(&self, list: &[&str]) -> String {
        match self {
            Pick::Known(i) => list[usize::from(*i) % list.len()].to_owned(),
            Pick::Junk(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Query {
    None,
    Raw(String),
    /// A well-formed GET query for the first message.
    Get {
        encoding: Pick,
        base64: bool,
        compression: Option<Pick>,
        extra: String,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    http2: bool,
    grpc_encoding: Option<Pick>,
    grpc_timeout: Option<Pick>,
    path: Pick,
    content_type: Option<Pick>,
    content_encoding: Option<Pick>,
    connect_content_encoding: Option<Pick>,
    accept_encoding: Option<Pick>,
    timeout: Option<Pick>,
    protocol_version: Option<Pick>,
    query: Query,
    /// Wrap each message in an envelope (with these flags).
    envelope_flags: Option<u8>,
    /// Compress the messages with the first of the content encodings.
    compress: bool,
    messages: Vec<Vec<u8>>,
    trailing: Vec<u8>,
    splits: Vec<u8>,
}

fn header(req: &mut http::request::Builder, name: &str, value: Option<&Pick>, list: &[&str]) {
    if let Some(v) = value
        && let Ok(v) = http::HeaderValue::from_str(&v.get(list))
        && let Some(h) = req.headers_mut()
    {
        h.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
    }
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn build(
    input: &Input,
) -> http::Request<
    StreamBody<
        futures_util::stream::Iter<std::vec::IntoIter<Result<http_body::Frame<Bytes>, Infallible>>>,
    >,
> {
    let registry = CompressionRegistry::new();
    let method = METHODS[usize::from(input.method) % METHODS.len()].clone();
    let path = match &input.path {
        Pick::Known(i) => PATHS[usize::from(*i) % PATHS.len()].to_owned(),
        Pick::Junk(s) => s.clone(),
    };
    let compress_with = input
        .content_encoding
        .as_ref()
        .or(input.grpc_encoding.as_ref())
        .or(input.connect_content_encoding.as_ref())
        .map(|p| p.get(ENCODINGS))
        .filter(|_| input.compress);
    let compress = |m: &[u8]| -> (Bytes, bool) {
        match compress_with.as_deref().map(|n| registry.compress(n, m)) {
            Some(Ok(c)) => (c, true),
            _ => (Bytes::copy_from_slice(m), false),
        }
    };
    let first = input.messages.first().map(Vec::as_slice).unwrap_or(b"");
    let query = match &input.query {
        Query::None => None,
        Query::Raw(s) => Some(s.clone()),
        Query::Get {
            encoding,
            base64,
            compression,
            extra,
        } => {
            let (msg, _) = compress(first);
            let message = if *base64 {
                b64url(&msg)
            } else {
                msg.iter().map(|b| format!("%{b:02X}")).collect()
            };
            let mut q = format!(
                "connect=v1&encoding={}&message={message}",
                encoding.get(&["proto", "json"])
            );
            if *base64 {
                q.push_str("&base64=1");
            }
            if let Some(c) = compression {
                q.push_str(&format!("&compression={}", c.get(ENCODINGS)));
            }
            q.push_str(extra);
            Some(q)
        }
    };
    let uri = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let uri = http::Uri::try_from(uri)
        .or_else(|_| http::Uri::try_from(path))
        .unwrap_or_else(|_| http::Uri::from_static("/junk"));
    let version = if input.http2 {
        http::Version::HTTP_2
    } else {
        http::Version::HTTP_11
    };
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .version(version);
    header(
        &mut req,
        "grpc-encoding",
        input.grpc_encoding.as_ref(),
        ENCODINGS,
    );
    header(
        &mut req,
        "grpc-accept-encoding",
        input.accept_encoding.as_ref(),
        ENCODINGS,
    );
    header(
        &mut req,
        "grpc-timeout",
        input.grpc_timeout.as_ref(),
        &["0n", "1S", "100m", "99999999H"],
    );
    header(
        &mut req,
        "content-type",
        input.content_type.as_ref(),
        CONTENT_TYPES,
    );
    header(
        &mut req,
        "content-encoding",
        input.content_encoding.as_ref(),
        ENCODINGS,
    );
    header(
        &mut req,
        "connect-content-encoding",
        input.connect_content_encoding.as_ref(),
        ENCODINGS,
    );
    header(
        &mut req,
        "accept-encoding",
        input.accept_encoding.as_ref(),
        ENCODINGS,
    );
    header(
        &mut req,
        "connect-accept-encoding",
        input.accept_encoding.as_ref(),
        ENCODINGS,
    );
    header(
        &mut req,
        "connect-timeout-ms",
        input.timeout.as_ref(),
        &["0", "1", "100", "10000", "9999999999"],
    );
    header(
        &mut req,
        "connect-protocol-version",
        input.protocol_version.as_ref(),
        &["1", "2"],
    );

    let mut body = BytesMut::new();
    match input.envelope_flags {
        Some(flags) => {
            for m in &input.messages {
                let (data, compressed) = compress(m);
                body.put_u8(if compressed { flags | 1 } else { flags });
                body.put_u32(data.len() as u32);
                body.put_slice(&data);
            }
        }
        None => {
            let all: Vec<u8> = input.messages.concat();
            body.put_slice(&compress(&all).0);
        }
    }
    body.put_slice(&input.trailing);
    let mut body = body.freeze();
    let mut frames = vec![];
    for s in &input.splits {
        if body.is_empty() {
            break;
        }
        let n = (usize::from(*s) + 1).min(body.len());
        frames.push(Ok(http_body::Frame::data(body.split_to(n))));
    }
    if !body.is_empty() {
        frames.push(Ok(http_body::Frame::data(body)));
    }
    req.body(StreamBody::new(futures_util::stream::iter(frames)))
        .unwrap()
}

fn check_error_json(body: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "error body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    let code = v["code"].as_str().unwrap_or_else(|| panic!("no code: {v}"));
    let code: Code = code.parse().unwrap_or_else(|_| panic!("bad code: {v}"));
    assert_ne!(code, Code::Ok);
}

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
}

fuzz_target!(|input: Input| {
    let req = build(&input);
    let path = req.uri().path().to_owned();
    let router = Arc::new(Impl)
        .register(Router::new().with_config(ConnectLayer::new().read_max_bytes(64 * 1024)));
    RT.with(|rt| {
        rt.block_on(async move {
            let work = async move {
                let resp = router.oneshot(req).await.unwrap();
                let (parts, body) = resp.into_parts();
                let collected = body.collect().await;
                (parts, collected)
            };
            let (parts, collected) = tokio::time::timeout(Duration::from_secs(1), work)
                .await
                .expect("the response did not complete");
            let status = parts.status.as_u16();
            assert!(STATUSES.contains(&status), "unexpected status {status}");
            let (body, collected_trailers) = match collected {
                Ok(c) => {
                    let trailers = c.trailers().cloned();
                    (c.to_bytes(), trailers)
                }
                Err(e) => panic!("response body failed: {e:?}"),
            };
            let ctype = parts
                .headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            if status != 200 && status != 405 && status != 415 && status != 505 {
                // A Connect unary error (or the router's 404): JSON with a code.
                assert!(
                    UNARY_PATHS.contains(&path.as_str())
                        || status == 404
                        || ctype == "application/json",
                    "status {status} on streaming path {path} with content type {ctype:?}"
                );
                assert_eq!(ctype, "application/json", "status {status}");
                check_error_json(&body);
            }
            if ctype.starts_with("application/grpc") && !ctype.starts_with("application/grpc-web") {
                // gRPC: 200, and a valid grpc-status in the trailers
                // (or the headers, trailers-only).
                // (505 for gRPC over HTTP/1.x, with grpc-status in the headers.)
                assert!(status == 200 || status == 505, "gRPC status {status}");
                let trailers = collected_trailers.unwrap_or_default();
                let grpc_status = trailers
                    .get("grpc-status")
                    .or(parts.headers.get("grpc-status"))
                    .expect("gRPC response without grpc-status");
                let n: u32 = grpc_status
                    .to_str()
                    .unwrap()
                    .parse()
                    .expect("grpc-status number");
                assert!(n <= 16, "grpc-status {n}");
            }
            if status == 200 && ctype.starts_with("application/connect+") {
                // A Connect stream: envelopes ending in an end-of-stream message.
                let encoding = parts
                    .headers
                    .get("connect-content-encoding")
                    .map(|v| v.to_str().unwrap().to_owned());
                let mut dec = EnvelopeDecoder::new(usize::MAX);
                dec.push(body.clone());
                let mut last = None;
                while let Some(env) = dec.next_envelope().unwrap() {
                    last = Some(env);
                }
                dec.finish().expect("stream body ends mid-envelope");
                let end = last.expect("stream without end-of-stream message");
                assert!(end.flags & 2 != 0, "last envelope is not end-of-stream");
                let data = if end.flags & 1 != 0 {
                    let name = encoding.expect("compressed envelope without encoding");
                    CompressionRegistry::new()
                        .decompress(&name, &end.data, usize::MAX)
                        .unwrap()
                } else {
                    end.data
                };
                let v: serde_json::Value = serde_json::from_slice(&data).expect("end-stream JSON");
                if !v["error"].is_null() {
                    check_error_json(&serde_json::to_vec(&v["error"]).unwrap());
                }
            }
        })
    });
});
