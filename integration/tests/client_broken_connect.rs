//! The client against broken Connect servers: wrong content types, broken
//! envelopes and end-of-stream messages, bombs, and error bodies, each a
//! `ConnectError` with the code PROTOCOL-CHECKLIST §2.2–2.3, §3.2–3.3, §7.4
//! and §9 prescribe.

mod client_support;

use client_support::*;
use connectrpc::{CallOptions, Code};
use integration_tests::proto::test::v1::{ServerStreamRequest, TestServiceClient};

const PROTO: &str = "application/proto";
const STREAM: &str = "application/connect+proto";

fn connect(server: &BrokenServer) -> TestServiceClient<Channel> {
    Proto::Connect.client(server)
}

#[tokio::test]
async fn unary_content_type_checks() {
    let cases = [
        ("image/jpeg", Some("image/jpeg"), Code::Unknown),
        ("text/html", Some("text/html; charset=utf-8"), Code::Unknown),
        ("wrong codec", Some("application/json"), Code::Internal),
        ("streaming type", Some(STREAM), Code::Internal),
        ("missing", None, Code::Unknown),
    ];
    for (case, ct, code) in cases {
        let mut canned = Canned::status(200).chunk(msg("x"));
        if let Some(ct) = ct {
            canned = canned.header("content-type", ct);
        }
        let server = serve(canned).await;
        let err = unary_err(&connect(&server)).await;
        assert_code(case, &err, code);
        assert_eq!(server.hits(), 1, "{case}");
    }
    // The right one, in any case, works.
    let server = serve(Canned::ok("Application/Proto").chunk(msg("x"))).await;
    assert_eq!(unary(&connect(&server)).await.unwrap().text, "x");
}

#[tokio::test]
async fn stream_content_type_checks() {
    let body = [env_msg("x"), end_stream("{}")].concat();
    let cases = [
        ("image/jpeg", Some("image/jpeg"), Code::Unknown),
        (
            "wrong codec",
            Some("application/connect+json"),
            Code::Internal,
        ),
        ("unary type", Some(PROTO), Code::Unknown),
        ("missing", None, Code::Unknown),
    ];
    for (case, ct, code) in cases {
        let mut canned = Canned::status(200).chunk(body.clone());
        if let Some(ct) = ct {
            canned = canned.header("content-type", ct);
        }
        let server = serve(canned).await;
        let (messages, end) = server_stream(&connect(&server)).await;
        assert!(messages.is_empty(), "{case}");
        assert_code(case, &end.unwrap_err(), code);
    }
}

#[tokio::test]
async fn unary_error_json_round_trips_details_and_metadata() {
    // A non-standard status (422): the JSON code wins; unknown keys and
    // `debug` are ignored; headers and `trailer-` headers become the
    // error's metadata.
    let json = r#"{"code":"out_of_range","message":"oops","foobar":"baz",
        "details":[{"type":"google.rpc.RetryInfo","value":"CgIIPA","debug":{"retryDelay":"60s"}},
                   {"type":"test.v1.UnaryResponse","value":"CgFk"}]}"#;
    let server = serve(
        Canned::status(422)
            .header("content-type", "application/json")
            .header("x-error-header", "eh")
            .header("trailer-x-error-trailer", "one")
            .header("trailer-x-error-trailer", "two")
            .chunk(json.as_bytes().to_vec()),
    )
    .await;
    let err = unary_err(&connect(&server)).await;
    assert_code("422 + out_of_range", &err, Code::OutOfRange);
    assert_eq!(err.message(), "oops");
    let details: Vec<_> = err
        .details()
        .iter()
        .map(|d| (d.type_name().to_owned(), d.value().to_vec()))
        .collect();
    assert_eq!(
        details,
        [
            ("google.rpc.RetryInfo".to_owned(), vec![10, 2, 8, 60]),
            ("test.v1.UnaryResponse".to_owned(), vec![10, 1, b'd']),
        ]
    );
    assert_eq!(err.headers()["x-error-header"], "eh");
    assert!(err.headers().get("trailer-x-error-trailer").is_none());
    let trailers: Vec<_> = err.trailers().get_all("x-error-trailer").iter().collect();
    assert_eq!(trailers, ["one", "two"]);
}

/// Case name, HTTP status, content type, body, expected code and message.
type ErrorBodyCase = (
    &'static str,
    u16,
    &'static str,
    &'static [u8],
    Code,
    &'static str,
);

