//! `Server::with_graceful_shutdown_on_signals`: SIGTERM — what containers
//! are stopped with — drains the server as ctrl-c does: the call in flight
//! finishes, then the server returns.
//!
//! Its own test binary: the test sends SIGTERM to its own process, which
//! the server's handler (installed when serving starts) takes over.

mod support;

use std::time::Duration;

use connectrpc::client::ClientBody;
use connectrpc::layers::rpc::NamedService as _;
use connectrpc::{ClientConfig, HttpClient, Router, Server};
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceServer};
use support::UnaryRequest;
use support::gate::Gate;

/// Only a hang guard.
const HANG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn sigterm_drains_the_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Gate::new();
    let router = Router::new().add_methods(
        <TestServiceServer<support::Impl>>::METHODS,
        gate.wrap(TestServiceServer::new(support::Impl)),
    );
    let server = tokio::spawn(
        Server::new(router)
            .with_graceful_shutdown_on_signals()
            .drain_timeout(Duration::from_secs(10))
            .serve_with_listener(listener),
    );
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base).grpc());

    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .unary(&UnaryRequest {
                    text: "in flight".into(),
                    delay_ms: 300,
                    ..Default::default()
                })
                .await
        })
    };
    // The call is in its handler, so the server is serving and its signal
    // handlers are installed.
    gate.entered(1).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let reply = tokio::time::timeout(HANG, in_flight)
        .await
        .unwrap()
        .unwrap()
        .expect("the call in flight finishes");
    assert_eq!(reply.message().text, "in flight");
    tokio::time::timeout(HANG, server)
        .await
        .expect("the server returns after draining")
        .unwrap()
        .unwrap();
    // And it no longer accepts connections.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
