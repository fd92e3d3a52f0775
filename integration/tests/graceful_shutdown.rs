//! Graceful shutdown loses nothing silently: new connections are refused,
//! calls in flight finish within the drain deadline, and a stream still
//! running at the deadline ends `unavailable` on the client.

mod support;

use std::sync::Arc;
use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, Code, HttpClient, Router, Server};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceExt as _};
use support::{ServerStreamRequest, UnaryRequest};

#[tokio::test]
async fn in_flight_calls_finish_or_fail_unavailable_and_new_ones_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::new(Arc::new(support::Impl).register(Router::new()))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .drain_timeout(Duration::from_millis(500))
            .serve_with_listener(listener),
    );
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base).grpc());

    // A long stream, and a short call, both in flight at shutdown.
    let mut stream = client
        .server_stream(&ServerStreamRequest {
            text: "s".into(),
            count: 1000,
            delay_ms: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    let short = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .unary(&UnaryRequest {
                    text: "short".into(),
                    delay_ms: 150,
                    ..Default::default()
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();

    // The short call finishes within the drain deadline.
    let reply = short.await.unwrap().expect("in-flight call answered");
    assert_eq!(reply.message().text, "short");
    // The stream runs on until the deadline, then ends unavailable.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Some(e),
                None => break None,
            }
        }
    })
    .await
    .expect("the stream ended");
    let err = end.expect("the cut stream reports an error, not a clean end");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    // The server has stopped, and new calls are refused.
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    let refused = client.unary(&UnaryRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
}
