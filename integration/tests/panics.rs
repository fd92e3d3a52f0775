//! A handler or response stream that panics fails that call with
//! `internal`, and nothing else: the same connection (HTTP/1.1 and h2c)
//! keeps serving, in every protocol.

mod support;

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, Code, HttpClient};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::TestServiceClient;
use support::{ServerStreamRequest, UnaryRequest, Version, connect, encode, full, post};

fn text(t: &str) -> UnaryRequest {
    UnaryRequest {
        text: t.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_call_on_the_same_connection() {
    let server = support::start().await;
    for version in [Version::Http1, Version::H2c] {
        let mut conn = connect(server.addr, version).await;
        let path = "/test.v1.TestService/Unary";
        let req = post(path, "application/proto", bytes::Bytes::new())
            .body(full(encode(&text("panic"))))
            .unwrap();
        let reply = conn.send(req).await;
        assert_eq!(reply.status, 500, "{version:?}");
        assert_eq!(reply.json()["code"], "internal", "{version:?}");
        // The same connection serves the next call.
        let req = post(path, "application/proto", bytes::Bytes::new())
            .body(full(encode(&text("fine"))))
            .unwrap();
        let reply = conn.send(req).await;
        assert_eq!(reply.status, 200, "{version:?}");
    }
}

#[tokio::test]
async fn panics_are_internal_in_every_protocol_and_the_client_goes_on() {
    let server = support::start().await;
    let base: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    for config in [
        ClientConfig::new(base.clone()),
        ClientConfig::new(base.clone()).grpc(),
        ClientConfig::new(base.clone()).grpc_web(),
    ] {
        let protocol = config.protocol();
        let client = TestServiceClient::new(http.clone(), config);
        let err = client.unary(&text("panic")).await.unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{protocol}");
        // A stream that panics after its first message: the message, then
        // internal.
        let mut stream = client
            .server_stream(&ServerStreamRequest {
                text: "panic".into(),
                count: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(stream.next().await.unwrap().is_ok(), "{protocol}");
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.code(), Code::Internal, "{protocol}");
        assert!(stream.next().await.is_none(), "{protocol}");
        assert_eq!(
            client.unary(&text("after")).await.unwrap().message().text,
            "after"
        );
    }
}
