//! The client against broken gRPC (h2c) and gRPC-Web (HTTP/1.1) servers:
//! missing and garbage statuses, trailers-only answers, trailer frames in
//! any case, broken envelopes and bombs, each a `ConnectError` with the
//! code PROTOCOL-CHECKLIST §4.3, §5.3, §7.4 and §9 prescribe.

mod client_support;

use base64::Engine as _;
use client_support::*;
use connectrpc::{CallOptions, Code};

const GRPC: &str = "application/grpc";
const WEB: &str = "application/grpc-web+proto";

// ===== gRPC =====

fn grpc(server: &BrokenServer) -> integration_tests::proto::test::v1::TestServiceClient<Channel> {
    Proto::Grpc.client(server)
}

#[tokio::test]
async fn grpc_status_in_trailers() {
    let server = serve(
        Canned::ok(GRPC)
            .header("x-lead", "l")
            .chunk(env_msg("m"))
            .trailer("grpc-status", "0")
            .trailer("x-trail", "t"),
    )
    .await;
    let resp = bounded("ok", grpc(&server).unary(&Default::default()))
        .await
        .unwrap();
    assert_eq!(resp.message().text, "m");
    assert_eq!(resp.headers()["x-lead"], "l");
    assert_eq!(resp.trailers()["x-trail"], "t");
    assert!(resp.trailers().get("grpc-status").is_none());
}

#[tokio::test]
async fn grpc_missing_status() {
    // Trailers without grpc-status: unknown.
    let server = serve(Canned::ok(GRPC).chunk(env_msg("m")).trailer("x-trail", "t")).await;
    let err = unary_err(&grpc(&server)).await;
    assert_code("trailers without status", &err, Code::Unknown);
    assert_eq!(err.trailers()["x-trail"], "t");
    let (messages, end) = server_stream(&grpc(&server)).await;
    assert_eq!(messages.len(), 1);
    assert_code(
        "stream: trailers without status",
        &end.unwrap_err(),
        Code::Unknown,
    );

    // A body and no trailers at all (a trailer-stripping proxy): internal,
    // never success.
    let server = serve(Canned::ok(GRPC).chunk(env_msg("m"))).await;
    assert_code(
        "no trailers",
        &unary_err(&grpc(&server)).await,
        Code::Internal,
    );
    let (messages, end) = server_stream(&grpc(&server)).await;
    assert_eq!(messages.len(), 1);
    assert_code("stream: no trailers", &end.unwrap_err(), Code::Internal);

    // Trailers-only without grpc-status: unknown.
    let server = serve(Canned::ok(GRPC).header("x-a", "1")).await;
    assert_code(
        "trailers-only without status",
        &unary_err(&grpc(&server)).await,
        Code::Unknown,
    );
    assert_code(
        "stream: trailers-only without status",
        &server_stream_err(&grpc(&server)).await,
        Code::Unknown,
    );
}

#[tokio::test]
async fn grpc_garbage_status_is_unknown() {
    for status in ["abc", "99", "-1", "1.0", "", "0x0", " 1 2"] {
        let mut canned = Canned::ok(GRPC).chunk(env_msg("m"));
        canned.trailers.get_or_insert_with(Default::default).insert(
            "grpc-status",
            http::HeaderValue::from_bytes(status.as_bytes()).unwrap(),
        );
        canned = canned.trailer("grpc-message", "garbage");
        let server = serve(canned).await;
        let err = unary_err(&grpc(&server)).await;
        assert_code(status, &err, Code::Unknown);
        let err = server_stream_err(&grpc(&server)).await;
        assert_code(status, &err, Code::Unknown);
    }
}

