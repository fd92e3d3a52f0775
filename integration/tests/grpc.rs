//! gRPC and gRPC-Web over real connections: h2c for gRPC, HTTP/1.1 and h2c
//! for gRPC-Web.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use connectrpc::codec::grpc_status;
use http::{HeaderMap, StatusCode};
use support::*;

const UNARY: &str = "/test.v1.TestService/Unary";
const SERVER: &str = "/test.v1.TestService/ServerStream";
const CLIENT: &str = "/test.v1.TestService/ClientStream";

fn grpc(path: &str, ct: &str) -> http::request::Builder {
    post(path, ct).header("te", "trailers")
}

fn trailers(reply: &Reply) -> &HeaderMap {
    reply.trailers.as_ref().expect("no HTTP trailers")
}

/// The status block of a gRPC-Web body's final 0x80 envelope.
fn web_trailers(reply: &Reply) -> HeaderMap {
    let envs = reply.envelopes();
    let (flags, block) = envs.last().expect("no envelopes");
    assert_eq!(*flags, 0x80, "last envelope is not the trailers");
    let text = std::str::from_utf8(block).unwrap();
    assert!(
        text.ends_with("\r\n") && !text.contains("\r\n\r\n"),
        "{text:?}"
    );
    let mut map = HeaderMap::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (k, v) = line.split_once(": ").unwrap();
        assert_eq!(k, k.to_ascii_lowercase());
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    map
}

#[tokio::test]
async fn grpc_unary_proto_and_json() {
    let server = start().await;
    for ct in ["application/grpc", "application/grpc+proto"] {
        let reply = call(
            server.addr,
            Version::H2c,
            grpc(UNARY, ct),
            envelope(0, &encode(&unary_req("hi"))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("content-type"),
            Some(ct),
            "the spelling is echoed"
        );
        assert_eq!(reply.header("x-echo"), Some("unary"));
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 1);
        assert_eq!(decode_unary_response(&envs[0].1).text, "hi");
        let t = trailers(&reply);
        assert_eq!(t["grpc-status"], "0");
        assert!(t.get("grpc-message").is_none());
        let values: Vec<_> = t.get_all("x-trailer").iter().collect();
        assert_eq!(values, ["t1", "t2"]);
    }
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(UNARY, "application/grpc+json"),
        envelope(0, br#"{"text":"js"}"#),
    )
    .await;
    assert_eq!(reply.header("content-type"), Some("application/grpc+json"));
    let body: serde_json::Value = serde_json::from_slice(&reply.envelopes()[0].1).unwrap();
    assert_eq!(body["text"], "js");
    // No `te: trailers`: served anyway.
    let reply = call(
        server.addr,
        Version::H2c,
        post(UNARY, "application/grpc"),
        envelope(0, &encode(&unary_req("no te"))),
    )
    .await;
    assert_eq!(trailers(&reply)["grpc-status"], "0");
}

#[tokio::test]
async fn grpc_errors_are_trailers_only_with_details() {
    let server = start().await;
    let mut req = unary_req("boom ☺\n100%");
    req.fail_code = 5;
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(UNARY, "application/grpc"),
        envelope(0, &encode(&req)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
    assert!(reply.trailers.is_none(), "trailers-only: one HEADERS frame");
    assert_eq!(reply.header("grpc-status"), Some("5"));
    assert_eq!(
        reply.header("grpc-message"),
        Some("failed: boom %E2%98%BA%0A100%25")
    );
    assert_eq!(reply.header("x-error-header"), Some("eh"));
    assert_eq!(reply.header("x-error-trailer"), Some("et"));
    assert_eq!(reply.header("content-type"), Some("application/grpc"));
    let raw = connectrpc::metadata::decode_binary_value(
        reply.headers["grpc-status-details-bin"].as_bytes(),
    )
    .unwrap();
    let status = grpc_status::decode_status(&raw).unwrap();
    assert_eq!(status.code(), connectrpc::Code::NotFound);
    assert_eq!(status.message(), "failed: boom ☺\n100%");
    assert_eq!(status.details()[0].type_name(), "test.v1.UnaryResponse");
    assert!(grpc_status::parse_status(&reply.headers).is_err());
}

#[tokio::test]
async fn grpc_streams_end_with_status_trailers() {
    let server = start().await;
    let msg = ServerStreamRequest {
        text: "s".into(),
        count: 3,
        ..Default::default()
    };
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(SERVER, "application/grpc"),
        envelope(0, &encode(&msg)),
    )
    .await;
    assert_eq!(reply.envelopes().len(), 3);
    assert_eq!(trailers(&reply)["grpc-status"], "0");
    assert_eq!(trailers(&reply)["x-stream-trailer"], "done");

    let msg = ServerStreamRequest {
        text: "s".into(),
        count: 5,
        fail_code_after: 2,
        ..Default::default()
    };
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(SERVER, "application/grpc"),
        envelope(0, &encode(&msg)),
    )
    .await;
    assert_eq!(reply.envelopes().len(), 2);
    let t = trailers(&reply);
    assert_eq!(t["grpc-status"], "9");
    assert_eq!(t["x-error-trailer"], "et");
    assert!(t.get("grpc-status-details-bin").is_some());

    let mut wire = Vec::new();
    for t in ["a", "b"] {
        wire.extend_from_slice(&envelope(0, &encode(&unary_req(t))));
    }
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(CLIENT, "application/grpc"),
        wire,
    )
    .await;
    assert_eq!(decode_unary_response(&reply.envelopes()[0].1).text, "ab");
    assert_eq!(trailers(&reply)["grpc-status"], "0");
}

