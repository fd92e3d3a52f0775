//! Graceful shutdown loses nothing silently: new connections are refused,
//! calls in flight finish within the drain deadline, and a stream still
//! running at the deadline ends `unavailable` on the client.

mod support;

use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::layers::rpc::NamedService as _;
use connectrpc::{ClientConfig, Code, HttpClient, Router, Server};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceServer};
use support::gate::Gate;
use support::{ServerStreamRequest, UnaryRequest};

/// Only a hang guard: how long a test waits for calls and the server.
const HANG: Duration = Duration::from_secs(30);

/// A "long" call's handler time: far past any drain in these tests.
const LONG_MS: u32 = 60_000;

/// The test service behind `gate`, which tells the test when calls are in
/// their handlers.
fn gated_router(gate: &Gate) -> Router {
    Router::new().add_methods(
        <TestServiceServer<support::Impl>>::METHODS,
        gate.wrap(TestServiceServer::new(support::Impl)),
    )
}

#[tokio::test]
async fn in_flight_calls_finish_or_fail_unavailable_and_new_ones_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gate = Gate::new();
    let server = tokio::spawn(
        Server::new(gated_router(&gate))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .drain_timeout(Duration::from_secs(2))
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
    // Both calls are in their handlers when the shutdown begins.
    gate.entered(2).await;
    stop.send(()).unwrap();

    // The short call finishes within the drain deadline.
    let reply = short.await.unwrap().expect("in-flight call answered");
    assert_eq!(reply.message().text, "short");
    // The stream runs on until the deadline, then ends unavailable.
    let end = tokio::time::timeout(HANG, async {
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
    tokio::time::timeout(HANG, server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    let refused = client.unary(&UnaryRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
}

/// Many calls of every kind in flight over HTTP/1.1 and HTTP/2 when the
/// server shuts down: each one is answered, or fails `unavailable`;
/// none hangs, none fails any other way, none goes missing.
#[tokio::test]
async fn every_call_in_flight_at_shutdown_is_accounted_for() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gate = Gate::new();
    let server = tokio::spawn(
        Server::new(gated_router(&gate))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .drain_timeout(Duration::from_secs(3))
            .serve_with_listener(listener),
    );
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let h2: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let h1: HttpClient<ClientBody> = HttpClient::builder().build();
    let clients = [
        TestServiceClient::new(h2.clone(), ClientConfig::new(base.clone()).grpc()),
        TestServiceClient::new(h2, ClientConfig::new(base.clone())),
        TestServiceClient::new(h1.clone(), ClientConfig::new(base.clone())),
        TestServiceClient::new(h1, ClientConfig::new(base).grpc_web()),
    ];
    let mut calls = tokio::task::JoinSet::new();
    let mut sent = 0;
    for (c, client) in clients.iter().enumerate() {
        for i in 0..12u32 {
            let client = client.clone();
            // Short calls finish within the drain, long ones outlive it.
            let delay = if i % 2 == 0 { 50 + 20 * i } else { LONG_MS };
            sent += 1;
            calls.spawn(async move {
                let long = delay >= LONG_MS;
                let outcome = if i % 3 == 0 {
                    let stream = client
                        .server_stream(&ServerStreamRequest {
                            text: format!("{c}/{i}"),
                            count: if long { 1000 } else { 3 },
                            delay_ms: if long { 50 } else { 30 },
                            ..Default::default()
                        })
                        .await;
                    match stream {
                        Ok(stream) => {
                            let items: Vec<_> = stream.collect().await;
                            match items.into_iter().find_map(Result::err) {
                                Some(e) => Err(e),
                                None => Ok(()),
                            }
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    client
                        .unary(&UnaryRequest {
                            text: format!("{c}/{i}"),
                            delay_ms: i64::from(delay),
                            ..Default::default()
                        })
                        .await
                        .map(drop)
                };
                (long, outcome)
            });
        }
    }
    // Every call is in its handler when the shutdown begins.
    gate.entered(sent).await;
    stop.send(()).unwrap();
    let (mut answered, mut unavailable) = (0, 0);
    let all = tokio::time::timeout(HANG, async {
        while let Some(joined) = calls.join_next().await {
            let (long, outcome) = joined.unwrap();
            match outcome {
                Ok(()) => answered += 1,
                Err(e) if e.code() == Code::Unavailable => {
                    assert!(long, "a short call failed: {e}");
                    unavailable += 1;
                }
                Err(e) => panic!("unexpected failure: {e}"),
            }
        }
    });
    all.await.expect("a call hung through shutdown");
    assert_eq!(answered + unavailable, sent);
    // Exactly the short calls are answered: every one of them finished
    // within the drain, every long one was cut.
    assert_eq!(answered, sent / 2, "short calls: {answered} of {sent}");
    assert!(unavailable > 0, "long calls outlived the drain");
    tokio::time::timeout(HANG, server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}
