//! The client stack's response parsing against arbitrary responses (the
//! `fuzz/` target `client_response`'s properties, run on stable in CI),
//! and regression tests for what fuzzing and the broken-server tests found.
//!
//! A fake channel answers every call with a response made of a status,
//! headers, body chunks, optional HTTP trailers and an ending (clean, an
//! error, or a body that never ends); the call runs under a paused tokio
//! clock, so only a real hang trips the time bound.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use connect_core::{
    Code, Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType,
};
use connect_layers::rpc::{Frame, RequestMessages};
use connect_layers::stack::client::{ClientStackConfig, client_stack};
use connect_layers::{CallSettings, ClientBody, ClientRequest, ResponseFrames, StreamItem};
use futures_util::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::StreamBody;
use proptest::prelude::*;
use tower::{ServiceExt as _, service_fn};

static UNARY: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "U",
    "/t.v1.S/U",
    StreamType::Unary,
    Idempotency::Unknown,
);
static CLIENT: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "C",
    "/t.v1.S/C",
    StreamType::ClientStream,
    Idempotency::Unknown,
);
static SERVER: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "S",
    "/t.v1.S/S",
    StreamType::ServerStream,
    Idempotency::Unknown,
);
static BIDI: MethodDescriptor = MethodDescriptor::new(
    "t.v1.S",
    "B",
    "/t.v1.S/B",
    StreamType::BidiStream,
    Idempotency::Unknown,
);
static METHODS: [&MethodDescriptor; 4] = [&UNARY, &CLIENT, &SERVER, &BIDI];

/// How the fake response body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tail {
    End,
    Error,
    Stall,
}

/// A canned response.
#[derive(Clone, Debug)]
struct Canned {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    chunks: Vec<Bytes>,
    trailers: Option<Vec<(String, Vec<u8>)>>,
    tail: Tail,
}

type BodyStream =
    Pin<Box<dyn Stream<Item = Result<http_body::Frame<Bytes>, std::io::Error>> + Send>>;

fn header_map(fields: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in fields {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

impl Canned {
    fn ok(content_type: &str) -> Self {
        Canned {
            status: 200,
            headers: vec![("content-type".into(), content_type.as_bytes().to_vec())],
            chunks: vec![],
            trailers: None,
            tail: Tail::End,
        }
    }

    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.as_bytes().to_vec()));
        self
    }

    fn chunk(mut self, data: impl Into<Bytes>) -> Self {
        self.chunks.push(data.into());
        self
    }

    fn tail(mut self, tail: Tail) -> Self {
        self.tail = tail;
        self
    }

    fn response(&self) -> http::Response<StreamBody<BodyStream>> {
        let mut frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = self
            .chunks
            .iter()
            .cloned()
            .map(|c| Ok(http_body::Frame::data(c)))
            .collect();
        if let Some(t) = &self.trailers {
            frames.push(Ok(http_body::Frame::trailers(header_map(t))));
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
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        *resp.headers_mut() = header_map(&self.headers);
        resp
    }
}

/// What a call came to: the messages read, and how it ended.
#[derive(Debug)]
struct Outcome {
    messages: Vec<Frame>,
    end: Result<HeaderMap, ConnectError>,
}

