//! Connect streaming (server, client, bidi) over real HTTP/1.1 and h2c
//! connections.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use support::*;

const SERVER: &str = "/test.v1.TestService/ServerStream";
const CLIENT: &str = "/test.v1.TestService/ClientStream";
const BIDI: &str = "/test.v1.TestService/Bidi";

fn stream_req(text: &str, count: i32) -> ServerStreamRequest {
    ServerStreamRequest {
        text: text.into(),
        count,
        ..Default::default()
    }
}

#[tokio::test]
async fn server_stream_proto_and_json() {
    let server = start().await;
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/connect+proto"),
            envelope(0, &encode(&stream_req("m", 3))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("content-type"),
            Some("application/connect+proto")
        );
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 4);
        for (i, (flags, data)) in envs[..3].iter().enumerate() {
            assert_eq!(*flags, 0);
            assert_eq!(decode_unary_response(data).text, format!("m{i}"));
        }
        let end = reply.end_stream();
        assert_eq!(
            end["metadata"]["x-stream-trailer"],
            serde_json::json!(["done"])
        );
        assert!(end.get("error").is_none());
        assert!(
            reply.trailers.is_none(),
            "Connect never sends HTTP trailers"
        );

        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/connect+json"),
            envelope(0, br#"{"text":"j","count":2}"#),
        )
        .await;
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 3);
        let first: serde_json::Value = serde_json::from_slice(&envs[0].1).unwrap();
        assert_eq!(first["text"], "j0");
    }
}

#[tokio::test]
async fn server_stream_error_ends_the_stream() {
    let server = start().await;
    for v in VERSIONS {
        let mut req = stream_req("e", 5);
        req.fail_code_after = 2;
        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/connect+proto"),
            envelope(0, &encode(&req)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 3, "two messages then end-stream");
        let end = reply.end_stream();
        assert_eq!(end["error"]["code"], "failed_precondition");
        assert_eq!(end["error"]["details"][0]["type"], "test.v1.UnaryResponse");
        assert_eq!(
            end["metadata"]["x-error-trailer"],
            serde_json::json!(["et"])
        );
        assert_eq!(
            end["metadata"]["x-stream-trailer"],
            serde_json::json!(["done"])
        );
    }
}

#[tokio::test]
async fn client_stream_across_odd_chunk_boundaries() {
    let server = start().await;
    let mut wire = Vec::new();
    for t in ["ab", "cd", "", "ef"] {
        wire.extend_from_slice(&envelope(0, &encode(&unary_req(t))));
    }
    // Chunks of 3 bytes: prefixes and payloads split everywhere.
    let chunks: Vec<Bytes> = wire.chunks(3).map(Bytes::copy_from_slice).collect();
    for v in VERSIONS {
        let mut conn = connect(server.addr, v).await;
        let req = post(CLIENT, "application/connect+proto")
            .body(chunked(chunks.clone()))
            .unwrap();
        let reply = conn.send(req).await;
        assert_eq!(reply.status, StatusCode::OK);
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 2);
        let resp = decode_unary_response(&envs[0].1);
        assert_eq!((resp.text.as_str(), resp.count), ("abcdef", 4));
        assert!(reply.end_stream().get("error").is_none());

        // Zero messages is a valid client stream.
        let reply = call(
            server.addr,
            v,
            post(CLIENT, "application/connect+proto"),
            "",
        )
        .await;
        let resp = decode_unary_response(&reply.envelopes()[0].1);
        assert_eq!(resp.count, 0);
    }
}

