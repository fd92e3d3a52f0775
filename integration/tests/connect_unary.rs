//! Connect unary POST and GET, over real HTTP/1.1 and h2c connections.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use http::{Request, StatusCode};
use support::*;

const UNARY: &str = "/test.v1.TestService/Unary";

#[tokio::test]
async fn proto_round_trip_with_headers_and_trailers() {
    let server = start().await;
    for v in VERSIONS {
        let mut req = unary_req("hello");
        req.payload = vec![1, 2, 3];
        req.labels.insert("a".into(), "b".into());
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("connect-protocol-version", "1"),
            encode(&req),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(reply.header("content-type"), Some("application/proto"));
        assert_eq!(reply.header("x-echo"), Some("unary"));
        let trailers: Vec<_> = reply.headers.get_all("trailer-x-trailer").iter().collect();
        assert_eq!(trailers, ["t1", "t2"]);
        let resp = decode_unary_response(&reply.body);
        assert_eq!((resp.text.as_str(), resp.count), ("hello", 1));
        assert_eq!(resp.payload, vec![1, 2, 3]);
    }
}

#[tokio::test]
async fn json_round_trip_with_charset() {
    let server = start().await;
    for v in VERSIONS {
        for ct in ["application/json", "application/json; charset=utf-8"] {
            let reply = call(
                server.addr,
                v,
                post(UNARY, ct),
                r#"{"text":"hi","payload":"AQI=","unknownField":1}"#,
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{v:?} {ct}");
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(reply.json()["text"], "hi");
            assert_eq!(reply.json()["payload"], "AQI=");
        }
    }
}

#[tokio::test]
async fn gzip_and_zstd_bodies_both_ways() {
    let server = start().await;
    let body = encode(&unary_req(&"x".repeat(2000)));
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto")
                .header("content-encoding", "gzip")
                .header("accept-encoding", "gzip"),
            gzip(&body),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-encoding"), Some("gzip"));
        let resp = decode_unary_response(&gunzip(&reply.body));
        assert_eq!(resp.text.len(), 2000);

        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto")
                .header("content-encoding", "zstd")
                .header("accept-encoding", "br, zstd"),
            zstd::encode_all(&body[..], 3).unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-encoding"), Some("zstd"));
        let resp = decode_unary_response(&zstd::decode_all(&reply.body[..]).unwrap());
        assert_eq!(resp.text.len(), 2000);

        // Without accept-encoding, an identity request gets an identity answer.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto"),
            body.clone(),
        )
        .await;
        assert_eq!(reply.header("content-encoding"), None);
        assert_eq!(reply.header("accept-encoding"), Some("gzip,zstd"));
    }
}

#[tokio::test]
async fn errors_have_the_connect_shape() {
    let server = start().await;
    for v in VERSIONS {
        let mut req = unary_req("boom");
        req.fail_code = 5;
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto"),
            encode(&req),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.header("x-error-header"), Some("eh"));
        assert_eq!(reply.header("trailer-x-error-trailer"), Some("et"));
        let json = reply.json();
        assert_eq!(json["code"], "not_found");
        assert_eq!(json["message"], "failed: boom");
        assert_eq!(json["details"][0]["type"], "test.v1.UnaryResponse");
        assert_eq!(
            json["details"][0]["value"],
            STANDARD_NO_PAD.encode([10, 1, b'd'])
        );
    }
}