/// Calls `method` over a channel answering with `canned`.
async fn call(
    protocol: Protocol,
    web_text: bool,
    method: &'static MethodDescriptor,
    canned: Canned,
    settings: CallSettings,
) -> Outcome {
    let canned = Arc::new(canned);
    let channel = service_fn(move |_req: http::Request<ClientBody>| {
        let resp = canned.response();
        async move { Ok::<_, std::convert::Infallible>(resp) }
    });
    let config = ClientStackConfig::new(http::Uri::from_static("http://fake"))
        .protocol(protocol)
        .codec(Codec::Proto)
        .web_text(web_text);
    let stack = client_stack(channel, &config);
    let one = || Frame::new(Bytes::from_static(b"\x0a\x01x"));
    let messages = if method.stream_type().client_streams() {
        RequestMessages::Stream(Box::pin(futures_util::stream::iter([Ok(one())])))
    } else {
        RequestMessages::Unary(one())
    };
    let req = ClientRequest {
        method,
        headers: HeaderMap::new(),
        extensions: Default::default(),
        settings,
        messages,
    };
    let resp = match stack.oneshot(req).await {
        Ok(r) => r,
        Err(e) => {
            return Outcome {
                messages: vec![],
                end: Err(e),
            };
        }
    };
    match resp.messages {
        ResponseFrames::Unary { frame, trailers } => Outcome {
            messages: vec![frame],
            end: Ok(trailers),
        },
        ResponseFrames::Stream(mut items) => {
            let mut messages = vec![];
            loop {
                match items.next().await {
                    Some(Ok(StreamItem::Message(f))) => messages.push(f),
                    Some(Ok(StreamItem::Trailers(t))) => {
                        assert!(items.next().await.is_none(), "items after the trailers");
                        return Outcome {
                            messages,
                            end: Ok(t.into_map()),
                        };
                    }
                    Some(Err(e)) => {
                        // The stream ends after its first error, whatever
                        // broke (a decompression error included): nothing
                        // more, not even under a stalled body.
                        assert!(items.next().await.is_none(), "items after the error {e:?}");
                        return Outcome {
                            messages,
                            end: Err(e),
                        };
                    }
                    None => panic!("the stream ended without trailers or an error"),
                }
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn env(flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u8(flags);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn settings(read_max: usize, timeout: Option<Duration>) -> CallSettings {
    CallSettings {
        read_max_bytes: read_max,
        timeout,
        ..CallSettings::default()
    }
}

/// Runs `fut` to completion under the paused clock, failing on a hang.
fn run<F: std::future::Future>(fut: F) -> F::Output {
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(3600), fut)
            .await
            .expect("the call hung")
    })
}

// ===== properties =====

const PROTOCOLS: [(Protocol, bool); 4] = [
    (Protocol::Connect, false),
    (Protocol::Grpc, false),
    (Protocol::GrpcWeb, false),
    (Protocol::GrpcWeb, true),
];

fn content_type() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"application/proto".to_vec()),
        Just(b"application/json".to_vec()),
        Just(b"application/connect+proto".to_vec()),
        Just(b"application/connect+json".to_vec()),
        Just(b"application/grpc".to_vec()),
        Just(b"application/grpc+proto".to_vec()),
        Just(b"application/grpc+json".to_vec()),
        Just(b"application/grpc-web+proto".to_vec()),
        Just(b"application/grpc-web-text+proto".to_vec()),
        Just(b"text/html".to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn header_field() -> impl Strategy<Value = (String, Vec<u8>)> {
    let name = prop_oneof![
        Just("content-encoding".to_owned()),
        Just("connect-content-encoding".to_owned()),
        Just("grpc-encoding".to_owned()),
        Just("grpc-status".to_owned()),
        Just("grpc-message".to_owned()),
        Just("grpc-status-details-bin".to_owned()),
        Just("trailer-x-t".to_owned()),
        Just("trailer-".to_owned()),
        "[a-z-]{1,12}",
    ];
    let value = prop_oneof![
        Just(b"gzip".to_vec()),
        Just(b"zstd".to_vec()),
        Just(b"identity".to_vec()),
        Just(b"snappy".to_vec()),
        Just(b"0".to_vec()),
        Just(b"13".to_vec()),
        Just(b"99".to_vec()),
        Just(b"%zz%e2%98".to_vec()),
        Just(b"CAUSBGRlZXA".to_vec()),
        prop::collection::vec(any::<u8>(), 0..16),
    ];
    (name, value)
}

/// Body pieces: junk, envelopes with any flags, end-stream JSON, trailer
/// blocks, compressed payloads, and huge announced lengths.
fn piece() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from),
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(f, p)| env(f, &p)),
        (
            prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(0x80), Just(0x81)],
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(f, p)| env(f, &p)),
        Just(env(0, b"\x0a\x02ok")),
        prop_oneof![
            Just(&br#"{}"#[..]),
            Just(&br#"{"error":{"code":"aborted","message":"m"},"metadata":{"X-A":["1"]}}"#[..]),
            Just(&br#"{"error":null}"#[..]),
            Just(&br#"{"error":5}"#[..]),
            Just(&b"nope"[..]),
        ]
        .prop_map(|j| env(2, j)),
        prop_oneof![
            Just(&b"grpc-status: 0\r\n"[..]),
            Just(&b"Grpc-Status: 3\r\ngRPC-Message: bad\r\n"[..]),
            Just(&b"grpc-status: x\r\n"[..]),
            Just(&b"\xff:\xfe\r\n"[..]),
        ]
        .prop_map(|b| env(0x80, b)),
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(f, p)| env(f | 1, &gzip(&p))),
        (0usize..200_000).prop_map(|n| env(1, &gzip(&vec![0u8; n]))),
        any::<u32>().prop_map(|n| {
            let mut b = BytesMut::new();
            b.put_u8(0);
            b.put_u32(n);
            b.freeze()
        }),
        Just(Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff])),
    ]
}

