//! The example service over a real socket: standalone and under axum.

use std::net::SocketAddr;
use std::sync::Arc;

use connectrpc::{Router, Server};
use examples::Greeter;
use examples::proto::greet::v1::GreetServiceExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve<S, B>(svc: S) -> SocketAddr
where
    S: tower_service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Server::new(svc).serve_with_listener(listener));
    addr
}

/// One HTTP/1.1 request written by hand; returns the raw response.
async fn raw(addr: SocketAddr, request: String) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn post_json(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn standalone_greet_and_stream() {
    let addr = serve(Arc::new(Greeter).register(Router::new())).await;
    let resp = raw(
        addr,
        post_json("/greet.v1.GreetService/Greet", r#"{"name":"Ada"}"#),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with(r#"{"greeting":"Hello, Ada!"}"#), "{resp}");

    let resp = raw(
        addr,
        "GET /greet.v1.GreetService/Greet?encoding=json&message=%7B%7D HTTP/1.1\r\n\
         host: x\r\nconnection: close\r\n\r\n"
            .to_owned(),
    )
    .await;
    assert!(resp.contains("Hello, World!"), "{resp}");

    let bad = raw(addr, post_json("/greet.v1.GreetService/Greet", "{nope")).await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains(r#""code":"invalid_argument""#), "{bad}");
}

#[tokio::test]
async fn under_axum_next_to_a_health_route() {
    let connect = Arc::new(Greeter).register(Router::new());
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .fallback_service(connect.into_axum_service());
    let addr = serve(app).await;
    let health = raw(
        addr,
        "GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_owned(),
    )
    .await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );
    let resp = raw(
        addr,
        post_json("/greet.v1.GreetService/Greet", r#"{"name":"axum"}"#),
    )
    .await;
    assert!(resp.ends_with(r#"{"greeting":"Hello, axum!"}"#), "{resp}");
    let missing = raw(addr, post_json("/greet.v1.GreetService/Nope", "{}")).await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}