#[tokio::test]
async fn grpc_trailers_only_errors() {
    let server = serve(
        Canned::ok(GRPC)
            .header("grpc-status", "7")
            .header("grpc-message", "no%20way %E2%98%BA %zz")
            .header("x-meta", "m"),
    )
    .await;
    for err in [
        unary_err(&grpc(&server)).await,
        server_stream_err(&grpc(&server)).await,
        client_stream(&grpc(&server)).await.unwrap_err(),
    ] {
        assert_code("trailers-only", &err, Code::PermissionDenied);
        // Broken %-escapes are kept, never fatal.
        assert_eq!(err.message(), "no way ☺ %zz");
        assert_eq!(err.trailers()["x-meta"], "m");
        assert!(err.trailers().get("grpc-status").is_none());
    }
    // Without a content type (allowed for trailers-only).
    let server = serve(Canned::status(200).header("grpc-status", "5")).await;
    assert_code(
        "trailers-only, no content type",
        &unary_err(&grpc(&server)).await,
        Code::NotFound,
    );
    // Trailers-only success of a unary call: no message.
    let server = serve(Canned::ok(GRPC).header("grpc-status", "0")).await;
    assert_code(
        "trailers-only OK",
        &unary_err(&grpc(&server)).await,
        Code::Unimplemented,
    );
    let (messages, end) = server_stream(&grpc(&server)).await;
    assert!(
        messages.is_empty() && end.is_ok(),
        "no messages is a fine server stream"
    );
}

#[tokio::test]
async fn grpc_header_status_is_ignored_when_the_body_or_trailers_are_there() {
    // Trailers present: they win.
    let server = serve(
        Canned::ok(GRPC)
            .header("grpc-status", "8")
            .chunk(env_msg("m"))
            .trailer("grpc-status", "9"),
    )
    .await;
    assert_code(
        "trailer wins",
        &unary_err(&grpc(&server)).await,
        Code::FailedPrecondition,
    );
    // A body and no trailers: the header status is not the answer.
    let server = serve(
        Canned::ok(GRPC)
            .header("grpc-status", "9")
            .chunk(env_msg("m")),
    )
    .await;
    assert_code(
        "body, no trailers",
        &unary_err(&grpc(&server)).await,
        Code::Internal,
    );
}

#[tokio::test]
async fn grpc_status_details() {
    // google.rpc.Status{code: 5, message: "deep", details: [Any{type_url, value}]}
    let any = [
        &[0x0a, 29][..],
        b"type.googleapis.com/x.y.Extra",
        &[0x12, 2, 0x08, 0x01],
    ]
    .concat();
    let status = [
        &[0x08, 5, 0x12, 4][..],
        b"deep",
        &[0x1a, any.len() as u8],
        &any,
    ]
    .concat();
    let bin = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&status);
    let server = serve(
        Canned::ok(GRPC)
            .trailer("grpc-status", "5")
            .trailer("grpc-message", "shallow")
            .trailer("grpc-status-details-bin", &bin),
    )
    .await;
    let err = unary_err(&grpc(&server)).await;
    assert_code("details", &err, Code::NotFound);
    assert_eq!(err.message(), "deep");
    assert_eq!(err.details().len(), 1);
    assert_eq!(err.details()[0].type_name(), "x.y.Extra");
    assert_eq!(&err.details()[0].value()[..], [0x08, 0x01]);
    // Undecodable details: the plain fields stand.
    let server = serve(
        Canned::ok(GRPC)
            .trailer("grpc-status", "5")
            .trailer("grpc-message", "shallow")
            .trailer("grpc-status-details-bin", "!!notbase64"),
    )
    .await;
    let err = unary_err(&grpc(&server)).await;
    assert_code("bad details", &err, Code::NotFound);
    assert_eq!(err.message(), "shallow");
}

#[tokio::test]
async fn grpc_content_type_checks() {
    let cases = [
        ("image/jpeg", Some("image/jpeg"), Code::Unknown),
        ("wrong codec", Some("application/grpc+json"), Code::Internal),
        ("grpc-web", Some("application/grpc-web"), Code::Unknown),
        ("missing", None, Code::Unknown),
    ];
    for (case, ct, code) in cases {
        let mut canned = Canned::status(200)
            .chunk(env_msg("m"))
            .trailer("grpc-status", "0");
        if let Some(ct) = ct {
            canned = canned.header("content-type", ct);
        }
        let server = serve(canned).await;
        assert_code(case, &unary_err(&grpc(&server)).await, code);
        assert_code(case, &server_stream_err(&grpc(&server)).await, code);
    }
    for ct in ["application/grpc+proto", "Application/GRPC"] {
        let server = serve(
            Canned::ok(ct)
                .chunk(env_msg("m"))
                .trailer("grpc-status", "0"),
        )
        .await;
        assert_eq!(unary(&grpc(&server)).await.unwrap().text, "m", "{ct}");
    }
}