fn canned() -> impl Strategy<Value = Canned> {
    (
        prop_oneof![
            4 => Just(200u16),
            1 => prop_oneof![Just(400u16), Just(404), Just(429), Just(502), Just(503)],
            1 => 100u16..1000,
        ],
        content_type(),
        prop::collection::vec(header_field(), 0..4),
        prop::collection::vec(piece(), 0..5),
        prop::collection::vec(1usize..64, 0..8),
        prop::option::of(prop::collection::vec(header_field(), 0..3)),
        prop_oneof![3 => Just(Tail::End), 1 => Just(Tail::Error), 1 => Just(Tail::Stall)],
    )
        .prop_map(
            |(status, ct, mut headers, pieces, splits, trailers, tail)| {
                headers.insert(0, ("content-type".into(), ct));
                // The pieces, re-split at arbitrary points.
                let mut body = pieces.concat();
                let mut chunks = vec![];
                for n in splits {
                    if body.is_empty() {
                        break;
                    }
                    let rest = body.split_off(n.min(body.len()));
                    chunks.push(Bytes::from(std::mem::replace(&mut body, rest)));
                }
                if !body.is_empty() {
                    chunks.push(Bytes::from(body));
                }
                Canned {
                    status,
                    headers,
                    chunks,
                    trailers,
                    tail,
                }
            },
        )
}

