//! Our generated client against our server over real sockets: every
//! protocol, codec, HTTP version and stream kind; errors with details and
//! metadata; compression, limits, deadlines, GET and cancellation.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connectrpc::client::ClientBody;
use connectrpc::{CallOptions, ClientConfig, Code, ErrorDetailsExt as _, GetPolicy, HttpClient};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::{TestServiceClient, UnaryResponse};
use support::{ServerStreamRequest, UnaryRequest};
use tower::ServiceBuilder;

type Seen = Arc<Mutex<Vec<(http::Method, http::HeaderMap)>>>;

/// A channel over `http2` or HTTP/1.1 that records each request's method
/// and headers: a user's own tower layer in front of the transport.
fn channel(http2: bool, seen: Seen) -> impl connectrpc::Channel {
    let http: HttpClient<ClientBody> = if http2 {
        HttpClient::builder().http2_only(true).build()
    } else {
        HttpClient::plaintext()
    };
    ServiceBuilder::new()
        .map_request(move |req: http::Request<ClientBody>| {
            seen.lock()
                .unwrap()
                .push((req.method().clone(), req.headers().clone()));
            req
        })
        .service(http)
}

/// Every (name, http2, config builder) the client supports.
fn matrix(base: &str) -> Vec<(String, bool, ClientConfig)> {
    let mut out = Vec::new();
    for http2 in [false, true] {
        for protocol in ["connect", "grpc", "grpc-web", "grpc-web-text"] {
            if protocol == "grpc" && !http2 {
                continue;
            }
            for json in [false, true] {
                let c = ClientConfig::new(base.parse().unwrap());
                let c = match protocol {
                    "grpc" => c.grpc(),
                    "grpc-web" => c.grpc_web(),
                    "grpc-web-text" => c.grpc_web_text(),
                    _ => c,
                };
                let c = if json { c.json() } else { c };
                let name = format!(
                    "{protocol}/{}/{}",
                    if json { "json" } else { "proto" },
                    if http2 { "h2c" } else { "http1" }
                );
                out.push((name, http2, c));
            }
        }
    }
    out
}