#[tokio::test]
async fn grpc_truncated_envelopes_are_internal() {
    let full = env_msg("m");
    for (case, cut) in [
        ("prefix cut", full.slice(..2)),
        ("payload cut", full.slice(..full.len() - 2)),
    ] {
        // Cut, then trailers.
        let server = serve(
            Canned::ok(GRPC)
                .chunk(cut.clone())
                .trailer("grpc-status", "0"),
        )
        .await;
        assert_code(case, &unary_err(&grpc(&server)).await, Code::Internal);
        // Cut, then the end of the stream.
        let server = serve(Canned::ok(GRPC).chunk(env_msg("first")).chunk(cut)).await;
        let (messages, end) = server_stream(&grpc(&server)).await;
        assert_eq!(messages.len(), 1, "{case}");
        assert_code(case, &end.unwrap_err(), Code::Internal);
    }
}

#[tokio::test]
async fn grpc_length_of_u32_max_is_resource_exhausted() {
    let server = serve(
        Canned::ok(GRPC)
            .chunk(vec![0, 0xff, 0xff, 0xff, 0xff])
            .tail(Tail::Stall),
    )
    .await;
    assert_code(
        "unary",
        &unary_err(&grpc(&server)).await,
        Code::ResourceExhausted,
    );
    assert_code(
        "stream",
        &server_stream_err(&grpc(&server)).await,
        Code::ResourceExhausted,
    );
    // Just over a small limit: the same.
    let server = serve(
        Canned::ok(GRPC)
            .chunk(env(0, &[0u8; 101]))
            .tail(Tail::Stall),
    )
    .await;
    let err = bounded(
        "limit",
        grpc(&server)
            .unary_with_options(&Default::default(), CallOptions::new().read_max_bytes(100)),
    )
    .await
    .unwrap_err();
    assert_code("over limit", &err, Code::ResourceExhausted);
}

#[tokio::test]
async fn grpc_unary_cardinality_is_unimplemented() {
    let server = serve(
        Canned::ok(GRPC)
            .chunk(env_msg("a"))
            .chunk(env_msg("b"))
            .trailer("grpc-status", "0"),
    )
    .await;
    assert_code(
        "two messages",
        &unary_err(&grpc(&server)).await,
        Code::Unimplemented,
    );
    assert_code(
        "two messages, client stream",
        &client_stream(&grpc(&server)).await.unwrap_err(),
        Code::Unimplemented,
    );
    let server = serve(Canned::ok(GRPC).trailer("grpc-status", "0")).await;
    assert_code(
        "zero messages",
        &unary_err(&grpc(&server)).await,
        Code::Unimplemented,
    );
}

#[tokio::test]
async fn grpc_compression_failures() {
    let bomb = gzip_bomb(8 << 20);
    let server = serve(
        Canned::ok(GRPC)
            .header("grpc-encoding", "gzip")
            .chunk(env(1, &bomb))
            .trailer("grpc-status", "0"),
    )
    .await;
    assert_code(
        "bomb",
        &unary_err(&grpc(&server)).await,
        Code::ResourceExhausted,
    );
    assert_code(
        "stream bomb",
        &server_stream_err(&grpc(&server)).await,
        Code::ResourceExhausted,
    );

    let cases = [
        ("unknown encoding", Some("snappy"), env(1, b"xx")),
        (
            "compressed without encoding",
            None,
            env(1, &gzip(&msg("x"))),
        ),
        (
            "identity but compressed",
            Some("identity"),
            env(1, &gzip(&msg("x"))),
        ),
        (
            "corrupt gzip",
            Some("gzip"),
            env(1, b"\x1f\x8b\x08\x00junk"),
        ),
    ];
    for (case, encoding, first) in cases {
        let mut canned = Canned::ok(GRPC).chunk(first).trailer("grpc-status", "0");
        if let Some(e) = encoding {
            canned = canned.header("grpc-encoding", e);
        }
        let server = serve(canned).await;
        assert_code(case, &unary_err(&grpc(&server)).await, Code::Internal);
    }
    // An unknown encoding on a trailers-only error does not hide the status.
    let server = serve(
        Canned::ok(GRPC)
            .header("grpc-encoding", "snappy")
            .header("grpc-status", "14"),
    )
    .await;
    let err = unary_err(&grpc(&server)).await;
    assert!(
        matches!(err.code(), Code::Unavailable | Code::Internal),
        "{err:?}"
    );
}

