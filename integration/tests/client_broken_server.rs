//! The client against servers and proxies that break below the RPC
//! protocol, for Connect, gRPC and gRPC-Web: HTML error pages, a server
//! that accepts and never answers, a body that stalls or stops halfway, a
//! connection closed at once. Each call ends with the code of
//! PROTOCOL-CHECKLIST §6.2, §6.3 and §8.3, and none outlives its deadline.

mod client_support;

use std::time::{Duration, Instant};

use client_support::*;
use connectrpc::{CallOptions, Code};
use integration_tests::proto::test::v1::{ServerStreamRequest, TestServiceClient, UnaryRequest};

const HTML: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

#[tokio::test]
async fn html_error_pages_map_through_the_http_status_table() {
    let table = [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (409, Code::Unknown),
        (415, Code::Unknown),
        (418, Code::Unknown),
        (431, Code::Unknown),
        (500, Code::Unknown),
        (505, Code::Unknown),
    ];
    for proto in PROTOS {
        for (status, code) in table {
            let server = serve(
                Canned::status(status)
                    .header("content-type", "text/html")
                    .header("x-proxy", "envoy")
                    .chunk(HTML),
            )
            .await;
            let case = format!("{proto:?} {status}");
            let client = proto.client(&server);
            let err = unary_err(&client).await;
            assert_code(&case, &err, code);
            assert_eq!(err.headers()["x-proxy"], "envoy", "{case}: headers kept");
            assert_code(&case, &server_stream_err(&client).await, code);
            assert_code(&case, &client_stream(&client).await.unwrap_err(), code);
        }
    }
}

#[tokio::test]
async fn error_pages_whose_body_never_ends_do_not_hang() {
    // A non-RPC error answer is judged by its status: the body (here one
    // that never ends) is not waited for.
    for proto in PROTOS {
        let server = serve(
            Canned::status(502)
                .header("content-type", "text/html")
                .chunk(HTML)
                .tail(Tail::Stall),
        )
        .await;
        let client = proto.client(&server);
        assert_code(
            &format!("{proto:?}"),
            &unary_err(&client).await,
            Code::Unavailable,
        );
        assert_code(
            &format!("{proto:?}"),
            &server_stream_err(&client).await,
            Code::Unavailable,
        );
    }
}

const SHORT: Duration = Duration::from_millis(300);

fn short() -> CallOptions {
    CallOptions::new().timeout(SHORT)
}

/// A unary call with a 300 ms timeout fails with `deadline_exceeded`, not
/// before the timeout. (`bounded` fails a call that hangs: without the
/// deadline it would, as the server never answers.)
async fn assert_unary_deadline(case: &str, client: &TestServiceClient<Channel>) {
    let started = Instant::now();
    let err = bounded(
        case,
        client.unary_with_options(&UnaryRequest::default(), short()),
    )
    .await
    .unwrap_err();
    assert_code(case, &err, Code::DeadlineExceeded);
    let took = started.elapsed();
    assert!(took >= SHORT, "{case}: unary ended after {took:?}");
}