#[tokio::test]
async fn unary_error_bodies_are_read_leniently() {
    let json = "application/json";
    let cases: [ErrorBodyCase; 8] = [
        ("null body", 401, json, b"null", Code::Unauthenticated, ""),
        (
            "null code",
            401,
            json,
            br#"{"code":null,"message":"oops"}"#,
            Code::Unauthenticated,
            "oops",
        ),
        (
            "no code",
            401,
            json,
            br#"{"message":"oops"}"#,
            Code::Unauthenticated,
            "oops",
        ),
        (
            "unknown code",
            429,
            json,
            br#"{"code":"foobar","message":"oops"}"#,
            Code::Unavailable,
            "oops",
        ),
        (
            "charset",
            409,
            "application/json; charset=utf-8",
            br#"{"code":"aborted"}"#,
            Code::Aborted,
            "",
        ),
        (
            "proto error body",
            403,
            PROTO,
            b"\x0a\xff\xffjunk",
            Code::PermissionDenied,
            "",
        ),
        (
            "truncated JSON",
            503,
            json,
            br#"{"code":"not_fou"#,
            Code::Unavailable,
            "",
        ),
        ("empty body", 400, json, b"", Code::Internal, ""),
    ];
    for (case, status, ct, body, code, message) in cases {
        let server = serve(
            Canned::status(status)
                .header("content-type", ct)
                .chunk(body),
        )
        .await;
        let err = unary_err(&connect(&server)).await;
        assert_code(case, &err, code);
        if !message.is_empty() {
            assert_eq!(err.message(), message, "{case}");
        }
    }
}

#[tokio::test]
async fn unary_error_bodies_may_be_compressed_and_bombs_fall_back_to_the_status() {
    let json = br#"{"code":"out_of_range","message":"zipped"}"#;
    let server = serve(
        Canned::status(422)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .chunk(gzip(json)),
    )
    .await;
    let err = unary_err(&connect(&server)).await;
    assert_code("gzip error body", &err, Code::OutOfRange);
    assert_eq!(err.message(), "zipped");

    // A gzip error body inflating past the error-body limit: not decoded,
    // not an allocation of its inflated size; the HTTP status decides.
    let server = serve(
        Canned::status(503)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .chunk(gzip_bomb(64 << 20)),
    )
    .await;
    let err = unary_err(&connect(&server)).await;
    assert_code("gzip bomb error body", &err, Code::Unavailable);
}

#[tokio::test]
async fn unary_compression_failures() {
    // A small gzip body inflating past the read limit.
    let bomb = gzip_bomb(8 << 20);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let server = serve(
        Canned::ok(PROTO)
            .header("content-encoding", "gzip")
            .chunk(bomb),
    )
    .await;
    let err = unary_err(&connect(&server)).await;
    assert_code("gzip bomb", &err, Code::ResourceExhausted);

    let cases = [
        (
            "unknown encoding",
            "snappy",
            msg("x").to_vec(),
            Code::Internal,
        ),
        (
            "corrupt gzip",
            "gzip",
            b"\x1f\x8b\x08\x00junkjunk".to_vec(),
            Code::Internal,
        ),
    ];
    for (case, encoding, body, code) in cases {
        let server = serve(
            Canned::ok(PROTO)
                .header("content-encoding", encoding)
                .chunk(body),
        )
        .await;
        assert_code(case, &unary_err(&connect(&server)).await, code);
    }
}

#[tokio::test]
async fn unary_body_over_the_read_limit_is_resource_exhausted() {
    let server = serve(
        Canned::ok(PROTO)
            .chunk(vec![0u8; 2048])
            .chunk(vec![0u8; 2048]),
    )
    .await;
    let client = connect(&server);
    let err = bounded(
        "over limit",
        client.unary_with_options(&Default::default(), CallOptions::new().read_max_bytes(1024)),
    )
    .await
    .unwrap_err();
    assert_code("body over limit", &err, Code::ResourceExhausted);
    // The same body within a larger limit is a (garbage) message: internal.
    let err = bounded(
        "within limit",
        client.unary_with_options(&Default::default(), CallOptions::new().read_max_bytes(8192)),
    )
    .await
    .unwrap_err();
    assert_code("garbage message", &err, Code::Internal);
}

#[tokio::test]
async fn truncated_envelopes_are_internal() {
    let full = env_msg("x");
    let cases = [
        ("prefix cut", full.slice(..3)),
        ("payload cut", full.slice(..full.len() - 1)),
        ("prefix only", full.slice(..5)),
    ];
    for (case, cut) in cases {
        // After one good message: it is delivered, then the error.
        let server = serve(Canned::ok(STREAM).chunk(env_msg("first")).chunk(cut)).await;
        let (messages, end) = server_stream(&connect(&server)).await;
        assert_eq!(messages.len(), 1, "{case}");
        assert_eq!(messages[0].text, "first", "{case}");
        assert_code(case, &end.unwrap_err(), Code::Internal);
    }
}

