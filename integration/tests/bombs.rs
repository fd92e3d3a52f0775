//! Compression and size bombs against a server with a small read limit
//! (256 KiB), over every protocol: Connect unary and streaming, gRPC,
//! gRPC-Web binary and text, on HTTP/1.1 and h2c where the protocol
//! allows. gzip and zstd bombs (64 MiB of zeros, a few KiB to 64 KiB on
//! the wire), an envelope length prefix of 2^32-1, a plain message over
//! the limit, and a huge header. Each call fails `resource_exhausted` in
//! its protocol's shape (431 for the header, before any protocol), the
//! process's RSS stays far below one decompressed bomb, and the server
//! goes on serving.
//!
//! `connect_unary.rs` has a gzip bomb against the default 4 MiB limit and
//! `connect_stream.rs` a 2^32-1 Connect envelope: the rest is here.

mod support;

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use connectrpc::{Router, StackConfig};
use http::StatusCode;
use integration_tests::proto::test::v1::TestServiceExt as _;
use support::{Reply, Version, call, encode, envelope, post, unary_req};

const LIMIT: usize = 256 * 1024;
const BOMB: usize = 64 << 20;
/// Far below one decompressed bomb.
const RSS_BOUND_KIB: u64 = 32 * 1024;

const UNARY: &str = "/test.v1.TestService/Unary";
const CLIENT: &str = "/test.v1.TestService/ClientStream";

/// RSS is per process: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// 64 MiB of zeros, gzip- and zstd-compressed (made once).
fn bombs() -> &'static [(&'static str, Bytes); 2] {
    static BOMBS: OnceLock<[(&str, Bytes); 2]> = OnceLock::new();
    BOMBS.get_or_init(|| {
        let zeros = vec![0u8; BOMB];
        let gzip = Bytes::from(support::gzip(&zeros));
        let zstd = Bytes::from(zstd::encode_all(&zeros[..], 3).unwrap());
        assert!(gzip.len() < LIMIT && zstd.len() < LIMIT);
        [("gzip", gzip), ("zstd", zstd)]
    })
}

async fn limited_server() -> support::TestServer {
    let config = StackConfig::new().read_max_bytes(LIMIT);
    support::start_with(Arc::new(support::Impl).register(Router::new().with_config(config))).await
}

#[derive(Clone, Copy, Debug)]
enum Protocol {
    ConnectUnary,
    ConnectStream,
    Grpc,
    GrpcWeb,
    GrpcWebText,
}

impl Protocol {
    const ALL: [Protocol; 5] = [
        Protocol::ConnectUnary,
        Protocol::ConnectStream,
        Protocol::Grpc,
        Protocol::GrpcWeb,
        Protocol::GrpcWebText,
    ];

    fn versions(self) -> &'static [Version] {
        match self {
            Protocol::Grpc => &[Version::H2c],
            _ => &support::VERSIONS,
        }
    }

    fn enveloped(self) -> bool {
        !matches!(self, Protocol::ConnectUnary)
    }

    /// A request carrying `payload` (a message, compressed with
    /// `encoding` when given; for enveloped protocols, `raw` is sent as
    /// the whole body instead when given).
    fn request(self, encoding: Option<&str>, payload: &[u8]) -> (http::request::Builder, Bytes) {
        let flags = u8::from(encoding.is_some());
        let (builder, body) = match self {
            Protocol::ConnectUnary => {
                let b = post(UNARY, "application/proto");
                let b = match encoding {
                    Some(e) => b.header("content-encoding", e),
                    None => b,
                };
                (b, Bytes::copy_from_slice(payload))
            }
            Protocol::ConnectStream => {
                let b = post(CLIENT, "application/connect+proto");
                let b = match encoding {
                    Some(e) => b.header("connect-content-encoding", e),
                    None => b,
                };
                (b, envelope(flags, payload))
            }
            Protocol::Grpc | Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let ct = match self {
                    Protocol::Grpc => "application/grpc",
                    Protocol::GrpcWeb => "application/grpc-web+proto",
                    _ => "application/grpc-web-text",
                };
                let b = post(UNARY, ct).header("te", "trailers");
                let b = match encoding {
                    Some(e) => b.header("grpc-encoding", e),
                    None => b,
                };
                (b, envelope(flags, payload))
            }
        };
        (builder, self.wrap(body))
    }

    /// gRPC-Web text sends base64.
    fn wrap(self, body: Bytes) -> Bytes {
        match self {
            Protocol::GrpcWebText => STANDARD.encode(&body).into(),
            _ => body,
        }
    }

    /// Checks that `reply` is `resource_exhausted` in this protocol's
    /// shape.
    fn assert_exhausted(self, reply: &Reply, what: &str) {
        match self {
            Protocol::ConnectUnary => {
                assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{what}");
                assert_eq!(reply.json()["code"], "resource_exhausted", "{what}");
            }
            Protocol::ConnectStream => {
                assert_eq!(reply.status, StatusCode::OK, "{what}");
                let end = reply.end_stream();
                assert_eq!(end["error"]["code"], "resource_exhausted", "{what}");
            }
            _ => {
                assert_eq!(reply.status, StatusCode::OK, "{what}");
                assert_eq!(grpc_status(self, reply).as_deref(), Some("8"), "{what}");
            }
        }
    }
}