/// A server-stream call with a 300 ms timeout fails with
/// `deadline_exceeded`, not before the timeout.
async fn assert_stream_deadline(case: &str, client: &TestServiceClient<Channel>) {
    let started = Instant::now();
    let err = bounded(case, async {
        let mut s = client
            .server_stream_with_options(&ServerStreamRequest::default(), short())
            .await?;
        while let Some(m) = s.message().await {
            m?;
        }
        Ok::<_, connectrpc::ConnectError>(())
    })
    .await
    .unwrap_err();
    assert_code(case, &err, Code::DeadlineExceeded);
    let took = started.elapsed();
    assert!(took >= SHORT, "{case}: stream ended after {took:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_deadline_exceeded() {
    for proto in PROTOS {
        let server = raw(Raw::Silent).await;
        let client = proto.client(&server);
        assert_unary_deadline(&format!("{proto:?} silent"), &client).await;
        assert_stream_deadline(&format!("{proto:?} silent"), &client).await;
        assert!(server.hits() >= 1, "{proto:?}: the client never connected");
    }
}

#[tokio::test]
async fn a_body_that_stalls_is_deadline_exceeded() {
    for proto in PROTOS {
        // Headers, then half a message, then nothing.
        let case = format!("{proto:?} stalled body");
        let half = env_msg("half").slice(..4);
        if proto == Proto::Connect {
            let bare = serve(
                Canned::ok("application/proto")
                    .chunk(half.clone())
                    .tail(Tail::Stall),
            )
            .await;
            assert_unary_deadline(&case, &proto.client(&bare)).await;
        }
        let server = serve(Canned::ok(proto.stream_ct()).chunk(half).tail(Tail::Stall)).await;
        let client = proto.client(&server);
        if proto != Proto::Connect {
            assert_unary_deadline(&case, &client).await;
        }
        assert_stream_deadline(&case, &client).await;
        // A stream that delivered a message and then stalls: the message
        // arrives, then deadline_exceeded.
        let server = serve(
            Canned::ok(proto.stream_ct())
                .chunk(env_msg("one"))
                .tail(Tail::Stall),
        )
        .await;
        let client = proto.client(&server);
        let started = Instant::now();
        let mut s = bounded(
            "open",
            client.server_stream_with_options(&ServerStreamRequest::default(), short()),
        )
        .await
        .unwrap();
        let first = bounded("first", s.message()).await.unwrap().unwrap();
        assert_eq!(first.text, "one");
        let err = bounded("second", s.message()).await.unwrap().unwrap_err();
        assert_code(
            &format!("{proto:?} stalled stream"),
            &err,
            Code::DeadlineExceeded,
        );
        assert!(started.elapsed() >= SHORT);
    }
}

#[tokio::test]
async fn a_connection_closed_at_once_is_unavailable() {
    for proto in PROTOS {
        let server = raw(Raw::Close).await;
        let client = proto.client(&server);
        let case = format!("{proto:?} closed");
        assert_code(&case, &unary_err(&client).await, Code::Unavailable);
        assert_code(&case, &server_stream_err(&client).await, Code::Unavailable);
    }
}

fn http1_head(ct: &str, extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: {ct}\r\n{extra}\r\n")
}

#[tokio::test]
async fn an_http1_body_that_stops_halfway() {
    // Connect (unary and stream) and gRPC-Web over HTTP/1.1: the server
    // promises more than it sends and closes the connection.
    for (proto, ct, body) in [
        (
            Proto::Connect,
            "application/proto",
            msg("halfway-there").to_vec(),
        ),
        (
            Proto::Connect,
            "application/connect+proto",
            env_msg("halfway-there").to_vec(),
        ),
        (
            Proto::GrpcWeb,
            "application/grpc-web+proto",
            env_msg("halfway-there").to_vec(),
        ),
    ] {
        let cut = &body[..body.len() / 2];
        let framings = [
            // content-length larger than the body: EOF is an error.
            (
                "content-length",
                [
                    http1_head(ct, &format!("content-length: {}\r\n", body.len())).into_bytes(),
                    cut.to_vec(),
                ]
                .concat(),
            ),
            // A chunk that promises more than it holds.
            (
                "chunked",
                [
                    http1_head(ct, "transfer-encoding: chunked\r\n").into_bytes(),
                    format!("{:x}\r\n", body.len()).into_bytes(),
                    cut.to_vec(),
                ]
                .concat(),
            ),
            // No length at all: the body ends with the connection, which
            // is a clean end for HTTP and a truncated envelope for RPC.
            (
                "close-delimited",
                [
                    http1_head(ct, "connection: close\r\n").into_bytes(),
                    cut.to_vec(),
                ]
                .concat(),
            ),
        ];
        for (framing, reply) in framings {
            let server = raw(Raw::Reply(reply.into())).await;
            let client = proto.client(&server);
            let case = format!("{proto:?} {ct} {framing}");
            let err = if ct.starts_with("application/proto") {
                unary_err(&client).await
            } else {
                server_stream_err(&client).await
            };
            let bare_close = framing == "close-delimited" && ct == "application/proto";
            if bare_close {
                // A bare Connect unary body has no length of its own: a
                // close-delimited half body is a (broken) message.
                assert_code(&case, &err, Code::Internal);
            } else {
                assert!(
                    matches!(err.code(), Code::Unavailable | Code::Internal),
                    "{case}: {:?}: {}",
                    err.code(),
                    err.message()
                );
                if framing == "close-delimited" {
                    assert_code(&case, &err, Code::Internal);
                } else {
                    assert_code(&case, &err, Code::Unavailable);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_body_that_breaks_halfway() {
    // hyper aborts the HTTP/1.1 connection or resets the HTTP/2 stream
    // after part of a message.
    for proto in PROTOS {
        let (ct, half) = match proto {
            Proto::Connect => ("application/proto", msg("half way there").slice(..5)),
            p => (p.stream_ct(), env_msg("half way there").slice(..8)),
        };
        let server = serve(Canned::ok(ct).chunk(half).tail(Tail::Abort)).await;
        let client = proto.client(&server);
        let err = unary_err(&client).await;
        assert!(
            matches!(err.code(), Code::Unavailable | Code::Internal),
            "{proto:?} unary: {:?}: {}",
            err.code(),
            err.message()
        );
        // A stream: one whole message, then the break.
        let server = serve(
            Canned::ok(proto.stream_ct())
                .chunk(env_msg("one"))
                .chunk(env_msg("two").slice(..3))
                .tail(Tail::Abort),
        )
        .await;
        let client = proto.client(&server);
        let (messages, end) = server_stream(&client).await;
        assert_eq!(messages.len(), 1, "{proto:?}");
        let err = end.unwrap_err();
        assert!(
            matches!(err.code(), Code::Unavailable | Code::Internal),
            "{proto:?} stream: {:?}: {}",
            err.code(),
            err.message()
        );
    }
}

#[tokio::test]
async fn a_garbage_http1_answer_is_unavailable() {
    for reply in [
        &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
        b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
    ] {
        let server = raw(Raw::Reply(bytes::Bytes::from_static(reply))).await;
        for proto in [Proto::Connect, Proto::GrpcWeb] {
            let err = unary_err(&proto.client(&server)).await;
            assert_code(&format!("{proto:?} {reply:?}"), &err, Code::Unavailable);
        }
    }
}
