//! Silent and slow clients are dropped, and connections are capped: a connection that sends nothing
//! (or half an HTTP/2 preface), a request body that stalls,
//! and an HTTP/1.1 client whose request head never finishes, are closed
//! within the server's limits (cleartext; the TLS handshake has the same
//! first-byte limit).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connectrpc::{Router, Server};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::TestServiceExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(first_byte: Duration, header_read: Duration) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(support::Impl).register(Router::new());
    tokio::spawn(
        Server::new(router)
            .first_byte_timeout(first_byte)
            .header_read_timeout(header_read)
            .serve_with_listener(listener),
    );
    addr
}

/// Reads until the server closes the connection; how long that took.
async fn closed_after(mut conn: tokio::net::TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    read.await.expect("the server kept the connection open");
    started.elapsed()
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let addr = start(Duration::from_millis(300), Duration::from_secs(5)).await;
    let conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let waited = closed_after(conn).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn an_unfinished_request_head_is_closed() {
    let addr = start(Duration::from_secs(5), Duration::from_millis(300)).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"POST /test.v1.TestService/Unary HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let waited = closed_after(conn).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn a_prompt_client_is_served_past_the_limits() {
    let addr = start(Duration::from_millis(300), Duration::from_millis(300)).await;
    let mut conn = support::connect(addr, support::Version::Http1).await;
    for _ in 0..3 {
        let req = support::post("/test.v1.TestService/Unary", "application/json")
            .body(support::full(r#"{"text":"hi"}"#))
            .unwrap();
        assert_eq!(conn.send(req).await.status, 200);
        // Idle between requests for less than the limits.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The head-read limit also bounds an idle keep-alive HTTP/1.1
/// connection: waiting for the next request's head counts.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_head_limit() {
    let addr = start(Duration::from_millis(300), Duration::from_millis(300)).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"POST /test.v1.TestService/Unary HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"text\":\"hi\"}").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(n > 0);
    let waited = closed_after(conn).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(support::Impl).register(Router::new());
    tokio::spawn(
        Server::new(router)
            .max_connections(1)
            .serve_with_listener(listener),
    );
    let request = || {
        support::post("/test.v1.TestService/Unary", "application/json")
            .body(support::full(r#"{"text":"hi"}"#))
            .unwrap()
    };
    let mut first = support::connect(addr, support::Version::Http1).await;
    assert_eq!(first.send(request()).await.status, 200);
    // A second connection is not served while the first is open...
    let mut second = support::connect(addr, support::Version::Http1).await;
    let pending = tokio::spawn(async move { second.send(request()).await.status });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "served over the cap");
    // ...and is, once it closes.
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("served after a slot freed")
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_half_sent_http2_preface_is_closed() {
    let addr = start(Duration::from_millis(300), Duration::from_secs(5)).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The first bytes of the preface, then nothing: undecided until the
    // first-byte limit ends it.
    conn.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let waited = closed_after(conn).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

/// A server whose unary request bodies may stall for 300 ms.
async fn start_with_body_limit() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(support::Impl)
        .register(Router::new())
        .request_body_timeout(Some(Duration::from_millis(300)));
    tokio::spawn(Server::new(router).serve_with_listener(listener));
    addr
}

#[tokio::test]
async fn a_stalled_http1_request_body_fails_deadline_exceeded_and_closes() {
    let addr = start_with_body_limit().await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Announces 13 bytes, sends 5.
    conn.write_all(b"POST /test.v1.TestService/Unary HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"tex")
        .await
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server kept a stalled body's connection open");
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 504"), "{text}");
    assert!(text.contains("deadline_exceeded"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_stalled_http2_request_body_fails_deadline_exceeded() {
    let addr = start_with_body_limit().await;
    let mut conn = support::connect(addr, support::Version::H2c).await;
    // One byte of the message, then the body stays open and silent.
    let stalled = http_body_util::StreamBody::new(
        futures_util::stream::iter([Ok(hyper::body::Frame::data(bytes::Bytes::from_static(
            b"{",
        )))])
        .chain(futures_util::stream::pending()),
    );
    let req = support::post("/test.v1.TestService/Unary", "application/json")
        .body(http_body_util::BodyExt::boxed(stalled))
        .unwrap();
    let started = Instant::now();
    let reply = conn.send(req).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["code"], "deadline_exceeded");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The connection serves on.
    let req = support::post("/test.v1.TestService/Unary", "application/json")
        .body(support::full(r#"{"text":"after"}"#))
        .unwrap();
    assert_eq!(conn.send(req).await.status, 200);
}