#[tokio::test]
async fn grpc_invalid_envelope_flags_are_internal() {
    for flags in [0x02, 0x80, 0x81, 0x04] {
        let server = serve(
            Canned::ok(GRPC)
                .chunk(env(flags, &msg("x")))
                .trailer("grpc-status", "0"),
        )
        .await;
        assert_code(
            &format!("flags {flags:#x}"),
            &unary_err(&grpc(&server)).await,
            Code::Internal,
        );
    }
}

// ===== gRPC-Web =====

fn web(server: &BrokenServer) -> integration_tests::proto::test::v1::TestServiceClient<Channel> {
    Proto::GrpcWeb.client(server)
}

#[tokio::test]
async fn web_trailer_frame_with_mixed_case_keys() {
    let server = serve(Canned::ok(WEB).chunk(env_msg("m")).chunk(web_trailers(
        "Grpc-Status: 3\r\ngRPC-Message: bad%20thing\r\nx-Custom-Trailer: bing\r\nX-CUSTOM-TRAILER:  quux \r\n",
    )))
    .await;
    let err = unary_err(&web(&server)).await;
    assert_code("mixed case", &err, Code::InvalidArgument);
    assert_eq!(err.message(), "bad thing");
    let values: Vec<_> = err.trailers().get_all("x-custom-trailer").iter().collect();
    assert_eq!(values, ["bing", "quux"]);

    // Success, with bare LF line ends and no final line end.
    let server = serve(
        Canned::ok(WEB)
            .chunk(env_msg("m"))
            .chunk(web_trailers("GRPC-STATUS:0\nX-T: v")),
    )
    .await;
    let resp = bounded("ok", web(&server).unary(&Default::default()))
        .await
        .unwrap();
    assert_eq!(resp.message().text, "m");
    assert_eq!(resp.trailers()["x-t"], "v");
}

#[tokio::test]
async fn web_missing_and_garbage_status() {
    let cases = [
        ("no grpc-status", web_trailers("x-a: 1\r\n"), Code::Unknown),
        ("empty trailer frame", web_trailers(""), Code::Unknown),
        (
            "garbage status",
            web_trailers("grpc-status: nope\r\n"),
            Code::Unknown,
        ),
        (
            "status 17",
            web_trailers("grpc-status: 17\r\n"),
            Code::Unknown,
        ),
        (
            "binary junk",
            env(0x80, b"\xff\x00\r\n:::\r\n"),
            Code::Unknown,
        ),
    ];
    for (case, frame, code) in cases {
        let server = serve(Canned::ok(WEB).chunk(env_msg("m")).chunk(frame)).await;
        assert_code(case, &unary_err(&web(&server)).await, code);
        let (messages, end) = server_stream(&web(&server)).await;
        assert_eq!(messages.len(), 1, "{case}");
        assert_code(case, &end.unwrap_err(), code);
    }
    // No trailer frame after a message: internal.
    let server = serve(Canned::ok(WEB).chunk(env_msg("m"))).await;
    assert_code(
        "no trailer frame",
        &unary_err(&web(&server)).await,
        Code::Internal,
    );
    let (messages, end) = server_stream(&web(&server)).await;
    assert_eq!(messages.len(), 1);
    assert_code(
        "stream: no trailer frame",
        &end.unwrap_err(),
        Code::Internal,
    );
}

#[tokio::test]
async fn web_trailers_only_and_precedence() {
    let server = serve(
        Canned::ok(WEB)
            .header("grpc-status", "16")
            .header("grpc-message", "who"),
    )
    .await;
    let err = unary_err(&web(&server)).await;
    assert_code("trailers-only", &err, Code::Unauthenticated);
    assert_eq!(err.message(), "who");
    assert_code(
        "stream trailers-only",
        &server_stream_err(&web(&server)).await,
        Code::Unauthenticated,
    );
    // The body's trailer frame wins over a header status.
    let server = serve(
        Canned::ok(WEB)
            .header("grpc-status", "8")
            .chunk(web_trailers("grpc-status: 9\r\n")),
    )
    .await;
    assert_code(
        "body wins",
        &unary_err(&web(&server)).await,
        Code::FailedPrecondition,
    );
}