#[tokio::test]
async fn protocol_errors() {
    let server = start().await;
    let good = encode(&unary_req("ok"));
    for v in VERSIONS {
        // Unsupported content type: plain 415 with the accepted list.
        let reply = call(server.addr, v, post(UNARY, "text/xml"), good.clone()).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            reply
                .header("accept-post")
                .unwrap()
                .contains("application/proto")
        );
        // Streaming content type for a unary method.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/connect+proto"),
            good.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // Unknown path: 404 unimplemented.
        let reply = call(
            server.addr,
            v,
            post("/test.v1.TestService/Nope", "application/proto"),
            good.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.json()["code"], "unimplemented");
        // Unsupported compression: 501 unimplemented, naming what is supported.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("content-encoding", "br"),
            good.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(reply.json()["code"], "unimplemented");
        assert!(reply.json()["message"].as_str().unwrap().contains("gzip"));
        assert_eq!(reply.header("accept-encoding"), Some("gzip,zstd"));
        // Bad protocol version.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("connect-protocol-version", "2"),
            good.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["code"], "invalid_argument");
        // Malformed timeout.
        for bad in ["-1", "abc", "12345678901"] {
            let reply = call(
                server.addr,
                v,
                post(UNARY, "application/proto").header("connect-timeout-ms", bad),
                good.clone(),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(reply.json()["code"], "invalid_argument");
        }
        // PUT is not a Connect method.
        let reply = call(
            server.addr,
            v,
            Request::put(format!("http://127.0.0.1{UNARY}"))
                .header("content-type", "application/proto"),
            good.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test]
async fn malformed_messages_are_invalid_argument() {
    let server = start().await;
    let cases: [(&str, &[u8]); 5] = [
        ("application/proto", b"\x0a\xff\xff\xff\xff\x0f"),
        ("application/proto", b"\x0a\x05ab"),
        ("application/json", b"{\"text\": \"\xc3\x28\"}"),
        ("application/json", b"{\"text\": "),
        ("application/json", b""),
    ];
    for v in VERSIONS {
        for (ct, body) in cases {
            let reply = call(server.addr, v, post(UNARY, ct), body.to_vec()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{ct} {body:?}");
            assert_eq!(reply.json()["code"], "invalid_argument");
        }
        // An empty proto body is the default message.
        let reply = call(server.addr, v, post(UNARY, "application/proto"), "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(decode_unary_response(&reply.body).text, "");
        // A corrupt gzip body.
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("content-encoding", "gzip"),
            "not gzip",
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn limits_apply_on_the_wire_and_after_decompression() {
    use integration_tests::proto::test::v1::TestServiceExt;
    use std::sync::Arc;
    let router = Arc::new(Impl).register(
        connectrpc::Router::new().with_config(connectrpc::ConnectLayer::new().read_max_bytes(1024)),
    );
    let server = start_with(router).await;
    for v in VERSIONS {
        let exact = encode(&UnaryRequest {
            text: "a".repeat(1021),
            ..Default::default()
        });
        assert_eq!(exact.len(), 1024);
        let reply = call(server.addr, v, post(UNARY, "application/proto"), exact).await;
        assert_eq!(reply.status, StatusCode::OK);
        let over = encode(&unary_req(&"a".repeat(1022)));
        let reply = call(server.addr, v, post(UNARY, "application/proto"), over).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{v:?}");
        assert_eq!(reply.json()["code"], "resource_exhausted");
        // Small on the wire, over the limit once decompressed.
        let packed = gzip(&encode(&unary_req(&"a".repeat(4000))));
        assert!(packed.len() < 1024);
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("content-encoding", "gzip"),
            packed,
        )
        .await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.json()["code"], "resource_exhausted");
    }
}

#[tokio::test]
async fn gzip_bomb_inside_the_wire_limit_is_resource_exhausted() {
    let server = start().await; // 4 MiB limit
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 4 << 20);
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("content-encoding", "gzip"),
            bomb.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.json()["code"], "resource_exhausted");
    }
}

#[tokio::test]
async fn deadlines_are_visible_and_enforced() {
    let server = start().await;
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("connect-timeout-ms", "5000"),
            encode(&unary_req("deadline?")),
        )
        .await;
        let text = decode_unary_response(&reply.body).text;
        assert!(text == "Some(4)" || text == "Some(5)", "{text}");
        let reply = call(
            server.addr,
            v,
            post(UNARY, "application/proto").header("connect-timeout-ms", "100"),
            encode(&UnaryRequest {
                delay_ms: 5000,
                ..Default::default()
            }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(reply.json()["code"], "deadline_exceeded");
    }
}

