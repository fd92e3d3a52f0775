//! TLS: ALPN h2 and http/1.1, and client-certificate verification.
#![cfg(feature = "tls")]

use std::sync::Arc;

use bytes::Bytes;
use connect_core::{ConnectError, Idempotency, MethodDescriptor, StreamType};
use connect_layers::rpc::{Frame, RequestMessages, ResponseMessages, RpcRequest, RpcResponse};
use connect_server::{Router, Server, TlsConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, CertifiedIssuer, KeyPair};
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

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = if with_cert {
        builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(pki.client_pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).unwrap(),
            )
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
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
    let (_, body) = call(addr, client_config(&pki, true, b"h2")).await.unwrap();
    assert_eq!(&body[..], b"\x0a\x02hi");
    assert!(call(addr, client_config(&pki, false, b"h2")).await.is_err());
}

#[test]
fn bad_pem_is_a_clear_error() {
    let err = TlsConfig::from_pem(b"not pem", b"nor this").unwrap_err();
    assert!(err.to_string().contains("certificate chain"), "{err}");
    let pki = pki();
    let cfg = TlsConfig::from_pem(pki.server_pem.as_bytes(), pki.server_key.as_bytes()).unwrap();
    assert!(cfg.require_client_certs(b"").is_err());
}
