//! The whole client in process: the generated `TestServiceClient` over a
//! channel (a `tower::service_fn`) that answers every call with a response
//! built from the fuzz input — status, headers, body chunks, HTTP trailers,
//! and how the body ends — for Connect, gRPC, gRPC-Web and gRPC-Web text,
//! unary, client-, server- and bidi-streaming calls. Each answer is read
//! twice, as owned messages and as zero-copy views (the `_view` methods),
//! and both readings must end alike: as many messages, the same error code.
#![no_main]

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::{BufMut, Bytes, BytesMut};
use connect_codec::compression::{CompressionRegistry, Gzip};
use connect_core::Code;
use connectrpc::client::ClientBody;
use connectrpc::{BidiStream, CallOptions, ClientConfig, ConnectError, ServerStreaming};
use futures_util::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::StreamBody;
use integration_tests::proto::test::v1::{ServerStreamRequest, TestServiceClient, UnaryRequest};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Connect,
    Grpc,
    GrpcWeb,
    GrpcWebText,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Unary,
    ServerStream,
    ClientStream,
    Bidi,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    End,
    /// The body fails (a reset stream, a dropped connection).
    Error,
    /// The body never ends.
    Stall,
}

#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Junk(Vec<u8>),
}

impl Pick {
    fn get(&self, list: &[&str]) -> Vec<u8> {
        match self {
            Pick::Known(i) => list[usize::from(*i) % list.len()].as_bytes().to_vec(),
            Pick::Junk(s) => s.clone(),
        }
    }
}

const STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 408, 409, 412, 415, 422, 429, 431, 499, 500, 502, 503, 504, 505,
];
const CONTENT_TYPES: &[&str] = &[
    "application/proto",
    "application/json",
    "application/json; charset=utf-8",
    "application/connect+proto",
    "application/connect+json",
    "application/grpc",
    "application/grpc+proto",
    "application/grpc+json",
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web+json",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
    "image/jpeg",
    "text/html",
    "",
];
const HEADER_NAMES: &[&str] = &[
    "content-encoding",
    "connect-content-encoding",
    "grpc-encoding",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "trailer-x-custom",
    "trailer-",
    "x-custom",
    "content-length",
];
const HEADER_VALUES: &[&str] = &[
    "gzip",
    "zstd",
    "identity",
    "br",
    "0",
    "3",
    "16",
    "17",
    "-1",
    "%zz%E2%98%BA",
    "CAUSBGRlZXA",
    "CAUSBGRlZXAaFwoLdHlwZS5nb29nbGVhcGlzLmNvbS94EgEB",
    "",
];
const CODES: &[&str] = &[
    "aborted",
    "unknown",
    "foobar",
    "ok",
    "internal",
    "unauthenticated",
];
/// Bombs below, at and past the client-wide read limit ([`CLIENT_READ_MAX`]).
const BOMBS: [usize; 3] = [64 << 10, 256 << 10, 1 << 20];
/// The client-wide read limit. Smaller than the 4 MiB default so a bomb costs
/// a fraction of a millisecond: the limit is enforced by the same code at any
/// size, and integration/tests/bombs.rs covers the default.
const CLIENT_READ_MAX: usize = 256 << 10;

/// Gzip streams of zeros, inflating to each of `BOMBS`.
fn bombs() -> &'static [Bytes; 3] {
    static B: OnceLock<[Bytes; 3]> = OnceLock::new();
    B.get_or_init(|| BOMBS.map(|n| fixture_gzip(&vec![0u8; n])))
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Raw(Vec<u8>),
    /// A valid `UnaryResponse`.
    Message {
        text: String,
        count: i64,
    },
    /// A Connect error or end-of-stream JSON.
    ErrorJson {
        code: Option<Pick>,
        message: Option<String>,
        details: Vec<(String, Vec<u8>)>,
        end_stream: bool,
        metadata: Vec<(String, Vec<String>)>,
    },
    /// A gRPC-Web trailer block.
    TrailerBlock(Vec<(Pick, Pick)>),
    /// Another payload, gzip'd.
    Gzip(Box<Payload>),
    Bomb(u8),
}

/// Fixtures are gzip'd at level 1 (the fuzzer's cost per input is mostly
/// building them) and at most [`MAX_GZIP_DEPTH`] deep: a gzip inside a gzip
/// already shows the client decompresses once, and deeper nesting only
/// burns compression time.
fn fixture_gzip(data: &[u8]) -> Bytes {
    static R: OnceLock<CompressionRegistry> = OnceLock::new();
    R.get_or_init(|| CompressionRegistry::empty().with(Gzip::with_level(1)))
        .compress("gzip", data)
        .unwrap()
}

