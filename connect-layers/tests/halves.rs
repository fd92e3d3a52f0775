//! Both halves of a concern behave the same on the same input: a test per
//! concern, each feeding the server half and the client half what the
//! other side would send.

use std::time::Duration;

use bytes::Bytes;
use connect_codec::compression::CompressionRegistry;
use connect_core::{
    Code, Codec, ConnectError, Idempotency, MethodDescriptor, Protocol, StreamType,
};
use connect_layers::protocol::content_type;
use connect_layers::rpc::{
    CallSettings, ClientRequest, ClientResponse, Frame, RequestHead, RequestMessages,
    ResponseFrames, RpcRequest, RpcResponse,
};
use http::HeaderMap;
use tower::{ServiceBuilder, ServiceExt};

static UNARY: MethodDescriptor = MethodDescriptor::new(
    "a.v1.S",
    "M",
    "/a.v1.S/M",
    StreamType::Unary,
    Idempotency::Unknown,
);

fn gzip(data: &[u8]) -> Bytes {
    CompressionRegistry::new().compress("gzip", data).unwrap()
}

/// What the server half makes of one received frame.
async fn server_receives(
    frame: Frame,
    encoding: Option<&str>,
    limit: usize,
) -> Result<Bytes, ConnectError> {
    // The handler keeps what reached it (the answer may be compressed
    // back).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = seen.clone();
    let svc = ServiceBuilder::new()
        .layer(connect_layers::compression::server::CompressionLayer::new().read_max_bytes(limit))
        .service_fn(move |req: RpcRequest| {
            let keep = keep.clone();
            async move {
                let RequestMessages::Unary(frame) = req.messages else {
                    unreachable!("unary")
                };
                *keep.lock().unwrap() = Some(frame.into_payload());
                Ok::<_, ConnectError>(RpcResponse::default())
            }
        });
    let mut headers = HeaderMap::new();
    if let Some(e) = encoding {
        headers.insert("grpc-encoding", e.parse().unwrap());
    }
    let req = RpcRequest {
        head: RequestHead {
            method: &UNARY,
            protocol: Protocol::Grpc,
            codec: Codec::Proto,
            headers,
            extensions: Default::default(),
            deadline: None,
        },
        messages: RequestMessages::Unary(frame),
    };
    svc.oneshot(req).await?;
    let got = seen.lock().unwrap().take();
    Ok(got.expect("the handler ran"))
}

/// What the client half makes of one received frame.
async fn client_receives(
    frame: Frame,
    encoding: Option<&str>,
    limit: usize,
) -> Result<Bytes, ConnectError> {
    let mut headers = HeaderMap::new();
    if let Some(e) = encoding {
        headers.insert("grpc-encoding", e.parse().unwrap());
    }
    let svc = ServiceBuilder::new()
        .layer(connect_layers::compression::client::CompressionLayer::new(
            Protocol::Grpc,
            CompressionRegistry::new(),
        ))
        .service_fn(move |_req: ClientRequest| {
            let frame = frame.clone();
            let headers = headers.clone();
            async move {
                Ok::<_, ConnectError>(ClientResponse {
                    headers,
                    messages: ResponseFrames::Unary {
                        frame,
                        trailers: HeaderMap::new(),
                    },
                })
            }
        });
    let req = ClientRequest {
        method: &UNARY,
        headers: HeaderMap::new(),
        extensions: Default::default(),
        settings: CallSettings {
            read_max_bytes: limit,
            ..CallSettings::default()
        },
        messages: RequestMessages::Unary(Frame::default()),
    };
    let resp = svc.oneshot(req).await?;
    let ResponseFrames::Unary { frame, .. } = resp.messages else {
        unreachable!("unary")
    };
    Ok(frame.into_payload())
}

fn compressed(data: Bytes) -> Frame {
    Frame {
        data,
        compressed: true,
        prefixed: false,
    }
}

/// A name, the frame received, the encoding named, the read limit, and
/// what both halves must make of it.
type Case<'a> = (
    &'a str,
    Frame,
    Option<&'a str>,
    usize,
    Result<&'a [u8], Code>,
);

