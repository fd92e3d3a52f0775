//! HTTP/1.1: a call that ends before its request body arrives still
//! answers cleanly and leaves the connection usable (or says it will close).

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one HTTP/1.1 response with a content-length body.
async fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("response timed out")
            .unwrap();
        assert!(
            n > 0,
            "connection closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let len = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + len {
                return text;
            }
        }
    }
}

/// Sends the head now and the chunked body `delay` later, as Node's client
/// does.
async fn slow_body_call(
    s: &mut TcpStream,
    path: &str,
    content_type: &str,
    body: &[u8],
    delay: Duration,
) -> String {
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(delay).await;
    let chunk = format!("{:x}\r\n", body.len());
    s.write_all(chunk.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    s.write_all(b"\r\n0\r\n\r\n").await.unwrap();
    read_response(s).await
}

#[tokio::test]
async fn early_errors_keep_the_connection_usable() {
    let server = start().await;
    let good = encode(&unary_req("again"));
    let cases = [
        ("/test.v1.TestService/Nope", "application/proto", "404"),
        ("/test.v1.TestService/Unary", "text/plain", "415"),
        ("/test.v1.TestService/Nope", "application/grpc-web", "200"),
    ];
    for (path, ct, status) in cases {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let resp = slow_body_call(&mut s, path, ct, &good, Duration::from_millis(50)).await;
        assert!(resp.starts_with(&format!("HTTP/1.1 {status}")), "{resp}");
        assert!(
            !resp.to_ascii_lowercase().contains("connection: close"),
            "{resp}"
        );
        // The same connection serves the next call.
        let resp = slow_body_call(
            &mut s,
            "/test.v1.TestService/Unary",
            "application/proto",
            &good,
            Duration::from_millis(50),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
}

#[tokio::test]
async fn a_body_too_slow_to_wait_for_gets_connection_close_not_a_reset() {
    let server = start().await;
    let good = encode(&unary_req("late"));
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // The answer is not held back for the whole body, but the client can
    // still finish writing (the drain keeps reading) and read it.
    let resp = slow_body_call(
        &mut s,
        "/test.v1.TestService/Nope",
        "application/proto",
        &good,
        Duration::from_millis(1500),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
}

#[tokio::test]
async fn an_undrainable_body_is_answered_with_connection_close() {
    let server = start().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    // A body far over the drain allowance, for a path that does not exist.
    let head = "POST /nope HTTP/1.1\r\nhost: x\r\ncontent-type: application/proto\r\ncontent-length: 10000000\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let junk = vec![0u8; 512 * 1024];
    let _ = s.write_all(&junk).await;
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
}
