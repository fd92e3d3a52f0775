//! What a newcomer tripped over with the client, each fixed and held here:
//! a timeout layer in the channel, gRPC over an HTTP/1.1-only channel, and
//! naming the type of a buffered, balanced or boxed channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use compat_tests::MyGreetService;
use compat_tests::proto::greet::v1::{GreetRequest, GreetServiceClient, GreetServiceExt as _};
use connectrpc::client::{
    BoxError, ClientBody, ClientConfig, Http2Connection, HttpClient, ResponseBody,
};
use connectrpc::{Code, Router, Server};
use tower::ServiceBuilder;
use tower::buffer::Buffer;
use tower::util::BoxCloneService;

async fn greet_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(MyGreetService).register(Router::new());
    tokio::spawn(Server::new(router).serve_with_listener(listener));
    addr
}

/// A server that accepts connections and never answers.
async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    addr
}

fn request(name: &str) -> GreetRequest {
    GreetRequest {
        name: name.into(),
        ..Default::default()
    }
}

fn uri(addr: SocketAddr) -> http::Uri {
    format!("http://{addr}").parse().unwrap()
}

#[tokio::test]
async fn a_tower_timeout_in_the_channel_is_deadline_exceeded() {
    let addr = silent_server().await;
    let channel = ServiceBuilder::new()
        .timeout(Duration::from_millis(50))
        .service(HttpClient::plaintext());
    for config in [
        ClientConfig::new(uri(addr)),
        ClientConfig::new(uri(addr)).grpc_web(),
    ] {
        let client = GreetServiceClient::new(channel.clone(), config);
        let err = client.greet(request("slow")).await.unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");
        assert!(err.message().contains("timed out"), "{err}");
    }
}

#[tokio::test]
async fn grpc_over_http1_says_it_needs_http2_and_how() {
    let addr = greet_server().await;
    let client =
        GreetServiceClient::new(HttpClient::plaintext(), ClientConfig::new(uri(addr)).grpc());
    let err = client.greet(request("h1")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unknown, "{err}");
    assert!(err.message().contains("gRPC needs HTTP/2"), "{err}");
    assert!(
        err.message().contains("HttpClient::plaintext_http2_only()"),
        "{err}"
    );

    // The one-call fix the message names.
    let client = GreetServiceClient::new(
        HttpClient::plaintext_http2_only(),
        ClientConfig::new(uri(addr)).grpc(),
    );
    let response = client.greet(request("h2c")).await.unwrap();
    assert_eq!(response.greeting, "Hello, h2c!");
}

/// A boxed channel, as a struct field or signature names it: every name is
/// at `connectrpc::client`.
type BoxChannel =
    BoxCloneService<http::Request<ClientBody>, http::Response<ResponseBody>, BoxError>;

struct App {
    greet: GreetServiceClient<BoxChannel>,
}

#[tokio::test]
async fn buffered_and_balanced_channels_are_nameable() {
    let addr = greet_server().await;

    // A buffer around the pooled client.
    let buffered: BoxChannel =
        BoxCloneService::new(Buffer::new(HttpClient::plaintext_http2_only(), 64));
    let app = App {
        greet: GreetServiceClient::new(buffered, ClientConfig::new(uri(addr)).grpc()),
    };
    assert_eq!(
        app.greet.greet(request("buffer")).await.unwrap().greeting,
        "Hello, buffer!"
    );

    // p2c over two single connections, behind a buffer (a balancer is not
    // `Clone`).
    let mut conns = Vec::new();
    for _ in 0..2 {
        let conn = Http2Connection::connect(uri(addr)).await.unwrap();
        conns.push(tower::load::PendingRequests::new(
            conn,
            tower::load::CompleteOnResponse::default(),
        ));
    }
    let balance = tower::balance::p2c::Balance::new(tower::discover::ServiceList::new(conns));
    let balanced: BoxChannel = BoxCloneService::new(Buffer::new(balance, 64));
    let app = App {
        greet: GreetServiceClient::new(balanced, ClientConfig::new(uri(addr)).grpc()),
    };
    for i in 0..4 {
        let name = format!("p2c {i}");
        let response = app.greet.greet(request(&name)).await.unwrap();
        assert_eq!(response.greeting, format!("Hello, {name}!"));
    }
    let mut stream = app.greet.greet_stream(request("s")).await.unwrap();
    let mut got = Vec::new();
    while let Some(msg) = stream.message().await {
        got.push(msg.unwrap().greeting);
    }
    assert_eq!(got, ["Hello, s 1!", "Hello, s 2!", "Hello, s 3!"]);
}