/// The properties every outcome has.
fn check(
    protocol: Protocol,
    method: &'static MethodDescriptor,
    canned: &Canned,
    read_max: usize,
    outcome: &Outcome,
) {
    for m in &outcome.messages {
        assert!(!m.compressed, "a message left compressed");
        assert!(
            m.payload().len() <= read_max,
            "a message over the read limit"
        );
    }
    let single = !method.stream_type().server_streams();
    match &outcome.end {
        Ok(_) => {
            if single {
                assert_eq!(
                    outcome.messages.len(),
                    1,
                    "a single-response call succeeded without exactly one message"
                );
            }
            assert_eq!(canned.status, 200, "success from a non-200 response");
        }
        Err(e) => {
            assert_ne!(e.code(), Code::Ok, "an error with code ok: {e:?}");
            let connect_unary =
                protocol == Protocol::Connect && method.stream_type() == StreamType::Unary;
            if canned.status != 200 && !connect_unary {
                assert_eq!(
                    e.code(),
                    Code::from_http_status(StatusCode::from_u16(canned.status).unwrap()),
                    "non-200 answers are judged by their status: {e:?}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn arbitrary_responses_end_in_a_result_or_a_connect_error(
        canned in canned(),
        protocol in 0usize..4,
        method in 0usize..4,
        read_max in prop_oneof![Just(4usize << 20), 0usize..2048],
    ) {
        let (protocol, web_text) = PROTOCOLS[protocol];
        let method = METHODS[method];
        // A body that never ends needs the deadline to end the call.
        let timeout = (canned.tail == Tail::Stall).then(|| Duration::from_secs(5));
        let outcome = runtime().block_on(async {
            let started = tokio::time::Instant::now();
            let outcome = tokio::time::timeout(
                Duration::from_secs(3600),
                call(protocol, web_text, method, canned.clone(), settings(read_max, timeout)),
            )
            .await
            .expect("the call hung");
            if let Some(t) = timeout {
                assert!(started.elapsed() <= t + Duration::from_millis(1), "the call outlived its deadline");
            }
            outcome
        });
        check(protocol, method, &canned, read_max, &outcome);
    }
}

// ===== regressions =====

#[test]
fn a_second_message_fails_a_single_response_call_without_waiting_for_the_end() {
    for (protocol, ct) in [
        (Protocol::Connect, "application/connect+proto"),
        (Protocol::Grpc, "application/grpc"),
        (Protocol::GrpcWeb, "application/grpc-web"),
    ] {
        for method in [&UNARY, &CLIENT] {
            if protocol == Protocol::Connect && method.stream_type() == StreamType::Unary {
                continue;
            }
            let canned = Canned::ok(ct)
                .chunk(env(0, b"\x0a\x01a"))
                .chunk(env(0, b"\x0a\x01b"))
                .tail(Tail::Stall);
            let out = run(call(
                protocol,
                false,
                method,
                canned,
                CallSettings::default(),
            ));
            assert_eq!(
                out.end.unwrap_err().code(),
                Code::Unimplemented,
                "{protocol}"
            );
        }
    }
}

#[test]
fn invalid_envelope_flags_are_internal() {
    let cases = [
        (Protocol::Connect, "application/connect+proto", 0x80u8),
        (Protocol::Connect, "application/connect+proto", 0x04),
        (Protocol::Grpc, "application/grpc", 0x02),
        (Protocol::Grpc, "application/grpc", 0x80),
        (Protocol::GrpcWeb, "application/grpc-web", 0x02),
        (Protocol::GrpcWeb, "application/grpc-web", 0x40),
    ];
    for (protocol, ct, flags) in cases {
        let mut canned = Canned::ok(ct).chunk(env(flags, b"\x0a\x01a"));
        canned.trailers = Some(vec![("grpc-status".into(), b"0".to_vec())]);
        let out = run(call(
            protocol,
            false,
            &SERVER,
            canned,
            CallSettings::default(),
        ));
        assert!(out.messages.is_empty(), "{protocol} {flags:#x}");
        assert_eq!(
            out.end.unwrap_err().code(),
            Code::Internal,
            "{protocol} {flags:#x}"
        );
    }
}

#[test]
fn bytes_after_the_terminal_envelope_are_internal() {
    for (protocol, ct, end) in [
        (
            Protocol::Connect,
            "application/connect+proto",
            env(2, b"{}"),
        ),
        (
            Protocol::GrpcWeb,
            "application/grpc-web",
            env(0x80, b"grpc-status: 0\r\n"),
        ),
    ] {
        let canned = Canned::ok(ct).chunk([end, env(0, b"")].concat());
        let out = run(call(
            protocol,
            false,
            &SERVER,
            canned,
            CallSettings::default(),
        ));
        assert_eq!(out.end.unwrap_err().code(), Code::Internal, "{protocol}");
    }
}

#[test]
fn compressed_end_of_stream_messages_keep_the_read_limit() {
    let mut big = br#"{"metadata":{"x-pad":[""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 100_000));
    big.extend_from_slice(br#""]}}"#);
    let mut block = b"grpc-status: 0\r\nx-pad: ".to_vec();
    block.extend(std::iter::repeat_n(b'a', 100_000));
    for (protocol, ct, encoding, flags, payload) in [
        (
            Protocol::Connect,
            "application/connect+proto",
            "connect-content-encoding",
            3u8,
            &big,
        ),
        (
            Protocol::GrpcWeb,
            "application/grpc-web",
            "grpc-encoding",
            0x81,
            &block,
        ),
    ] {
        let canned = || {
            Canned::ok(ct)
                .header(encoding, "gzip")
                .chunk(env(flags, &gzip(payload)))
        };
        // Over a 64 KiB limit: resource_exhausted, not internal.
        let out = run(call(
            protocol,
            false,
            &SERVER,
            canned(),
            settings(64 << 10, None),
        ));
        assert_eq!(
            out.end.unwrap_err().code(),
            Code::ResourceExhausted,
            "{protocol}"
        );
        // Within a limit over the old fixed 1 MiB cap... and under it.
        let out = run(call(
            protocol,
            false,
            &SERVER,
            canned(),
            settings(4 << 20, None),
        ));
        let trailers = out.end.unwrap();
        assert_eq!(trailers["x-pad"].len(), 100_000, "{protocol}");
    }
}

/// A message that does not decompress ends the stream: the messages
/// before it arrive, then `internal`, then nothing (`call` checks that
/// the stream ends), though the body goes on with a good message and a
/// clean end, or stalls.
#[test]
fn a_decompression_error_ends_the_stream() {
    let good = env(1, &gzip(b"\x0a\x01a"));
    let corrupt = env(1, b"\x1f\x8b not gzip");
    for (protocol, ct, encoding, end) in [
        (
            Protocol::Connect,
            "application/connect+proto",
            "connect-content-encoding",
            env(2, b"{}"),
        ),
        (
            Protocol::GrpcWeb,
            "application/grpc-web+proto",
            "grpc-encoding",
            env(0x80, b"grpc-status: 0\r\n"),
        ),
    ] {
        for tail in [Tail::End, Tail::Stall] {
            let canned = Canned::ok(ct)
                .header(encoding, "gzip")
                .chunk(good.clone())
                .chunk(corrupt.clone())
                .chunk(good.clone())
                .chunk(end.clone())
                .tail(tail);
            let out = run(call(
                protocol,
                false,
                &SERVER,
                canned,
                settings(1 << 20, None),
            ));
            let texts: Vec<_> = out.messages.iter().map(|f| f.data.clone()).collect();
            assert_eq!(
                texts,
                [Bytes::from_static(b"\x0a\x01a")],
                "{protocol} {tail:?}"
            );
            let err = out.end.unwrap_err();
            assert_eq!(err.code(), Code::Internal, "{protocol} {tail:?}: {err}");
        }
    }
}

#[test]
fn malformed_web_text_bodies_are_internal() {
    let canned = Canned::ok("application/grpc-web-text+proto").chunk(&b"!!!!"[..]);
    let out = run(call(
        Protocol::GrpcWeb,
        true,
        &UNARY,
        canned,
        CallSettings::default(),
    ));
    assert_eq!(out.end.unwrap_err().code(), Code::Internal);
}

#[test]
fn a_stalled_body_ends_at_the_deadline() {
    for (protocol, ct) in [
        (Protocol::Connect, "application/proto"),
        (Protocol::Grpc, "application/grpc"),
        (Protocol::GrpcWeb, "application/grpc-web"),
    ] {
        for method in METHODS {
            let canned = Canned::ok(ct).chunk(&b"\x00\x00"[..]).tail(Tail::Stall);
            let canned = if protocol == Protocol::Connect
                && method.stream_type() != StreamType::Unary
            {
                Canned {
                    headers: vec![("content-type".into(), b"application/connect+proto".to_vec())],
                    ..canned
                }
            } else {
                canned
            };
            let out = run(async {
                let started = tokio::time::Instant::now();
                let out = call(
                    protocol,
                    false,
                    method,
                    canned,
                    settings(1 << 20, Some(Duration::from_millis(300))),
                )
                .await;
                assert!(started.elapsed() <= Duration::from_millis(301));
                out
            });
            assert_eq!(
                out.end.unwrap_err().code(),
                Code::DeadlineExceeded,
                "{protocol} {}",
                method.path()
            );
        }
    }
}

#[test]
fn body_failures_say_what_broke() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error reading a body from connection")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let e = connect_layers::framing::client::body_error(Outer(std::io::Error::other(
        "unexpected EOF during chunk size line",
    )));
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(
        e.message(),
        "response body failed: error reading a body from connection: \
         unexpected EOF during chunk size line"
    );
    // A malformed body reported by a decoding layer is the server's fault.
    let e = connect_layers::framing::client::body_error(ConnectError::invalid_argument("bad"));
    assert_eq!(e.code(), Code::Internal);
    // Other codes from the channel's own layers pass through.
    let e = connect_layers::framing::client::body_error(ConnectError::new(Code::Aborted, "stop"));
    assert_eq!(e.code(), Code::Aborted);
}