#[tokio::test]
async fn a_length_of_u32_max_fails_at_the_prefix() {
    // The server promises 4 GiB - 1 and then never sends it: the client
    // fails from the prefix alone, without waiting for (or buffering) the
    // payload.
    let server = serve(
        Canned::ok(STREAM)
            .chunk(vec![0, 0xff, 0xff, 0xff, 0xff])
            .tail(Tail::Stall),
    )
    .await;
    let started = std::time::Instant::now();
    let err = server_stream_err(&connect(&server)).await;
    assert_code("0xffffffff", &err, Code::ResourceExhausted);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // The same from a client stream (read whole).
    let err = client_stream(&connect(&server)).await.unwrap_err();
    assert_code("0xffffffff client stream", &err, Code::ResourceExhausted);
}

#[tokio::test]
async fn bogus_end_stream_messages_are_internal() {
    let cases = [
        "not json",
        "",
        "[]",
        r#"{"error": 5}"#,
        r#"{"metadata": "x"}"#,
        r#"{"metadata": {"x-a": "not a list"}}"#,
        r#"{"error": {"code": "aborted""#,
    ];
    for json in cases {
        let server = serve(
            Canned::ok(STREAM)
                .chunk(env_msg("m"))
                .chunk(end_stream(json)),
        )
        .await;
        let (messages, end) = server_stream(&connect(&server)).await;
        assert_eq!(messages.len(), 1, "{json:?}");
        assert_code(json, &end.unwrap_err(), Code::Internal);
    }
}