#[tokio::test]
async fn compression_halves_agree() {
    let big = vec![b'x'; 1000];
    let cases: Vec<Case<'_>> = vec![
        (
            "plain",
            Frame::new(Bytes::from_static(b"hi")),
            None,
            10,
            Ok(b"hi"),
        ),
        (
            "gzip",
            compressed(gzip(b"hello")),
            Some("gzip"),
            10,
            Ok(b"hello"),
        ),
        (
            "empty compressed frame",
            compressed(Bytes::new()),
            Some("gzip"),
            10,
            Ok(b""),
        ),
        (
            "compressed, no encoding",
            compressed(gzip(b"a")),
            None,
            10,
            Err(Code::Internal),
        ),
        (
            "empty compressed, no encoding",
            compressed(Bytes::new()),
            None,
            10,
            Err(Code::Internal),
        ),
        (
            "inflates past the limit",
            compressed(gzip(&big)),
            Some("gzip"),
            999,
            Err(Code::ResourceExhausted),
        ),
        (
            "inflates to the limit",
            compressed(gzip(&big)),
            Some("gzip"),
            1000,
            Ok(&big),
        ),
        // Framing bounds uncompressed messages before buffering them, on
        // both sides; compression passes them as they are.
        (
            "uncompressed, over the limit",
            Frame::new(Bytes::from_static(b"12345")),
            None,
            4,
            Ok(b"12345"),
        ),
    ];
    for (name, frame, encoding, limit, want) in cases {
        let server = server_receives(frame.clone(), encoding, limit).await;
        let client = client_receives(frame, encoding, limit).await;
        for (side, got) in [("server", server), ("client", client)] {
            match (&got, &want) {
                (Ok(data), Ok(want)) => assert_eq!(&data[..], *want, "{side}: {name}"),
                (Err(e), Err(code)) => assert_eq!(e.code(), *code, "{side}: {name}: {e:?}"),
                _ => panic!("{side}: {name}: got {got:?}, want {want:?}"),
            }
        }
    }
}