#[tokio::test]
async fn grpc_timeouts_and_compression() {
    let server = start().await;
    let slow = UnaryRequest {
        delay_ms: 5000,
        ..Default::default()
    };
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(UNARY, "application/grpc").header("grpc-timeout", "100m"),
        envelope(0, &encode(&slow)),
    )
    .await;
    assert_eq!(reply.header("grpc-status"), Some("4"));
    for bad in ["abc", "123456789S", "10x", "-1m"] {
        let reply = call(
            server.addr,
            Version::H2c,
            grpc(UNARY, "application/grpc").header("grpc-timeout", bad),
            envelope(0, &encode(&unary_req("x"))),
        )
        .await;
        assert_eq!(reply.header("grpc-status"), Some("3"), "{bad}");
    }
    // Per-message gzip both ways (an answer over the 1 KiB threshold).
    let body = encode(&unary_req(&"g".repeat(1100)));
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(UNARY, "application/grpc")
            .header("grpc-encoding", "gzip")
            .header("grpc-accept-encoding", "gzip"),
        envelope(1, &gzip(&body)),
    )
    .await;
    assert_eq!(reply.header("grpc-encoding"), Some("gzip"));
    let envs = reply.envelopes();
    assert_eq!(envs[0].0, 1);
    assert_eq!(decode_unary_response(&gunzip(&envs[0].1)).text.len(), 1100);
    // Unknown encoding: unimplemented, naming what is supported.
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(UNARY, "application/grpc").header("grpc-encoding", "snappy"),
        envelope(1, b"xx"),
    )
    .await;
    assert_eq!(reply.header("grpc-status"), Some("12"));
    assert_eq!(reply.header("grpc-accept-encoding"), Some("gzip,zstd"));
}

#[tokio::test]
async fn grpc_refusals() {
    let server = start().await;
    let reply = call(
        server.addr,
        Version::Http1,
        grpc(UNARY, "application/grpc"),
        envelope(0, &encode(&unary_req("x"))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    assert_eq!(reply.header("grpc-status"), Some("12"));
    let reply = call(
        server.addr,
        Version::H2c,
        grpc(UNARY, "application/grpc+xml"),
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = call(
        server.addr,
        Version::H2c,
        grpc("/test.v1.TestService/Missing", "application/grpc"),
        envelope(0, b""),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("grpc-status"), Some("12"));
    // A truncated envelope and a 2^32-1 length.
    for body in [vec![0, 0, 0, 0, 9, 1], vec![0, 0xff, 0xff, 0xff, 0xff]] {
        let reply = call(
            server.addr,
            Version::H2c,
            grpc(UNARY, "application/grpc"),
            body,
        )
        .await;
        assert!(matches!(reply.header("grpc-status"), Some("3" | "8")));
    }
}

#[tokio::test]
async fn grpc_web_binary_over_both_versions() {
    let server = start().await;
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/grpc-web+proto").header("x-grpc-web", "1"),
            envelope(0, &encode(&unary_req("web"))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("content-type"),
            Some("application/grpc-web+proto")
        );
        assert!(
            reply.trailers.is_none(),
            "gRPC-Web never uses HTTP trailers"
        );
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 2);
        assert_eq!(decode_unary_response(&envs[0].1).text, "web");
        let t = web_trailers(&reply);
        assert_eq!(t["grpc-status"], "0");
        assert_eq!(t.get_all("x-trailer").iter().count(), 2);

        let mut req = unary_req("bad\r\n");
        req.fail_code = 7;
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/grpc-web"),
            envelope(0, &encode(&req)),
        )
        .await;
        assert_eq!(reply.header("content-type"), Some("application/grpc-web"));
        let t = web_trailers(&reply);
        assert_eq!(t["grpc-status"], "7");
        assert_eq!(t["grpc-message"], "failed: bad%0D%0A");
        assert_eq!(reply.envelopes().len(), 1);

        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/grpc-web+json"),
            envelope(
                0,
                &serde_json::to_vec(&serde_json::json!({"text":"w","count":2})).unwrap(),
            ),
        )
        .await;
        assert_eq!(reply.envelopes().len(), 3);
        assert_eq!(web_trailers(&reply)["x-stream-trailer"], "done");
    }
}

#[tokio::test]
async fn grpc_web_text_mode() {
    let server = start().await;
    for v in VERSIONS {
        let body = STANDARD.encode(envelope(0, &encode(&unary_req("texty"))));
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/grpc-web-text"),
            body,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("content-type"),
            Some("application/grpc-web-text+proto")
        );
        // The response is base64 chunks, each padded; decode chunk-wise.
        let text = std::str::from_utf8(&reply.body).unwrap();
        let mut bin = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            // Take whole 4-char groups up to and including any padding.
            let mut end = 0;
            let bytes = rest.as_bytes();
            while end < bytes.len() {
                end += 4;
                if bytes[end - 1] == b'=' {
                    break;
                }
            }
            bin.extend(STANDARD.decode(&rest[..end]).unwrap());
            rest = &rest[end..];
        }
        let decoded = Reply {
            status: reply.status,
            headers: reply.headers.clone(),
            body: bin.into(),
            trailers: None,
        };
        assert_eq!(
            decode_unary_response(&decoded.envelopes()[0].1).text,
            "texty"
        );
        assert_eq!(web_trailers(&decoded)["grpc-status"], "0");

        // A text body that is not base64.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/grpc-web-text"),
            "%%%%not base64",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let raw = STANDARD.decode(&reply.body[..]).unwrap();
        let decoded = Reply {
            status: reply.status,
            headers: reply.headers.clone(),
            body: raw.into(),
            trailers: None,
        };
        assert_eq!(web_trailers(&decoded)["grpc-status"], "3");
    }
}