fn unary_req(text: &str) -> UnaryRequest {
    UnaryRequest {
        text: text.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_stream_kind_round_trips_on_every_protocol() {
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    for (name, http2, config) in matrix(&base) {
        let seen = Seen::default();
        let client = TestServiceClient::new(channel(http2, seen.clone()), config);

        // Unary: message, headers and trailers.
        let reply = client
            .unary(&unary_req("hi"))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reply.message().text, "hi", "{name}");
        assert_eq!(reply.headers()["x-echo"], "unary", "{name}");
        let trailers: Vec<_> = reply.trailers().get_all("x-trailer").iter().collect();
        assert_eq!(trailers, ["t1", "t2"], "{name}");

        // The same answer as a zero-copy view over the response bytes.
        let view = client
            .unary_view_with_options(&unary_req("view"), CallOptions::new())
            .await
            .unwrap();
        assert_eq!(view.message().reborrow().text, "view", "{name}");
        assert_eq!(view.headers()["x-echo"], "unary", "{name}");

        // Server stream: messages in order, trailers after the end.
        let mut stream = client
            .server_stream(&ServerStreamRequest {
                text: "s".into(),
                count: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut texts = Vec::new();
        while let Some(m) = stream.next().await {
            texts.push(m.unwrap().text);
        }
        assert_eq!(texts, ["s0", "s1", "s2"], "{name}");
        assert_eq!(
            stream.trailers().unwrap()["x-stream-trailer"],
            "done",
            "{name}"
        );

        // The same stream as zero-copy views, each over its own message's
        // bytes.
        let mut views = client
            .server_stream_view(&ServerStreamRequest {
                text: "v".into(),
                count: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut texts = Vec::new();
        while let Some(m) = views.next().await {
            texts.push(m.unwrap().reborrow().text.to_owned());
        }
        assert_eq!(texts, ["v0", "v1"], "{name}");
        assert_eq!(views.trailers().unwrap()["x-stream-trailer"], "done");

        // Client stream: any Stream of requests.
        let reqs = futures_util::stream::iter(["a", "b", "c"].map(unary_req));
        let reply = client.client_stream(reqs).await.unwrap();
        assert_eq!(
            (reply.message().text.as_str(), reply.message().count),
            ("abc", 3),
            "{name}"
        );
        let reqs = futures_util::stream::iter(["d", "e"].map(unary_req));
        let reply = client
            .client_stream_view_with_options(reqs, CallOptions::new())
            .await
            .unwrap();
        let view = reply.message().reborrow();
        assert_eq!((view.text, view.count), ("de", 2), "{name}");

        // Bidi: interleaved over HTTP/2, half duplex over HTTP/1.1.
        let mut bidi = client.bidi().await.unwrap();
        if http2 {
            for text in ["x", "y"] {
                bidi.send(&unary_req(text)).await.unwrap();
                let reply = bidi.message().await.unwrap().unwrap();
                assert_eq!(reply.text, text.to_uppercase(), "{name}");
            }
            bidi.close_send();
        } else {
            // Messages go by reference or by value.
            bidi.send(&unary_req("x")).await.unwrap();
            bidi.send(unary_req("y")).await.unwrap();
            bidi.close_send();
            for text in ["X", "Y"] {
                assert_eq!(bidi.message().await.unwrap().unwrap().text, text, "{name}");
            }
        }
        assert!(bidi.message().await.is_none(), "{name}");

        // Bidi answering with views.
        let mut bidi = client.bidi_view().await.unwrap();
        bidi.send(unary_req("z")).await.unwrap();
        bidi.close_send();
        let reply = bidi.message().await.unwrap().unwrap();
        assert_eq!(reply.reborrow().text, "Z", "{name}");
        assert!(bidi.message().await.is_none(), "{name}");

        // Protocol headers the channel saw.
        let seen = seen.lock().unwrap();
        let (_, headers) = &seen[0];
        let ct = headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with("application/"), "{name}: {ct}");
        if name.starts_with("grpc/") {
            assert_eq!(headers["te"], "trailers");
        }
        if name.starts_with("connect/") {
            assert_eq!(headers["connect-protocol-version"], "1");
        }
    }
}

#[tokio::test]
async fn errors_keep_code_message_details_and_metadata() {
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    for (name, http2, config) in matrix(&base) {
        let client = TestServiceClient::new(channel(http2, Seen::default()), config);
        let err = client
            .unary(&UnaryRequest {
                text: "boom".into(),
                fail_code: Code::NotFound.grpc_number() as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{name}");
        assert_eq!(err.message(), "failed: boom", "{name}");
        let detail: UnaryResponse = err.detail().unwrap().unwrap();
        assert_eq!(detail.text, "d", "{name}");
        let in_headers = err.headers().get("x-error-header").is_some();
        let in_trailers = err.trailers().get("x-error-trailer").is_some();
        assert!(in_trailers, "{name}: {err:?}");
        assert!(
            in_headers || err.trailers().get("x-error-header").is_some(),
            "{name}: {err:?}"
        );

        // A stream that fails after two messages delivers both, then the error.
        let mut stream = client
            .server_stream(&ServerStreamRequest {
                text: "f".into(),
                count: 5,
                fail_code_after: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap().text, "f0");
        assert_eq!(stream.next().await.unwrap().unwrap().text, "f1");
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{name}");
        assert!(stream.next().await.is_none(), "{name}");
    }
}

#[tokio::test]
async fn compression_both_ways_and_limits() {
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    let big = vec![b'z'; 64 * 1024];
    for (name, http2, config) in matrix(&base) {
        for encoding in ["gzip", "zstd"] {
            let seen = Seen::default();
            let client = TestServiceClient::new(
                channel(http2, seen.clone()),
                config.clone().send_compression(encoding),
            );
            let reply = client
                .unary(&UnaryRequest {
                    payload: big.clone(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("{name} {encoding}: {e}"));
            assert_eq!(reply.message().payload, big, "{name}");
            let sent = &seen.lock().unwrap()[0].1;
            let encoding_header = if name.starts_with("connect/") {
                "content-encoding"
            } else {
                "grpc-encoding"
            };
            assert_eq!(sent[encoding_header], encoding, "{name}");
        }
        // A response over the read limit fails, whatever its compression.
        let client = TestServiceClient::new(channel(http2, Seen::default()), config.clone());
        let err = client
            .unary_with_options(
                &UnaryRequest {
                    payload: big.clone(),
                    ..Default::default()
                },
                CallOptions::new().read_max_bytes(1024),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{name}: {err}");
        // A request over the send limit is refused before it is sent.
        let seen = Seen::default();
        let client =
            TestServiceClient::new(channel(http2, seen.clone()), config.send_max_bytes(1024));
        let err = client
            .unary(&UnaryRequest {
                payload: big.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{name}");
        assert!(seen.lock().unwrap().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn deadlines_are_sent_and_enforced() {
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    for (name, http2, config) in matrix(&base) {
        let seen = Seen::default();
        let client = TestServiceClient::new(
            channel(http2, seen.clone()),
            config.default_timeout(Duration::from_secs(30)),
        );
        // The server sees the default timeout.
        let reply = client.unary(&unary_req("deadline?")).await.unwrap();
        assert!(
            reply.message().text.starts_with("Some(2"),
            "{name}: {}",
            reply.message().text
        );
        // A call's own timeout wins, and fires locally.
        let started = Instant::now();
        let err = client
            .unary_with_options(
                &UnaryRequest {
                    delay_ms: 5_000,
                    ..Default::default()
                },
                CallOptions::new().timeout(Duration::from_millis(200)),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{name}");
        assert!(started.elapsed() < Duration::from_secs(2), "{name}");
        let header = if name.starts_with("connect/") {
            "connect-timeout-ms"
        } else {
            "grpc-timeout"
        };
        assert!(seen.lock().unwrap()[1].1.contains_key(header), "{name}");
        // Mid-stream expiry ends the stream with deadline_exceeded.
        let mut stream = client
            .server_stream_with_options(
                &ServerStreamRequest {
                    text: "d".into(),
                    count: 100,
                    delay_ms: 100,
                    ..Default::default()
                },
                CallOptions::new().timeout(Duration::from_millis(350)),
            )
            .await
            .unwrap();
        let mut last = None;
        while let Some(item) = stream.next().await {
            last = Some(item);
        }
        assert_eq!(
            last.unwrap().unwrap_err().code(),
            Code::DeadlineExceeded,
            "{name}"
        );
    }
}

#[tokio::test]
async fn get_for_no_side_effect_methods_only() {
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    let seen = Seen::default();
    let config = ClientConfig::new(base.parse().unwrap()).get_policy(GetPolicy::IfNoSideEffects);
    let client = TestServiceClient::new(channel(false, seen.clone()), config.clone());
    assert_eq!(
        client.unary(&unary_req("g")).await.unwrap().message().text,
        "g"
    );
    assert_eq!(
        client
            .not_gettable(&unary_req("p"))
            .await
            .unwrap()
            .message()
            .text,
        "p"
    );
    // Too long for the URL cap: POST.
    let client = TestServiceClient::new(channel(false, seen.clone()), config.max_get_url_bytes(64));
    let long = "l".repeat(100);
    assert_eq!(
        client
            .unary(&unary_req(&long))
            .await
            .unwrap()
            .message()
            .text,
        long
    );
    let methods: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(
        methods,
        [http::Method::GET, http::Method::POST, http::Method::POST]
    );
}

#[tokio::test]
async fn dropping_a_stream_or_bidi_cancels_and_the_channel_stays_usable() {
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    for (name, http2, config) in matrix(&base) {
        let client = TestServiceClient::new(channel(http2, Seen::default()), config);
        let mut stream = client
            .server_stream(&ServerStreamRequest {
                text: "c".into(),
                count: 1000,
                delay_ms: 20,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(stream.next().await.unwrap().is_ok());
        stream.cancel();
        assert_eq!(
            stream.next().await.unwrap().unwrap_err().code(),
            Code::Canceled,
            "{name}"
        );
        drop(stream);
        let bidi = client.bidi().await.unwrap();
        let (mut tx, mut rx) = bidi.split();
        tx.send(&unary_req("q")).await.unwrap();
        tx.cancel();
        let err = loop {
            match rx.message().await {
                Some(Err(e)) => break e,
                Some(Ok(_)) => continue,
                None => panic!("{name}: a canceled call ended cleanly"),
            }
        };
        assert_eq!(err.code(), Code::Canceled, "{name}");
        // The channel still works after the cancellations.
        let reply = tokio::time::timeout(Duration::from_secs(5), client.unary(&unary_req("after")))
            .await
            .expect("no hang")
            .unwrap();
        assert_eq!(reply.message().text, "after", "{name}");
    }
}

#[tokio::test]
async fn an_unknown_method_is_unimplemented_in_every_protocol_and_codec() {
    static NOPE: connectrpc::MethodDescriptor = connectrpc::MethodDescriptor::new(
        "test.v1.TestService",
        "Nope",
        "/test.v1.TestService/Nope",
        connectrpc::StreamType::Unary,
        connectrpc::Idempotency::Unknown,
    );
    let server = support::start().await;
    let base = format!("http://{}", server.addr);
    for (name, http2, config) in matrix(&base) {
        let client = connectrpc::Client::new(channel(http2, Seen::default()), config);
        let err = client
            .unary::<UnaryRequest, UnaryResponse>(&NOPE, &unary_req("x"), CallOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{name}: {err}");
    }
}