#[tokio::test]
async fn compression_blame_differs_only_for_corrupt_data() {
    // A request that fails to decode is the caller's fault; an answer
    // that fails to decode, the server's.
    let corrupt = compressed(Bytes::from_static(b"not gzip at all"));
    let server = server_receives(corrupt.clone(), Some("gzip"), 100).await;
    let client = client_receives(corrupt, Some("gzip"), 100).await;
    assert_eq!(server.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(client.unwrap_err().code(), Code::Internal);
}

#[tokio::test]
async fn deadline_halves_agree() {
    // What the client writes, the server reads back as at least the
    // timeout (rounded up, never down), for every size, huge ones included.
    for protocol in [Protocol::Connect, Protocol::Grpc] {
        for t in [
            Duration::from_nanos(1),
            Duration::from_millis(250),
            Duration::from_secs(3600),
            Duration::from_secs(u64::MAX / 4),
            Duration::MAX,
        ] {
            let (name, value) = connect_layers::deadline::timeout_value(protocol, t);
            let mut headers = HeaderMap::new();
            headers.insert(name, value);
            let read = connect_layers::deadline::request_timeout(protocol, &headers)
                .unwrap()
                .unwrap();
            let cap = match protocol {
                Protocol::Connect => Duration::from_millis(9_999_999_999),
                _ => Duration::from_secs(99_999_999 * 3600),
            };
            assert!(read >= t.min(cap), "{protocol:?} {t:?} -> {read:?}");
            // Either side's deadline from a huge timeout is no deadline,
            // not a panic.
            let _ = connect_layers::deadline::deadline_after(t);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn client_deadline_with_a_huge_timeout_sends_the_largest_header_and_runs() {
    for (protocol, want) in [
        (Protocol::Connect, "9999999999"),
        (Protocol::Grpc, "99999999H"),
    ] {
        let svc = ServiceBuilder::new()
            .layer(connect_layers::deadline::client::DeadlineLayer::new(
                protocol,
            ))
            .service_fn(|req: ClientRequest| async move {
                let sent = req
                    .headers
                    .get(connect_layers::protocol::timeout_header(protocol))
                    .cloned();
                let mut headers = HeaderMap::new();
                if let Some(v) = sent {
                    headers.insert("sent", v);
                }
                Ok::<_, ConnectError>(ClientResponse {
                    headers,
                    messages: ResponseFrames::Unary {
                        frame: Frame::default(),
                        trailers: HeaderMap::new(),
                    },
                })
            });
        let req = ClientRequest {
            method: &UNARY,
            headers: HeaderMap::new(),
            extensions: Default::default(),
            settings: CallSettings {
                timeout: Some(Duration::MAX),
                ..CallSettings::default()
            },
            messages: RequestMessages::Unary(Frame::default()),
        };
        let resp = svc.oneshot(req).await.unwrap();
        assert_eq!(resp.headers["sent"], want, "{protocol:?}");
    }
}

#[test]
fn negotiation_halves_agree() {
    // Every content type the client half writes, the server half accepts
    // with the same codec, on the stack the router picks for it.
    use connect_layers::negotiate::server::{parse_connect_content_type, parse_grpc_content_type};
    for protocol in [Protocol::Connect, Protocol::Grpc, Protocol::GrpcWeb] {
        for codec in [Codec::Proto, Codec::Json] {
            for st in [
                StreamType::Unary,
                StreamType::ClientStream,
                StreamType::BidiStream,
            ] {
                for text in [false, true] {
                    let ct = content_type::request(protocol, codec, st, text);
                    assert_eq!(content_type::detect(Some(ct.as_bytes())), protocol, "{ct}");
                    let got = match protocol {
                        Protocol::Connect => {
                            parse_connect_content_type(ct.as_bytes()).map(|(c, enveloped)| {
                                assert_eq!(enveloped, st != StreamType::Unary, "{ct}");
                                c
                            })
                        }
                        p => parse_grpc_content_type(ct.as_bytes(), p == Protocol::GrpcWeb),
                    };
                    assert_eq!(got, Some(codec), "{ct}");
                }
            }
        }
    }
}

#[tokio::test]
async fn web_text_halves_agree() {
    use connect_layers::web_text::{Base64Body, encode_chunk};
    use http_body_util::{BodyExt, StreamBody};
    // Chunks either side encodes, split anywhere, decode to the bytes.
    let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let encoded: Vec<Bytes> = payload.chunks(7).map(encode_chunk).collect();
    let joined: Vec<u8> = encoded.iter().flat_map(|c| c.iter().copied()).collect();
    for split in [1, 3, 4, 5, 64] {
        let pieces: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = joined
            .chunks(split)
            .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        let body = Base64Body::new(StreamBody::new(futures_util::stream::iter(pieces)));
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], &payload[..], "split {split}");
    }
}

#[test]
fn get_halves_agree() {
    // The URL the client half writes, the server half reads back as the
    // message, codec and compression the POST would have carried.
    use connect_layers::ClientBody;
    use connect_layers::get::client::to_get;
    use connect_layers::get::server::parse_get_query;
    use connect_layers::protocol::MethodRoute;
    static GET: MethodDescriptor = MethodDescriptor::new(
        "a.v1.S",
        "G",
        "/a.v1.S/G",
        StreamType::Unary,
        Idempotency::NoSideEffects,
    );
    let messages: [&[u8]; 4] = [b"", b"\x0a\x01a", &[0xff; 64], b"?&=+/ %"];
    for message in messages {
        for (ct, encoding) in [
            ("application/proto", None),
            ("application/json", Some("gzip")),
        ] {
            let mut req = http::Request::post("http://h/a.v1.S/G")
                .header("content-type", ct)
                .header("connect-protocol-version", "1")
                .body(ClientBody::full(Bytes::copy_from_slice(message)))
                .unwrap();
            if let Some(e) = encoding {
                req.headers_mut()
                    .insert("content-encoding", e.parse().unwrap());
            }
            req.extensions_mut().insert(MethodRoute(&GET));
            let get = to_get(req, 8192);
            assert_eq!(get.method(), http::Method::GET);
            let query = get.uri().query().unwrap();
            let parsed = parse_get_query(query).unwrap();
            assert_eq!(&parsed.message[..], message, "{query}");
            assert_eq!(parsed.compression.as_deref(), encoding, "{query}");
            let codec = content_type::parse(ct.as_bytes()).unwrap().codec_name;
            assert!(query.contains(&format!("encoding={codec}")), "{query}");
        }
    }
}

#[tokio::test]
async fn error_halves_agree() {
    // The error the server half writes, in each protocol's shape, the
    // client half reads back with its code, message and metadata.
    use connect_layers::errors::server::error_response;
    use connect_layers::protocol::Negotiated;
    use connect_layers::stack::client::{ClientStackConfig, client_stack};
    for (protocol, enveloped) in [
        (Protocol::Connect, false),
        (Protocol::Grpc, true),
        (Protocol::GrpcWeb, true),
    ] {
        let channel = tower::service_fn(move |_req: http::Request<connect_layers::ClientBody>| {
            let n = Negotiated {
                method: &UNARY,
                protocol,
                codec: Codec::Proto,
                enveloped,
                implicit_codec: false,
            };
            let mut err = ConnectError::new(Code::NotFound, "no such user");
            err.headers_mut().insert("x-why", "gone".parse().unwrap());
            async move { Ok::<_, std::convert::Infallible>(error_response(Some(&n), err)) }
        });
        let config = ClientStackConfig::new(http::Uri::from_static("http://h")).protocol(protocol);
        let stack = client_stack(channel, &config);
        let req = ClientRequest {
            method: &UNARY,
            headers: HeaderMap::new(),
            extensions: Default::default(),
            settings: CallSettings::default(),
            messages: RequestMessages::Unary(Frame::default()),
        };
        let err = stack.oneshot(req).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{protocol:?}: {err:?}");
        assert_eq!(err.message(), "no such user", "{protocol:?}");
        assert_eq!(err.headers()["x-why"], "gone", "{protocol:?}");
    }
}