fn get(path: &str, query: &str) -> http::request::Builder {
    Request::get(format!("http://127.0.0.1{path}?{query}"))
}

#[tokio::test]
async fn get_requests() {
    let server = start().await;
    let proto = URL_SAFE_NO_PAD.encode(encode(&unary_req("via get")));
    // Over the server's 1 KiB compression threshold, so the answer is
    // compressed; it gzips to a short query.
    let zipped = "zipped".repeat(200);
    let gz = URL_SAFE_NO_PAD.encode(gzip(&encode(&unary_req(&zipped))));
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            get(
                UNARY,
                "encoding=json&message=%7B%22text%22%3A%22hi+there%22%7D&connect=v1",
            ),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.json()["text"], "hi there");

        let q = format!("connect=v1&base64=1&encoding=proto&message={proto}");
        let reply = call(server.addr, v, get(UNARY, &q), "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(decode_unary_response(&reply.body).text, "via get");

        let q = format!("base64=1&compression=gzip&encoding=proto&message={gz}");
        let reply = call(server.addr, v, get(UNARY, &q), "").await;
        assert_eq!(reply.status, StatusCode::OK);
        // No accept-encoding: the client is assumed to accept what it sent.
        assert_eq!(reply.header("content-encoding"), Some("gzip"));
        assert_eq!(decode_unary_response(&gunzip(&reply.body)).text, zipped);

        // Bogus base64.
        let reply = call(
            server.addr,
            v,
            get(UNARY, "base64=1&encoding=proto&message=@@@"),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["code"], "invalid_argument");
        // Missing message.
        let reply = call(server.addr, v, get(UNARY, "encoding=proto"), "").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        // Missing or unknown encoding.
        let reply = call(server.addr, v, get(UNARY, "message=x"), "").await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let reply = call(server.addr, v, get(UNARY, "encoding=xml&message=x"), "").await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // Unsupported compression.
        let q = format!("base64=1&compression=br&encoding=proto&message={proto}");
        let reply = call(server.addr, v, get(UNARY, &q), "").await;
        assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED);
        // A method without NO_SIDE_EFFECTS refuses GET.
        let q = format!("base64=1&encoding=proto&message={proto}");
        let reply = call(
            server.addr,
            v,
            get("/test.v1.TestService/NotGettable", &q),
            "",
        )
        .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), Some("POST"));
    }
}

#[tokio::test]
async fn connection_stays_usable_after_bad_requests() {
    let server = start().await;
    for v in VERSIONS {
        let mut conn = connect(server.addr, v).await;
        let bad: Vec<(http::request::Builder, Vec<u8>)> = vec![
            (post(UNARY, "application/proto"), b"\x0a\xff".to_vec()),
            (post(UNARY, "text/plain"), b"x".to_vec()),
            (
                post(UNARY, "application/proto").header("content-encoding", "gzip"),
                b"zz".to_vec(),
            ),
            (post("/nope", "application/proto"), vec![]),
            (get(UNARY, "base64=1&encoding=proto&message=!!"), vec![]),
            (post(UNARY, "application/proto"), vec![0xff; 5000]),
        ];
        for (builder, body) in bad {
            let reply = conn.send(builder.body(full(body)).unwrap()).await;
            assert_ne!(reply.status, StatusCode::OK);
        }
        let reply = conn
            .send(
                post(UNARY, "application/proto")
                    .body(full(encode(&unary_req("still here"))))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{v:?}");
        assert_eq!(decode_unary_response(&reply.body).text, "still here");
    }
}

#[tokio::test]
async fn well_known_types_resolve() {
    let server = start().await;
    let reply = call(
        server.addr,
        Version::H2c,
        post("/test.v1.TestService/Ping", "application/json"),
        "{}",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), serde_json::json!({}));
}
