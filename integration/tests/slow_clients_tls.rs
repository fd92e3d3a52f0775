//! Silent and slow clients over TLS are dropped within the server's limits:
//! a TCP connection that never starts the handshake, a handshake stalled
//! halfway through the ClientHello, an HTTP/1.1 request head that never
//! ends, and an HTTP/2 connection (ALPN h2) that never sends, or only half
//! sends, the connection preface. A prompt client is served past the same
//! limits. (`slow_clients.rs` has the cleartext cases.)

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connectrpc::server::TlsConfig;
use connectrpc::{Router, Server};
use hyper_util::rt::{TokioExecutor, TokioIo};
use integration_tests::proto::test::v1::TestServiceExt as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server on 127.0.0.1 with a fresh self-signed certificate; the
/// client configuration that trusts it.
struct TlsServer {
    addr: SocketAddr,
    roots: rustls::RootCertStore,
}

async fn start(first_byte: Duration, header_read: Duration) -> TlsServer {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let tls = TlsConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap())
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Arc::new(support::Impl).register(Router::new());
    tokio::spawn(
        Server::new(router)
            .with_tls(tls)
            .first_byte_timeout(first_byte)
            .header_read_timeout(header_read)
            .serve_with_listener(listener),
    );
    TlsServer { addr, roots }
}

impl TlsServer {
    fn client_config(&self, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(config)
    }

    /// A finished handshake offering only `alpn`.
    async fn handshake(&self, alpn: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(self.client_config(alpn))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
        tls
    }

    /// The first half of the ClientHello a real client sends.
    fn half_a_client_hello(&self) -> Vec<u8> {
        let mut conn = rustls::ClientConnection::new(
            self.client_config(b"h2"),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).unwrap();
        assert!(hello.len() > 100 && hello[0] == 0x16, "{hello:?}");
        hello.truncate(hello.len() / 2);
        hello
    }
}

/// Reads until the server closes the connection (or fails it); how long
/// that took.
async fn closed_after(mut conn: impl AsyncRead + Unpin) -> Duration {
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

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_silent_tcp_connection_is_closed() {
    let server = start(SHORT, LONG).await;
    let conn = TcpStream::connect(server.addr).await.unwrap();
    let waited = closed_after(conn).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn a_stalled_handshake_is_closed() {
    let server = start(SHORT, LONG).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(&server.half_a_client_hello()).await.unwrap();
    let waited = closed_after(conn).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn an_unfinished_http1_request_head_is_closed() {
    // The first-byte limit is long: the head limit closes it.
    let server = start(LONG, SHORT).await;
    let mut tls = server.handshake(b"http/1.1").await;
    tls.write_all(b"POST /test.v1.TestService/Unary HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let waited = closed_after(tls).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn an_http2_connection_without_a_preface_is_closed() {
    let server = start(SHORT, LONG).await;
    let tls = server.handshake(b"h2").await;
    let waited = closed_after(tls).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn an_http2_connection_with_half_a_preface_is_closed() {
    let server = start(SHORT, LONG).await;
    let mut tls = server.handshake(b"h2").await;
    tls.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let waited = closed_after(tls).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

/// The limits bound the start of a connection, not its life: a prompt
/// client over TLS is served before and after they pass, on HTTP/2 and
/// HTTP/1.1.
#[tokio::test]
async fn a_prompt_tls_client_is_served_past_the_limits() {
    let server = start(SHORT, SHORT).await;
    let request = || {
        support::post("/test.v1.TestService/Unary", "application/json")
            .body(support::full(r#"{"text":"hi"}"#))
            .unwrap()
    };
    let io = TokioIo::new(server.handshake(b"h2").await);
    let (mut h2, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    tokio::spawn(conn);
    let io = TokioIo::new(server.handshake(b"http/1.1").await);
    let (mut h1, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        h2.ready().await.unwrap();
        let reply = h2.send_request(request()).await.unwrap();
        assert_eq!(reply.status(), 200);
        h1.ready().await.unwrap();
        let reply = h1.send_request(request()).await.unwrap();
        assert_eq!(reply.status(), 200);
        // Drain the HTTP/1.1 body so the connection can take the next
        // request.
        http_body_util::BodyExt::collect(reply.into_body())
            .await
            .unwrap();
        // Less than the head limit between requests, but more than the
        // first-byte limit in all.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