#[tokio::test]
async fn web_compressed_trailer_frames() {
    let server = serve(
        Canned::ok(WEB)
            .header("grpc-encoding", "gzip")
            .chunk(env_msg("m"))
            .chunk(env(
                0x81,
                &gzip(b"grpc-status: 10\r\ngrpc-message: zipped\r\n"),
            )),
    )
    .await;
    let err = unary_err(&web(&server)).await;
    assert_code("0x81", &err, Code::Aborted);
    assert_eq!(err.message(), "zipped");

    // A trailer frame inflating past the read limit.
    let mut block = b"grpc-status: 0\r\nx-pad: ".to_vec();
    block.extend(std::iter::repeat_n(b'a', 2 << 20));
    block.extend_from_slice(b"\r\n");
    let server = serve(
        Canned::ok(WEB)
            .header("grpc-encoding", "gzip")
            .chunk(env_msg("m"))
            .chunk(env(0x81, &gzip(&block))),
    )
    .await;
    let err = bounded(
        "trailer bomb",
        web(&server).unary_with_options(
            &Default::default(),
            CallOptions::new().read_max_bytes(64 << 10),
        ),
    )
    .await
    .unwrap_err();
    assert_code("trailer bomb", &err, Code::ResourceExhausted);

    // 0x81 without an encoding.
    let server = serve(Canned::ok(WEB).chunk(env(0x81, &gzip(b"grpc-status: 0\r\n")))).await;
    assert_code(
        "0x81 without encoding",
        &unary_err(&web(&server)).await,
        Code::Internal,
    );
}

#[tokio::test]
async fn web_broken_envelopes() {
    let full = env_msg("m");
    let cases = [
        ("prefix cut", full.slice(..4), Code::Internal),
        ("payload cut", full.slice(..full.len() - 1), Code::Internal),
        (
            "trailer frame cut",
            web_trailers("grpc-status: 0\r\n").slice(..8),
            Code::Internal,
        ),
        (
            "length 0xffffffff",
            bytes::Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff]),
            Code::ResourceExhausted,
        ),
        (
            "trailers 0xffffffff",
            bytes::Bytes::from_static(&[0x80, 0xff, 0xff, 0xff, 0xff]),
            Code::ResourceExhausted,
        ),
        ("flags 0x02", env(0x02, &msg("m")), Code::Internal),
    ];
    for (case, chunk, code) in cases {
        let server = serve(Canned::ok(WEB).chunk(chunk)).await;
        assert_code(case, &unary_err(&web(&server)).await, code);
        assert_code(case, &server_stream_err(&web(&server)).await, code);
    }
    // Bytes after the trailer frame.
    let server = serve(
        Canned::ok(WEB).chunk(
            [
                env_msg("m"),
                web_trailers("grpc-status: 0\r\n"),
                env_msg("late"),
            ]
            .concat(),
        ),
    )
    .await;
    assert_code(
        "after trailers",
        &unary_err(&web(&server)).await,
        Code::Internal,
    );
}

#[tokio::test]
async fn web_content_type_checks() {
    let body = [env_msg("m"), web_trailers("grpc-status: 0\r\n")].concat();
    let cases = [
        ("image/jpeg", Some("image/jpeg"), Code::Unknown),
        (
            "wrong codec",
            Some("application/grpc-web+json"),
            Code::Internal,
        ),
        (
            "text mode",
            Some("application/grpc-web-text"),
            Code::Unknown,
        ),
        ("grpc", Some("application/grpc"), Code::Unknown),
        ("missing", None, Code::Unknown),
    ];
    for (case, ct, code) in cases {
        let mut canned = Canned::status(200).chunk(body.clone());
        if let Some(ct) = ct {
            canned = canned.header("content-type", ct);
        }
        let server = serve(canned).await;
        assert_code(case, &unary_err(&web(&server)).await, code);
    }
    for ct in ["application/grpc-web", "application/grpc-web+proto"] {
        let server = serve(Canned::ok(ct).chunk(body.clone())).await;
        assert_eq!(unary(&web(&server)).await.unwrap().text, "m", "{ct}");
    }
}

#[tokio::test]
async fn web_text_garbage_is_internal() {
    // Text mode, answered with something that is not base64.
    let server = serve(
        Canned::ok("application/grpc-web-text+proto").chunk(b"!!!! not base64 ####".to_vec()),
    )
    .await;
    let client = integration_tests::proto::test::v1::TestServiceClient::new(
        http1(),
        connectrpc::ClientConfig::new(server.uri()).grpc_web_text(),
    );
    assert_code("text garbage", &unary_err(&client).await, Code::Internal);
}
