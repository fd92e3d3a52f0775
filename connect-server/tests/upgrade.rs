//! HTTP/1.1 upgrades pass through `Server`: an app serving WebSockets (say,
//! an axum router next to the RPC routes) keeps working.

use std::convert::Infallible;

use connect_server::Server;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Answers `101 Switching Protocols`, then echoes the upgraded stream.
async fn echo_upgrade(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<bytes::Bytes>>, Infallible> {
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 64];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut resp = Response::new(Empty::new());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert("upgrade", "echo".parse().unwrap());
    resp.headers_mut()
        .insert("connection", "upgrade".parse().unwrap());
    Ok(resp)
}

#[tokio::test]
async fn an_upgraded_connection_carries_bytes_both_ways() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = tower::service_fn(echo_upgrade);
    tokio::spawn(Server::new(service).serve_with_listener(listener));

    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(conn.read(&mut byte).await.unwrap(), 1, "closed: {head:?}");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    conn.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        conn.read_exact(&mut echoed),
    )
    .await
    .expect("no echo")
    .unwrap();
    assert_eq!(&echoed, b"ping");
}