/// A gRPC-Web text body: base64 chunks, each padded on its own.
fn decode_base64_chunks(text: &[u8]) -> Vec<u8> {
    let (mut bin, mut start, mut end) = (Vec::new(), 0, 0);
    while end < text.len() {
        end = (end + 4).min(text.len());
        if text[end - 1] == b'=' || end == text.len() {
            bin.extend(STANDARD.decode(&text[start..end]).unwrap());
            start = end;
        }
    }
    bin
}

/// The grpc-status of a gRPC or gRPC-Web reply: from the headers
/// (trailers-only), the HTTP trailers, or gRPC-Web's trailer envelope.
fn grpc_status(protocol: Protocol, reply: &Reply) -> Option<String> {
    if let Some(s) = reply.header("grpc-status") {
        return Some(s.to_owned());
    }
    if let Some(s) = reply.trailers.as_ref().and_then(|t| t.get("grpc-status")) {
        return Some(s.to_str().unwrap().to_owned());
    }
    let body = match protocol {
        Protocol::GrpcWebText => Bytes::from(decode_base64_chunks(&reply.body)),
        _ => reply.body.clone(),
    };
    let decoded = Reply {
        status: reply.status,
        headers: reply.headers.clone(),
        body,
        trailers: None,
    };
    let (_, block) = decoded
        .envelopes()
        .into_iter()
        .find(|(f, _)| f & 0x80 != 0)?;
    let text = String::from_utf8(block.to_vec()).unwrap();
    text.split("\r\n")
        .find_map(|l| l.strip_prefix("grpc-status: "))
        .map(str::to_owned)
}

/// Runs `cases` (what, protocol, version, request) against a limited
/// server, each one answered `resource_exhausted`; checks RSS and that
/// an ordinary call still works afterwards.
async fn all_exhausted(
    name: &str,
    cases: Vec<(String, Protocol, Version, http::request::Builder, Bytes)>,
) {
    let _serial = SERIAL.lock().await;
    let server = limited_server().await;
    let before = rss_kib();
    let count = cases.len();
    for (what, protocol, version, builder, body) in cases {
        let reply = call(server.addr, version, builder, body).await;
        protocol.assert_exhausted(&reply, &what);
    }
    let after = rss_kib();
    let growth = after.saturating_sub(before);
    eprintln!("{name}: {count} calls, RSS {before} -> {after} KiB (+{growth})");
    assert!(growth < RSS_BOUND_KIB, "{name}: RSS grew {growth} KiB");
    let ok = call(
        server.addr,
        Version::H2c,
        post(UNARY, "application/proto"),
        encode(&unary_req("still here")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn compression_bombs_are_resource_exhausted_everywhere() {
    let payloads = bombs();
    let mut cases = Vec::new();
    for protocol in Protocol::ALL {
        for &version in protocol.versions() {
            for (encoding, bomb) in payloads {
                let (builder, body) = protocol.request(Some(encoding), bomb);
                let what = format!("{encoding} bomb, {protocol:?} over {version:?}");
                cases.push((what, protocol, version, builder, body));
            }
        }
    }
    all_exhausted("compression bombs", cases).await;
}

#[tokio::test]
async fn oversize_plain_messages_are_resource_exhausted_everywhere() {
    // A valid message four times the limit.
    let big = encode(&unary_req(&"a".repeat(4 * LIMIT)));
    let mut cases = Vec::new();
    for protocol in Protocol::ALL {
        for &version in protocol.versions() {
            let (builder, body) = protocol.request(None, &big);
            let what = format!("oversize message, {protocol:?} over {version:?}");
            cases.push((what, protocol, version, builder, body));
        }
    }
    all_exhausted("oversize messages", cases).await;
}

#[tokio::test]
async fn max_length_prefixes_are_resource_exhausted_everywhere() {
    let mut cases = Vec::new();
    for protocol in Protocol::ALL.into_iter().filter(|p| p.enveloped()) {
        for &version in protocol.versions() {
            // 2^32-1 announced, a few bytes sent.
            let (builder, _) = protocol.request(None, b"");
            let body = protocol.wrap(Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
            let what = format!("length 2^32-1, {protocol:?} over {version:?}");
            cases.push((what, protocol, version, builder, body));
        }
    }
    all_exhausted("2^32-1 prefixes", cases).await;
}

/// A 1 MiB header: refused by hyper before any protocol sees it (431 on
/// HTTP/1.1 over hyper's 400 KiB head buffer; on HTTP/2, h2_abuse.rs
/// sends header lists over the 64 KiB limit).
#[tokio::test]
async fn a_huge_header_is_refused_before_the_protocol() {
    let _serial = SERIAL.lock().await;
    let server = limited_server().await;
    let before = rss_kib();
    let huge = "a".repeat(1 << 20);
    for protocol in Protocol::ALL
        .into_iter()
        .filter(|p| !matches!(p, Protocol::Grpc))
    {
        let (builder, body) = protocol.request(None, &encode(&unary_req("x")));
        let builder = builder.header("x-huge", huge.as_str());
        let reply = call(server.addr, Version::Http1, builder, body).await;
        assert_eq!(
            reply.status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{protocol:?}"
        );
    }
    let growth = rss_kib().saturating_sub(before);
    eprintln!("huge headers: RSS +{growth} KiB");
    assert!(growth < RSS_BOUND_KIB, "RSS grew {growth} KiB");
    let ok = call(
        server.addr,
        Version::Http1,
        post(UNARY, "application/proto"),
        encode(&unary_req("still here")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
}
