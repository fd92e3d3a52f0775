//! The buf-generated services over a real socket: our server, served from
//! the generated `EchoServiceServer` / `TallyServiceServer`, called by the
//! generated clients over Connect (HTTP/1.1, JSON and proto) and gRPC (h2c).

use std::sync::Arc;

use buf_generate_example::Echo;
use buf_generate_example::proto::echo::v1::{EchoRequest, EchoServiceClient, EchoServiceExt};
use buf_generate_example::proto::tally::v1::{Add, TallyServiceClient, TallyServiceExt};
use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, Code, HttpClient, Router, Server};
use futures_util::StreamExt as _;

/// Serves both services on a free port; returns the base URL.
async fn serve() -> String {
    // One type implements both services: name the trait of each.
    let router = EchoServiceExt::register(Arc::new(Echo), Router::new());
    let router = TallyServiceExt::register(Arc::new(Echo), router);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Server::new(router).serve_with_listener(listener));
    format!("http://{addr}")
}

/// (name, HTTP/2 only, config) for Connect proto and JSON over HTTP/1.1 and
/// gRPC over h2c.
fn configs(base: &str) -> Vec<(&'static str, bool, ClientConfig)> {
    let config = || ClientConfig::new(base.parse().unwrap());
    vec![
        ("connect+proto", false, config()),
        ("connect+json", false, config().json()),
        ("grpc", true, config().grpc()),
    ]
}

fn channel(http2: bool) -> HttpClient<ClientBody> {
    if http2 {
        HttpClient::builder().http2_only(true).build()
    } else {
        HttpClient::plaintext()
    }
}

#[tokio::test]
async fn generated_clients_call_generated_servers() {
    let base = serve().await;
    for (name, http2, config) in configs(&base) {
        let echo = EchoServiceClient::new(channel(http2), config.clone());
        let request = EchoRequest {
            text: "hi".into(),
            repeat: Some(3),
            ..Default::default()
        };

        let reply = echo.echo(&request).await.unwrap();
        assert_eq!(reply.message().text, "hi", "{name}");
        assert_eq!(reply.message().count.total, Some(1), "{name}");

        let mut stream = echo.echo_many(&request).await.unwrap();
        let mut totals = Vec::new();
        while let Some(answer) = stream.next().await {
            totals.push(answer.unwrap().count.total.unwrap());
        }
        assert_eq!(totals, [1, 2, 3], "{name}");

        let too_many = EchoRequest {
            repeat: Some(1000),
            ..request.clone()
        };
        let err = match echo.echo_many(&too_many).await {
            Ok(mut stream) => stream.next().await.unwrap().unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(err.code(), Code::InvalidArgument, "{name}");

        let tally = TallyServiceClient::new(channel(http2), config);
        let adds = futures_util::stream::iter([2, 3, 5].map(|amount| Add {
            amount: Some(amount),
            ..Default::default()
        }));
        let count = tally.sum(adds).await.unwrap();
        assert_eq!(count.message().total, Some(10), "{name}");
        assert_eq!(count.message().seen, 3, "{name}");
    }
}

#[test]
fn descriptors_name_the_proto_methods() {
    use buf_generate_example::proto::echo::v1::{ECHO_SERVICE_NAME, echo_service};
    assert_eq!(ECHO_SERVICE_NAME, "echo.v1.EchoService");
    assert_eq!(echo_service::ECHO.path(), "/echo.v1.EchoService/Echo");
}