const MAX_GZIP_DEPTH: usize = 2;

impl Payload {
    fn bytes(&self, json: bool) -> Bytes {
        self.bytes_at(json, 0)
    }

    fn bytes_at(&self, json: bool, depth: usize) -> Bytes {
        match self {
            Payload::Raw(b) => Bytes::copy_from_slice(b),
            Payload::Message { text, count } => {
                let m = integration_tests::proto::test::v1::UnaryResponse {
                    text: text.clone(),
                    count: *count,
                    ..Default::default()
                };
                if json {
                    serde_json::to_vec(&m).map(Bytes::from).unwrap_or_default()
                } else {
                    buffa::Message::encode_to_bytes(&m)
                }
            }
            Payload::ErrorJson {
                code,
                message,
                details,
                end_stream,
                metadata,
            } => {
                let mut err = serde_json::Map::new();
                if let Some(c) = code {
                    err.insert("code".into(), String::from_utf8_lossy(&c.get(CODES)).into());
                }
                if let Some(m) = message {
                    err.insert("message".into(), m.clone().into());
                }
                if !details.is_empty() {
                    let d: Vec<serde_json::Value> = details
                        .iter()
                        .map(|(t, v)| serde_json::json!({"type": t, "value": b64(v, false)}))
                        .collect();
                    err.insert("details".into(), d.into());
                }
                let value = if *end_stream {
                    let md: serde_json::Map<String, serde_json::Value> = metadata
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                        .collect();
                    serde_json::json!({"error": err, "metadata": md})
                } else {
                    serde_json::Value::Object(err)
                };
                Bytes::from(serde_json::to_vec(&value).unwrap())
            }
            Payload::TrailerBlock(fields) => {
                let mut b = Vec::new();
                for (k, v) in fields {
                    b.extend(k.get(HEADER_NAMES));
                    b.extend_from_slice(b": ");
                    b.extend(v.get(HEADER_VALUES));
                    b.extend_from_slice(b"\r\n");
                }
                Bytes::from(b)
            }
            Payload::Gzip(inner) if depth >= MAX_GZIP_DEPTH => inner.bytes_at(json, depth),
            Payload::Gzip(inner) => fixture_gzip(&inner.bytes_at(json, depth + 1)),
            Payload::Bomb(i) => bombs()[usize::from(*i) % BOMBS.len()].clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Piece {
    /// Bytes as they are (a bare Connect unary body, or junk).
    Bare(Payload),
    Envelope {
        flags: u8,
        payload: Payload,
    },
    /// An envelope prefix announcing `len` bytes, and nothing else.
    Prefix {
        flags: u8,
        len: u32,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    proto: Proto,
    json: bool,
    call: Call,
    status: Option<u16>,
    known_status: u8,
    content_type: Option<Pick>,
    headers: Vec<(Pick, Pick)>,
    pieces: Vec<Piece>,
    /// Body encoded as base64 (gRPC-Web text) before splitting.
    base64: bool,
    splits: Vec<u8>,
    trailers: Option<Vec<(Pick, Pick)>>,
    tail: Tail,
    /// A per-call read limit; `None`: the client-wide [`CLIENT_READ_MAX`].
    read_max: Option<u16>,
    timeout_ms: Option<u16>,
}

fn b64(data: &[u8], pad: bool) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            for _ in c.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

fn fields(list: &[(Pick, Pick)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in list {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(&k.get(HEADER_NAMES)),
            HeaderValue::from_bytes(&v.get(HEADER_VALUES)),
        ) {
            map.append(k, v);
        }
    }
    map
}

type BodyStream =
    Pin<Box<dyn Stream<Item = Result<http_body::Frame<Bytes>, std::io::Error>> + Send>>;

/// The canned response, ready to be cloned into each call's answer.
struct Canned {
    status: StatusCode,
    headers: HeaderMap,
    chunks: Vec<Bytes>,
    trailers: Option<HeaderMap>,
    tail: Tail,
}

impl Canned {
    fn new(input: &Input) -> Self {
        let status = input
            .status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or_else(|| {
                StatusCode::from_u16(STATUSES[usize::from(input.known_status) % STATUSES.len()])
                    .unwrap()
            });
        let mut headers = fields(&input.headers);
        if let Some(ct) = &input.content_type
            && let Ok(v) = HeaderValue::from_bytes(&ct.get(CONTENT_TYPES))
        {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
        let mut body = BytesMut::new();
        for piece in &input.pieces {
            match piece {
                Piece::Bare(p) => body.put_slice(&p.bytes(input.json)),
                Piece::Envelope { flags, payload } => {
                    let p = payload.bytes(input.json);
                    body.put_u8(*flags);
                    body.put_u32(p.len() as u32);
                    body.put_slice(&p);
                }
                Piece::Prefix { flags, len } => {
                    body.put_u8(*flags);
                    body.put_u32(*len);
                }
            }
        }
        let mut body = if input.base64 {
            Bytes::from(b64(&body, true))
        } else {
            body.freeze()
        };
        let mut chunks = vec![];
        for s in &input.splits {
            if body.is_empty() {
                break;
            }
            let n = (usize::from(*s) + 1).min(body.len());
            chunks.push(body.split_to(n));
        }
        if !body.is_empty() {
            chunks.push(body);
        }
        Canned {
            status,
            headers,
            chunks,
            trailers: input.trailers.as_deref().map(fields),
            tail: input.tail,
        }
    }

    fn response(&self) -> http::Response<StreamBody<BodyStream>> {
        let mut frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = self
            .chunks
            .iter()
            .cloned()
            .map(|c| Ok(http_body::Frame::data(c)))
            .collect();
        if let Some(t) = &self.trailers {
            frames.push(Ok(http_body::Frame::trailers(t.clone())));
        }
        let head = futures_util::stream::iter(frames);
        let body: BodyStream = match self.tail {
            Tail::End => Box::pin(head),
            Tail::Error => Box::pin(head.chain(futures_util::stream::iter([Err(
                std::io::Error::other("connection reset"),
            )]))),
            Tail::Stall => Box::pin(head.chain(futures_util::stream::pending())),
        };
        let mut resp = http::Response::new(StreamBody::new(body));
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.clone();
        resp
    }
}

/// How a call ended: how many messages it read, and its error if any.
type Outcome = (usize, Result<(), ConnectError>);

/// Reads an opened server stream to its end: how many messages came, and
/// the error that ended it, if any. A stream that ended well has trailers.
async fn server_stream<M>(opened: Result<ServerStreaming<M>, ConnectError>) -> Outcome {
    let mut s = match opened {
        Ok(s) => s,
        Err(e) => return (0, Err(e)),
    };
    let mut n = 0;
    while let Some(m) = s.next().await {
        if let Err(e) = m {
            return (n, Err(e));
        }
        n += 1;
    }
    assert!(
        s.trailers().is_some(),
        "a stream ended well without trailers"
    );
    (n, Ok(()))
}

/// Sends `req` on an opened bidi call, closes the sending side and reads
/// the answers to their end.
async fn bidi<M>(
    opened: Result<BidiStream<UnaryRequest, M>, ConnectError>,
    req: &UnaryRequest,
) -> Outcome {
    let mut s = match opened {
        Ok(s) => s,
        Err(e) => return (0, Err(e)),
    };
    // The channel never reads the request: sending may fail once the call
    // has ended, which is not the answer being checked.
    let _ = s.send(req).await;
    s.close_send();
    let mut n = 0;
    while let Some(m) = s.message().await {
        if let Err(e) = m {
            return (n, Err(e));
        }
        n += 1;
    }
    (n, Ok(()))
}

/// One call of kind `call`, answered as owned messages or, with `views`,
/// as zero-copy views (the `_view` methods).
async fn run_call<T: connectrpc::Channel>(
    client: TestServiceClient<T>,
    call: Call,
    options: CallOptions,
    views: bool,
) -> Outcome {
    let req = UnaryRequest {
        text: "fuzz".into(),
        ..Default::default()
    };
    let reqs = futures_util::stream::iter([req.clone(), req.clone()]);
    let stream_req = ServerStreamRequest::default();
    match (call, views) {
        (Call::Unary, false) => (0, client.unary_with_options(&req, options).await.map(drop)),
        (Call::Unary, true) => (
            0,
            client
                .unary_view_with_options(&req, options)
                .await
                .map(drop),
        ),
        (Call::ClientStream, false) => (
            0,
            client
                .client_stream_with_options(reqs, options)
                .await
                .map(drop),
        ),
        (Call::ClientStream, true) => (
            0,
            client
                .client_stream_view_with_options(reqs, options)
                .await
                .map(drop),
        ),
        (Call::ServerStream, false) => {
            server_stream(
                client
                    .server_stream_with_options(&stream_req, options)
                    .await,
            )
            .await
        }
        (Call::ServerStream, true) => {
            server_stream(
                client
                    .server_stream_view_with_options(&stream_req, options)
                    .await,
            )
            .await
        }
        (Call::Bidi, false) => bidi(client.bidi_with_options(options).await, &req).await,
        (Call::Bidi, true) => bidi(client.bidi_view_with_options(options).await, &req).await,
    }
}

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
}

fuzz_target!(|input: Input| {
    let canned = Arc::new(Canned::new(&input));
    let channel = {
        let canned = Arc::clone(&canned);
        tower::service_fn(move |_req: http::Request<ClientBody>| {
            let resp = canned.response();
            async move { Ok::<_, Infallible>(resp) }
        })
    };
    let mut config = ClientConfig::new(http::Uri::from_static("http://fuzz.invalid"))
        .read_max_bytes(CLIENT_READ_MAX);
    config = match input.proto {
        Proto::Connect => config,
        Proto::Grpc => config.grpc(),
        Proto::GrpcWeb => config.grpc_web(),
        Proto::GrpcWebText => config.grpc_web_text(),
    };
    if input.json {
        config = config.json();
    }
    let mut options = CallOptions::new();
    if let Some(n) = input.read_max {
        options = options.read_max_bytes(usize::from(n));
    }
    let timeout = input
        .timeout_ms
        .map(|ms| Duration::from_millis(u64::from(ms) + 1));
    if let Some(t) = timeout {
        options = options.timeout(t);
    }
    let client = TestServiceClient::new(channel, config);
    RT.with(|rt| {
        rt.block_on(async {
            let started = tokio::time::Instant::now();
            let outcome = tokio::time::timeout(
                Duration::from_secs(24 * 3600),
                run_call(client.clone(), input.call, options.clone(), false),
            )
            .await;
            let owned_elapsed = started.elapsed();
            // The same answer read as views ends the same way: as many
            // messages, the same error code.
            let started_views = tokio::time::Instant::now();
            let viewed = tokio::time::timeout(
                Duration::from_secs(24 * 3600),
                run_call(client, input.call, options, true),
            )
            .await;
            match (&outcome, &viewed) {
                (Ok((n, r)), Ok((vn, vr))) => assert_eq!(
                    (n, r.as_ref().map_err(ConnectError::code)),
                    (vn, vr.as_ref().map_err(ConnectError::code)),
                    "owned and view decoding differ: {r:?} / {vr:?}"
                ),
                (Err(_), Err(_)) => {}
                _ => panic!("one decoding hung and the other did not"),
            }
            if let Some(t) = timeout {
                assert!(
                    started_views.elapsed() <= t + Duration::from_millis(1),
                    "the view call outlived its deadline"
                );
            }
            let (messages, result) = match outcome {
                Ok(o) => o,
                // A body that never ends may hold a call without a
                // deadline; anything else is a hang.
                Err(_) => {
                    assert!(
                        canned.tail == Tail::Stall && timeout.is_none(),
                        "the call hung (tail {:?}, timeout {timeout:?})",
                        canned.tail
                    );
                    return;
                }
            };
            if let Some(t) = timeout {
                assert!(
                    owned_elapsed <= t + Duration::from_millis(1),
                    "the call outlived its deadline: {owned_elapsed:?} > {t:?}"
                );
            }
            match result {
                Ok(()) => {
                    assert_eq!(
                        canned.status,
                        StatusCode::OK,
                        "success from a non-200 answer"
                    );
                }
                Err(e) => {
                    assert_ne!(e.code(), Code::Ok, "an error with code ok: {e:?}");
                    let connect_unary = input.proto == Proto::Connect && input.call == Call::Unary;
                    if canned.status != StatusCode::OK && !connect_unary && messages == 0 {
                        let deadline = timeout.is_some() && e.code() == Code::DeadlineExceeded;
                        assert!(
                            deadline || e.code() == Code::from_http_status(canned.status),
                            "non-200 answer {} became {e:?}",
                            canned.status
                        );
                    }
                }
            }
        })
    });
});
