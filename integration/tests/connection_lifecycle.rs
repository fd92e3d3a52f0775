//! Connections retire gracefully: after a number of requests, after
//! idling, and at their (jittered) age; calls in flight finish, the
//! client moves to a new connection, and nothing fails.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connectrpc::client::ClientBody;
use connectrpc::{ClientConfig, Code, HttpClient, Router, Server};
use futures_util::StreamExt as _;
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceExt as _};
use support::{ServerStreamRequest, UnaryRequest, Version};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn start(server: impl FnOnce(Server<Router>) -> Server<Router>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(support::Impl).register(Router::new());
    tokio::spawn(server(Server::new(router)).serve_with_listener(listener));
    addr
}

fn unary(text: &str) -> http::Request<support::BoxBody> {
    support::post("/test.v1.TestService/Unary", "application/json")
        .body(support::full(format!(r#"{{"text":"{text}"}}"#)))
        .unwrap()
}

const UNARY_HTTP1: &[u8] = b"POST /test.v1.TestService/Unary HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"text\":\"hi\"}";

/// Reads one HTTP/1.1 response with a `content-length` body.
async fn read_response(conn: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before a whole response: {got:?}");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

/// Waits for the peer to close `conn`; how long that took.
async fn closed_within(conn: &mut tokio::net::TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server kept the connection open");
    started.elapsed()
}

#[tokio::test]
async fn http1_the_last_request_of_the_quota_says_connection_close() {
    let addr = start(|s| s.max_requests_per_connection(Some(3))).await;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    for i in 1..=3 {
        conn.write_all(UNARY_HTTP1).await.unwrap();
        let resp = read_response(&mut conn).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        let close = resp.to_ascii_lowercase().contains("connection: close");
        assert_eq!(close, i == 3, "request {i}: {resp}");
    }
    closed_within(&mut conn, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn http2_a_spent_connection_goes_away_and_the_client_moves_on() {
    let addr = start(|s| s.max_requests_per_connection(Some(2))).await;
    // A raw connection: two requests, then it is finished.
    let mut conn = support::connect(addr, Version::H2c).await;
    for _ in 0..2 {
        assert_eq!(conn.send(unary("hi")).await.status, 200);
    }
    let support::Conn::H2(mut send) = conn else {
        unreachable!()
    };
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        send.ready().await?;
        send.send_request(unary("late")).await
    })
    .await
    .expect("a spent connection hung");
    assert!(refused.is_err(), "a third request was served");

    // A pooled client just reconnects: every call succeeds.
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base).grpc());
    for i in 0..10 {
        let text = format!("call {i}");
        let reply = client
            .unary(&UnaryRequest {
                text: text.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(reply.message().text, text);
    }
}

#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_are_not() {
    let idle = Duration::from_millis(300);
    // A silent HTTP/2 client never acknowledges the GOAWAY's ping: it is
    // closed at the end of the grace period.
    let addr = start(|s| {
        s.max_connection_idle(Some(idle))
            .connection_age_grace(Duration::from_millis(500))
    })
    .await;

    // HTTP/1.1 (the head-read limit is longer): closed after idling.
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(UNARY_HTTP1).await.unwrap();
    read_response(&mut conn).await;
    let waited = closed_within(&mut conn, Duration::from_secs(3)).await;
    assert!(waited >= idle / 2, "closed too early: {waited:?}");

    // HTTP/2: a connection that sends nothing is closed too...
    let mut raw = tokio::net::TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    closed_within(&mut raw, Duration::from_secs(3)).await;

    // ...but one busy with a stream longer than the idle limit is not.
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base));
    let stream = client
        .server_stream(&ServerStreamRequest {
            text: "s".into(),
            count: 8,
            delay_ms: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 8);
    assert!(items.iter().all(Result::is_ok), "{items:?}");
}

#[tokio::test]
async fn an_aged_connection_finishes_its_stream_then_the_client_reconnects() {
    let addr = start(|s| {
        s.max_connection_age(Some(Duration::from_millis(300)))
            .connection_age_grace(Duration::from_secs(5))
    })
    .await;
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base).grpc());
    // A stream that outlives the connection's age: it finishes in the
    // grace period.
    let stream = client
        .server_stream(&ServerStreamRequest {
            text: "s".into(),
            count: 10,
            delay_ms: 80,
            ..Default::default()
        })
        .await
        .unwrap();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    // Calls spread over several ages all succeed.
    for i in 0..8 {
        client
            .unary(&UnaryRequest {
                text: format!("{i}"),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stream_past_the_grace_period_ends_unavailable() {
    let addr = start(|s| {
        s.max_connection_age(Some(Duration::from_millis(200)))
            .connection_age_grace(Duration::from_millis(300))
    })
    .await;
    let base: http::Uri = format!("http://{addr}").parse().unwrap();
    let http: HttpClient<ClientBody> = HttpClient::builder().http2_only(true).build();
    let client = TestServiceClient::new(http, ClientConfig::new(base).grpc());
    let mut stream = client
        .server_stream(&ServerStreamRequest {
            text: "s".into(),
            count: 1000,
            delay_ms: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let started = Instant::now();
    let err = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("the stream outlived age + grace")
        {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e,
            None => panic!("the stream ended without an error"),
        }
    };
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_http2_only_server_closes_http1_cleanly_and_serves_h2c() {
    let addr = start(|s| s.http2_only(true)).await;
    // HTTP/1.1 is not the preface: closed with FIN, no HTTP/1.1 answer.
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(UNARY_HTTP1).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), conn.read_to_end(&mut got))
        .await
        .expect("the connection stayed open")
        .expect("closed with a reset, not a FIN");
    assert!(
        got.is_empty(),
        "answered: {:?}",
        String::from_utf8_lossy(&got)
    );
    // HTTP/2 with prior knowledge is served.
    let mut h2 = support::connect(addr, Version::H2c).await;
    assert_eq!(h2.send(unary("hi")).await.status, 200);
}
