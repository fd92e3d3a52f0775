//! Calls made before a connection exists: the pool dials one and makes
//! the others wait for it. When that dial fails, the waiting calls were
//! never sent: `HttpClient` sends them again instead of failing them. And
//! a burst of first calls over TLS (ALPN `h2`), where every call dials and
//! one connection wins, loses none.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connectrpc::server::TlsConfig;
use connectrpc::{ClientConfig, ClientTlsConfig, HttpClient, Router, Server};
use integration_tests::proto::test::v1::{TestServiceClient, TestServiceExt as _};
use support::UnaryRequest;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A TLS server, and in front of it a port whose first connection is
/// accepted, held for `hold` and closed in the middle of the TLS
/// handshake; later connections are relayed to the server. Returns the
/// front's address, the server's certificate and how many connections the
/// front accepted.
async fn failing_first_connection(hold: Duration) -> (SocketAddr, String, Arc<AtomicUsize>) {
    let (real, pem) = tls_server().await;
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut down, _)) = front.accept().await else {
                return;
            };
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(hold).await;
                drop(down);
                continue;
            }
            tokio::spawn(async move {
                let mut up = TcpStream::connect(real).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
    (addr, pem, accepted)
}

/// A gRPC client over HTTP/2 only (one dial at a time, the other calls
/// wait for it) to a front whose first connection fails its TLS handshake
/// after 100 ms; and how many connections the front accepted.
async fn client_behind_a_failing_first_connection()
-> (TestServiceClient<HttpClient>, Arc<AtomicUsize>) {
    let (addr, pem, accepted) = failing_first_connection(Duration::from_millis(100)).await;
    let tls = ClientTlsConfig::with_roots_pem(pem.as_bytes()).unwrap();
    let channel = HttpClient::builder().http2_only(true).tls(tls).build();
    let base = format!("https://localhost:{}", addr.port())
        .parse()
        .unwrap();
    let client = TestServiceClient::new(channel, ClientConfig::new(base).grpc());
    (client, accepted)
}

#[tokio::test]
async fn calls_waiting_for_a_dial_that_fails_are_sent_again() {
    let (client, accepted) = client_behind_a_failing_first_connection().await;
    let mut calls = JoinSet::new();
    for i in 0..8 {
        let client = client.clone();
        calls.spawn(async move {
            let req = UnaryRequest {
                text: format!("{i}"),
                ..Default::default()
            };
            client.unary(&req).await
        });
    }
    let mut failures = Vec::new();
    let mut ok = 0;
    while let Some(done) = calls.join_next().await {
        match done.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => failures.push(e),
        }
    }
    // The call that dialled the failed connection fails with its TLS
    // handshake; the seven that waited for it are sent again, on a new
    // connection.
    assert_eq!(ok, 7, "failures: {failures:?}");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].code(), connectrpc::Code::Unavailable);
    assert!(
        !failures[0].message().contains("request was canceled"),
        "{}",
        failures[0]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "one failed, one served");
}

#[tokio::test]
async fn streaming_calls_waiting_for_a_dial_that_fails_are_sent_again() {
    let (client, accepted) = client_behind_a_failing_first_connection().await;
    let mut calls = JoinSet::new();
    for i in 0..8 {
        let client = client.clone();
        calls.spawn(async move {
            let reqs = futures_util::stream::iter(["a", "b"].map(|t| UnaryRequest {
                text: format!("{t}{i}"),
                ..Default::default()
            }));
            client
                .client_stream(reqs)
                .await
                .map(|r| (i, r.into_inner()))
        });
    }
    let mut failures = Vec::new();
    let mut ok = 0;
    while let Some(done) = calls.join_next().await {
        match done.unwrap() {
            Ok((i, resp)) => {
                // The whole stream went, on the second connection.
                assert_eq!((resp.text, resp.count), (format!("a{i}b{i}"), 2));
                ok += 1;
            }
            Err(e) => failures.push(e),
        }
    }
    assert_eq!(ok, 7, "failures: {failures:?}");
    assert_eq!(failures.len(), 1);
    assert!(
        !failures[0].message().contains("request was canceled"),
        "{}",
        failures[0]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "one failed, one served");
}

async fn tls_server() -> (SocketAddr, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = TlsConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(support::Impl).register(Router::new());
    tokio::spawn(
        Server::new(router)
            .with_tls(tls)
            .serve_with_listener(listener),
    );
    (addr, cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_first_calls_over_alpn_h2_all_succeed() {
    let (addr, pem) = tls_server().await;
    for round in 0..30 {
        let tls = ClientTlsConfig::with_roots_pem(pem.as_bytes()).unwrap();
        let channel = HttpClient::with_tls(tls);
        let base = format!("https://localhost:{}", addr.port())
            .parse()
            .unwrap();
        let client = TestServiceClient::new(channel, ClientConfig::new(base).grpc());
        let mut calls = JoinSet::new();
        for i in 0..48 {
            let client = client.clone();
            calls.spawn(async move {
                let req = UnaryRequest {
                    text: format!("{i}"),
                    ..Default::default()
                };
                client.unary(&req).await.map(|_| ())
            });
        }
        while let Some(done) = calls.join_next().await {
            if let Err(e) = done.unwrap() {
                panic!("round {round}: {e}");
            }
        }
    }
}