#[tokio::test]
async fn end_stream_messages_are_read_leniently() {
    // {"error": null} and unknown keys: success, metadata kept.
    let server = serve(Canned::ok(STREAM).chunk(env_msg("m")).chunk(end_stream(
        r#"{"error":null,"foo":1,"metadata":{"X-Custom-Trailer":["bing","quux"]}}"#,
    )))
    .await;
    let (messages, end) = server_stream(&connect(&server)).await;
    assert_eq!(messages.len(), 1);
    let trailers = end.unwrap();
    let values: Vec<_> = trailers.get_all("x-custom-trailer").iter().collect();
    assert_eq!(values, ["bing", "quux"]);

    let cases = [
        (
            r#"{"error":{"code":"foobar","message":"m"}}"#,
            Code::Unknown,
        ),
        (r#"{"error":{"code":null,"message":"m"}}"#, Code::Unknown),
        (r#"{"error":{"message":"m"}}"#, Code::Unknown),
        (
            r#"{"error":{"code":"aborted","message":"m","details":[{"type":"a.B","value":"AQI=","debug":7}]}}"#,
            Code::Aborted,
        ),
    ];
    for (json, code) in cases {
        let server = serve(Canned::ok(STREAM).chunk(end_stream(json))).await;
        let err = server_stream_err(&connect(&server)).await;
        assert_code(json, &err, code);
        assert_eq!(err.message(), "m", "{json}");
    }
}

#[tokio::test]
async fn a_stream_without_end_stream_is_internal_after_its_messages() {
    let server = serve(Canned::ok(STREAM).chunk(env_msg("a")).chunk(env_msg("b"))).await;
    let (messages, end) = server_stream(&connect(&server)).await;
    assert_eq!(messages.len(), 2);
    assert_code("no end-stream", &end.unwrap_err(), Code::Internal);
    // Nothing at all: the same.
    let server = serve(Canned::ok(STREAM)).await;
    assert_code(
        "empty body",
        &server_stream_err(&connect(&server)).await,
        Code::Internal,
    );
}

#[tokio::test]
async fn http_trailers_on_a_connect_stream_are_internal() {
    let server = serve(
        Canned::ok(STREAM)
            .chunk(env_msg("a"))
            .trailer("grpc-status", "0"),
    )
    .await;
    // HTTP/2, where trailers survive.
    let client = TestServiceClient::new(h2c(), Proto::Connect.config(&server));
    let (messages, end) = server_stream(&client).await;
    assert_eq!(messages.len(), 1);
    assert_code("HTTP trailers", &end.unwrap_err(), Code::Internal);
}

#[tokio::test]
async fn stream_compression_failures() {
    // A small compressed envelope inflating past the read limit.
    let server = serve(
        Canned::ok(STREAM)
            .header("connect-content-encoding", "gzip")
            .chunk(env(1, &gzip_bomb(8 << 20)))
            .chunk(end_stream("{}")),
    )
    .await;
    assert_code(
        "bomb",
        &server_stream_err(&connect(&server)).await,
        Code::ResourceExhausted,
    );

    let cases = [
        (
            "unknown encoding",
            Some("snappy"),
            env(1, b"xx"),
            Code::Internal,
        ),
        (
            "compressed without encoding",
            None,
            env(1, &gzip(&msg("x"))),
            Code::Internal,
        ),
        (
            "corrupt gzip",
            Some("gzip"),
            env(1, b"\x1f\x8b\x08\x00junk"),
            Code::Internal,
        ),
    ];
    for (case, encoding, first, code) in cases {
        let mut canned = Canned::ok(STREAM).chunk(first).chunk(end_stream("{}"));
        if let Some(e) = encoding {
            canned = canned.header("connect-content-encoding", e);
        }
        let server = serve(canned).await;
        assert_code(case, &server_stream_err(&connect(&server)).await, code);
    }
}

#[tokio::test]
async fn compressed_end_stream_messages() {
    // Flag 0x03: decompressed with the response's encoding.
    let json = br#"{"error":{"code":"aborted","message":"zipped"},"metadata":{"x-t":["v"]}}"#;
    let server = serve(
        Canned::ok(STREAM)
            .header("connect-content-encoding", "gzip")
            .chunk(env(3, &gzip(json))),
    )
    .await;
    let err = server_stream_err(&connect(&server)).await;
    assert_code("compressed end-stream", &err, Code::Aborted);
    assert_eq!(err.message(), "zipped");
    assert_eq!(err.trailers()["x-t"], "v");

    // A compressed end-stream inflating past the read limit: the limit
    // holds for it like for any message.
    let mut bomb = br#"{"metadata":{"x-pad":[""#.to_vec();
    bomb.extend(std::iter::repeat_n(b'a', 2 << 20));
    bomb.extend_from_slice(br#""]}}"#);
    let server = serve(
        Canned::ok(STREAM)
            .header("connect-content-encoding", "gzip")
            .chunk(env(3, &gzip(&bomb))),
    )
    .await;
    let client = connect(&server);
    let req = ServerStreamRequest::default();
    let err = bounded("end-stream bomb", async {
        let mut s = client
            .server_stream_with_options(&req, CallOptions::new().read_max_bytes(64 << 10))
            .await?;
        while let Some(m) = s.message().await {
            m?;
        }
        Ok::<_, connectrpc::ConnectError>(())
    })
    .await
    .unwrap_err();
    assert_code("end-stream bomb", &err, Code::ResourceExhausted);

    // Compressed end-stream without a negotiated encoding.
    let server = serve(Canned::ok(STREAM).chunk(env(3, &gzip(b"{}")))).await;
    assert_code(
        "0x03 without encoding",
        &server_stream_err(&connect(&server)).await,
        Code::Internal,
    );
}

#[tokio::test]
async fn client_stream_cardinality_is_unimplemented() {
    let cases = [
        ("no message", vec![end_stream("{}")]),
        (
            "two messages",
            vec![env_msg("a"), env_msg("b"), end_stream("{}")],
        ),
    ];
    for (case, chunks) in cases {
        let mut canned = Canned::ok(STREAM);
        for c in chunks {
            canned = canned.chunk(c);
        }
        let server = serve(canned).await;
        let err = client_stream(&connect(&server)).await.unwrap_err();
        assert_code(case, &err, Code::Unimplemented);
    }
    // The end-stream's error wins over a missing message.
    let server =
        serve(Canned::ok(STREAM).chunk(end_stream(r#"{"error":{"code":"not_found"}}"#))).await;
    let err = client_stream(&connect(&server)).await.unwrap_err();
    assert_code("error, no message", &err, Code::NotFound);
}

#[tokio::test]
async fn a_second_message_to_a_client_stream_fails_without_waiting_for_the_end() {
    // Two messages, then a body that never ends: the call is already a
    // cardinality violation, and must not wait for the rest.
    let server = serve(
        Canned::ok(STREAM)
            .chunk(env_msg("a"))
            .chunk(env_msg("b"))
            .tail(Tail::Stall),
    )
    .await;
    let err = client_stream(&connect(&server)).await.unwrap_err();
    assert_code("two messages, stalled", &err, Code::Unimplemented);
}

#[tokio::test]
async fn invalid_envelope_flags_are_internal() {
    let cases = [
        ("flag 0x04", env(0x04, &msg("x"))),
        ("flag 0x80", env(0x80, &msg("x"))),
    ];
    for (case, first) in cases {
        let server = serve(Canned::ok(STREAM).chunk(first).chunk(end_stream("{}"))).await;
        let (messages, end) = server_stream(&connect(&server)).await;
        assert!(messages.is_empty(), "{case}");
        assert_code(case, &end.unwrap_err(), Code::Internal);
    }
}

#[tokio::test]
async fn bytes_after_the_end_stream_message_are_internal() {
    let server =
        serve(Canned::ok(STREAM).chunk([env_msg("a"), end_stream("{}"), env_msg("late")].concat()))
            .await;
    let (messages, end) = server_stream(&connect(&server)).await;
    assert_eq!(messages.len(), 1);
    assert_code("extra bytes", &end.unwrap_err(), Code::Internal);
}