#[tokio::test]
async fn bad_envelopes_end_with_protocol_errors() {
    let server = start().await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            vec![0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3],
            "resource_exhausted",
        ),
        (vec![0, 0, 0, 0, 10, 1, 2], "invalid_argument"),
        (envelope(1, b"\x0a\x01a").to_vec(), "internal"),
        (envelope(0x02, b"").to_vec(), "internal"),
    ];
    for v in VERSIONS {
        for (body, code) in &cases {
            let reply = call(
                server.addr,
                v,
                post(CLIENT, "application/connect+proto"),
                body.clone(),
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "streams fail in the end-stream"
            );
            assert_eq!(reply.end_stream()["error"]["code"], *code, "{body:?}");
        }
        // Server-stream requests need exactly one message.
        for body in [Vec::new(), [envelope(0, b""), envelope(0, b"")].concat()] {
            let reply = call(
                server.addr,
                v,
                post(SERVER, "application/connect+proto"),
                body,
            )
            .await;
            assert_eq!(reply.end_stream()["error"]["code"], "unimplemented");
        }
        // Unsupported per-message compression.
        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/connect+proto").header("connect-content-encoding", "snappy"),
            envelope(0, &encode(&stream_req("x", 1))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.end_stream()["error"]["code"], "unimplemented");
        assert_eq!(reply.header("connect-accept-encoding"), Some("gzip,zstd"));
        // A unary content type on a streaming method.
        let reply = call(server.addr, v, post(SERVER, "application/proto"), "").await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[tokio::test]
async fn per_message_compression_both_ways() {
    let server = start().await;
    let msg = encode(&stream_req(&"z".repeat(1100), 2)); // over the 1 KiB threshold
    for v in VERSIONS {
        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/connect+proto")
                .header("connect-content-encoding", "gzip")
                .header("connect-accept-encoding", "gzip"),
            envelope(1, &gzip(&msg)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("connect-content-encoding"), Some("gzip"));
        let envs = reply.envelopes();
        assert_eq!(envs.len(), 3);
        assert_eq!(envs[0].0, 1, "compressed flag set");
        let resp = decode_unary_response(&gunzip(&envs[0].1));
        assert_eq!(resp.text.len(), 1101);
        // The end-stream is never compressed here and stays readable.
        assert_eq!(envs[2].0, 2);
    }
}

#[tokio::test]
async fn streaming_deadline_cuts_the_stream() {
    let server = start().await;
    for v in VERSIONS {
        let mut req = stream_req("d", 50);
        req.delay_ms = 100;
        let reply = call(
            server.addr,
            v,
            post(SERVER, "application/connect+proto").header("connect-timeout-ms", "350"),
            envelope(0, &encode(&req)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let envs = reply.envelopes();
        assert!((2..=5).contains(&envs.len()), "{}", envs.len());
        assert_eq!(reply.end_stream()["error"]["code"], "deadline_exceeded");
    }
}

#[tokio::test]
async fn bidi_full_duplex_over_h2() {
    let server = start().await;
    let mut conn = connect(server.addr, Version::H2c).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let body = http_body_util::StreamBody::new(tokio_stream_from(rx).map_ok_frames());
    let Conn::H2(send) = &mut conn else {
        unreachable!()
    };
    send.ready().await.unwrap();
    let req = post(BIDI, "application/connect+proto")
        .body(BodyExt::boxed(body))
        .unwrap();
    let resp_fut = send.send_request(req);
    tx.send(envelope(0, &encode(&unary_req("one"))))
        .await
        .unwrap();
    let resp = resp_fut.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    // The first answer arrives while the request is still open.
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("no full-duplex answer")
        .unwrap()
        .unwrap();
    let data = frame.into_data().unwrap();
    assert_eq!(decode_unary_response(&data[5..]).text, "ONE");
    tx.send(envelope(0, &encode(&unary_req("two"))))
        .await
        .unwrap();
    let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(decode_unary_response(&frame[5..]).text, "TWO");
    drop(tx);
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest[0], 2, "end-stream last");
}

#[tokio::test]
async fn bidi_half_duplex_over_http1() {
    let server = start().await;
    let mut wire = Vec::new();
    for t in ["a", "b", "c"] {
        wire.extend_from_slice(&envelope(0, &encode(&unary_req(t))));
    }
    let reply = call(
        server.addr,
        Version::Http1,
        post(BIDI, "application/connect+proto"),
        wire,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let envs = reply.envelopes();
    assert_eq!(envs.len(), 4);
    assert_eq!(decode_unary_response(&envs[2].1).text, "C");
}

/// Adapts an mpsc receiver into a stream of body frames.
fn tokio_stream_from(rx: tokio::sync::mpsc::Receiver<Bytes>) -> ReceiverStream {
    ReceiverStream(rx)
}

struct ReceiverStream(tokio::sync::mpsc::Receiver<Bytes>);

impl ReceiverStream {
    fn map_ok_frames(
        self,
    ) -> impl futures_util::Stream<Item = Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>
    {
        futures_util::stream::unfold(self.0, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok(hyper::body::Frame::data(b)), rx))
        })
    }
}
