//! TLS: ALPN h2 and http/1.1, and client-certificate verification.
#![cfg(feature = "tls")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
use connect_layers::rpc::{Frame, RequestMessages, ResponseMessages, RpcRequest, RpcResponse};
use connect_server::{Router, Server, TlsConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, CertifiedIssuer, KeyPair};
use rustls::{AlertDescription, CertificateError};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

static ECHO: [MethodDescriptor; 1] = [MethodDescriptor::new(
    "t.v1.S",
    "Echo",
    "/t.v1.S/Echo",
    StreamType::Unary,
    Idempotency::Unknown,
)];

fn router() -> Router {
    let echo = tower::service_fn(|req: RpcRequest| async move {
        let RequestMessages::Unary(frame) = req.messages else {
            unreachable!()
        };
        Ok::<_, ConnectError>(RpcResponse {
            messages: ResponseMessages::Unary(Frame::new(frame.data)),
            ..Default::default()
        })
    });
    Router::new().add_methods(&ECHO, echo)
}

struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key: String,
    client_pem: String,
    client_key: String,
}

/// A CA, a server certificate for `localhost` and a client certificate,
/// both signed by the CA. Every call makes a new, unrelated CA, with a
/// name of its own.
fn pki() -> Pki {
    static CAS: AtomicUsize = AtomicUsize::new(0);
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let name = format!("test CA {}", CAS.fetch_add(1, Ordering::Relaxed));
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_pem: server.pem(),
        server_key: server_key.serialize_pem(),
        client_pem: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

async fn start(tls: TlsConfig) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::new(router())
            .with_tls(tls)
            .serve_with_listener(listener),
    );
    addr
}

fn client_config(pki: &Pki, with_cert: bool, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    let cert = with_cert.then_some(pki);
    client_config_with(&pki.ca_pem, cert, alpn)
}

/// A client that trusts `roots_pem` and, with `cert`, presents `cert`'s
/// client certificate.
fn client_config_with(
    roots_pem: &str,
    cert: Option<&Pki>,
    alpn: &[u8],
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(roots_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match cert {
        Some(pki) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(pki.client_pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// Connects with `config` and, once the client's side of the handshake is
/// done, sends the HTTP/2 preface and reads: returns the TLS error the
/// connection ended with, on the client's side (for instance a bad server
/// certificate) or from the server's alert (TLS 1.3 clients learn that the
/// server refused their certificate on their first read). Panics if the
/// connection works.
async fn tls_failure(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> rustls::Error {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(config);
    let server_name = ServerName::try_from("localhost").unwrap();
    let io_error = match connector.connect(server_name, tcp).await {
        Err(e) => e,
        Ok(mut tls) => {
            tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                .await
                .unwrap();
            tls.flush().await.unwrap();
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
                .await
                .expect("the server neither answered nor refused the connection");
            match read {
                Err(e) => e,
                Ok(n) => panic!("the connection worked: read {n} bytes"),
            }
        }
    };
    let rustls_error = io_error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(e) => e.clone(),
        None => panic!("not a TLS error: {io_error:?}"),
    }
}

/// Calls Echo over TLS; `Err` if the handshake or the call fails.
async fn call(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<(String, Bytes), Box<dyn std::error::Error + Send + Sync>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let alpn = String::from_utf8(tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec())?;
    let req = http::Request::post("https://localhost/t.v1.S/Echo")
        .header("content-type", "application/proto")
        .body(Full::new(Bytes::from_static(b"\x0a\x02hi")))?;
    let resp = if alpn == "h2" {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        send.send_request(req).await?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        send.send_request(req).await?
    };
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((alpn, body))
}

#[tokio::test]
async fn serves_h2_and_http1_over_tls() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.server_pem.as_bytes(), pki.server_key.as_bytes()).unwrap();
    let addr = start(tls).await;
    for alpn in ["h2", "http/1.1"] {
        let (negotiated, body) = call(addr, client_config(&pki, false, alpn.as_bytes()))
            .await
            .unwrap();
        assert_eq!(negotiated, alpn);
        assert_eq!(&body[..], b"\x0a\x02hi");
    }
}

#[tokio::test]
async fn client_certificates_are_verified_when_required() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.server_pem.as_bytes(), pki.server_key.as_bytes())
        .unwrap()
        .require_client_certs(pki.ca_pem.as_bytes())
        .unwrap();
    let addr = start(tls).await;
    for alpn in ["h2", "http/1.1"] {
        let (negotiated, body) = call(addr, client_config(&pki, true, alpn.as_bytes()))
            .await
            .unwrap();
        assert_eq!(negotiated, alpn);
        assert_eq!(&body[..], b"\x0a\x02hi");
    }

    // No certificate: the server ends the handshake with the
    // `certificate_required` alert.
    let err = tls_failure(addr, client_config(&pki, false, b"h2")).await;
    assert_eq!(
        err,
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        "{err}"
    );

    // A certificate from a CA the server does not trust: `unknown_ca`.
    let stranger = self::pki();
    let err = tls_failure(
        addr,
        client_config_with(&pki.ca_pem, Some(&stranger), b"h2"),
    )
    .await;
    assert_eq!(
        err,
        rustls::Error::AlertReceived(AlertDescription::UnknownCA),
        "{err}"
    );

    // The server still serves a client with a good certificate.
    let (_, body) = call(addr, client_config(&pki, true, b"h2")).await.unwrap();
    assert_eq!(&body[..], b"\x0a\x02hi");
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.server_pem.as_bytes(), pki.server_key.as_bytes()).unwrap();
    let addr = start(tls).await;
    // The client trusts another CA only.
    let other = self::pki();
    let err = tls_failure(addr, client_config_with(&other.ca_pem, None, b"h2")).await;
    assert_eq!(
        err,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        "{err}"
    );
    // With the right root, the same server is trusted.
    let (negotiated, _) = call(addr, client_config(&pki, false, b"h2")).await.unwrap();
    assert_eq!(negotiated, "h2");
}

#[test]
fn bad_pem_is_a_clear_error() {
    let err = TlsConfig::from_pem(b"not pem", b"nor this").unwrap_err();
    assert!(err.to_string().contains("certificate chain"), "{err}");
    let pki = pki();
    let cfg = TlsConfig::from_pem(pki.server_pem.as_bytes(), pki.server_key.as_bytes()).unwrap();
    assert!(cfg.require_client_certs(b"").is_err());
}
