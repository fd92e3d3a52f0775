//! TLS transports against a real hyper server with a certificate for
//! 127.0.0.1: ALPN choosing HTTP/2 or HTTP/1.1, client certificates, and
//! handshake failures; HTTP/2 keep-alive against a raw TLS peer.
#![cfg(feature = "tls")]

mod transport_support;

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use connect_client::transport::{ClientTlsConfig, Http2Connection, HttpClient};
use connect_core::{Code, ConnectError};
use connect_layers::ClientBody;
use rcgen::{CertificateParams, CertifiedIssuer, KeyPair};
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tower_service::Service;
use transport_support::raw_h2::{Pings, RawH2};
use transport_support::{TestServer, bounded, post, read};

/// Readies `svc`, then calls it.
async fn call<S, R>(svc: &mut S, req: R) -> Result<S::Response, ConnectError>
where
    S: Service<R, Error = ConnectError>,
{
    poll_fn(|cx| svc.poll_ready(cx)).await?;
    svc.call(req).await
}

struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key: String,
    client_pem: String,
    client_key: String,
}

/// A CA, a server certificate for the IP 127.0.0.1 and a client
/// certificate, all signed by the CA.
fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
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

/// A TLS server offering ALPN `h2` and `http/1.1`, requiring a client
/// certificate signed by the CA if `require_client_cert`.
async fn tls_server(pki: &Pki, require_client_cert: bool) -> TestServer {
    let mut config = server_config(pki, require_client_cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    TestServer::tls(tokio_rustls::TlsAcceptor::from(Arc::new(config))).await
}

/// The server's TLS settings, without ALPN.
fn server_config(pki: &Pki, require_client_cert: bool) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(pki.server_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap(),
        )
        .unwrap()
}

/// A raw HTTP/2 peer over TLS (ALPN `h2`) that answers or ignores PINGs.
async fn raw_tls_peer(pki: &Pki, pings: Pings) -> RawH2 {
    let mut config = server_config(pki, false);
    config.alpn_protocols = vec![b"h2".to_vec()];
    RawH2::start(
        pings,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
    )
    .await
}

fn roots(pki: &Pki) -> ClientTlsConfig {
    ClientTlsConfig::with_roots_pem(pki.ca_pem.as_bytes()).unwrap()
}

#[tokio::test]
async fn alpn_chooses_h2() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki, false).await;
        let mut client = HttpClient::with_tls(roots(&pki));
        let resp = call(&mut client, post(&server.url("https", "/s.v1.S/M"), b"tls"))
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.headers()["x-client-cert"], "no");
        let (version, body) = read(resp).await;
        assert_eq!(version, "HTTP/2.0");
        assert_eq!(body, "tls");

        // The same client still speaks plain HTTP/1.1 to `http` URIs.
        let plain = TestServer::plaintext().await;
        let resp = call(&mut client, post(&plain.url("http", "/"), b""))
            .await
            .unwrap();
        assert_eq!(read(resp).await.0, "HTTP/1.1");
    })
    .await;
}

#[tokio::test]
async fn http1_only_offers_only_http1() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki, false).await;
        let mut client = HttpClient::builder()
            .tls(roots(&pki))
            .http1_only(true)
            .build();
        let resp = call(&mut client, post(&server.url("https", "/s.v1.S/M"), b"h1"))
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_11);
        assert_eq!(read(resp).await, ("HTTP/1.1".to_owned(), "h1".into()));
    })
    .await;
}

#[tokio::test]
async fn http2_only_over_tls() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki, false).await;
        let mut client = HttpClient::builder()
            .http1_only(true)
            .http2_only(true)
            .tls(roots(&pki))
            .build();
        let resp = call(&mut client, post(&server.url("https", "/s.v1.S/M"), b"h2"))
            .await
            .unwrap();
        assert_eq!(read(resp).await, ("HTTP/2.0".to_owned(), "h2".into()));
    })
    .await;
}

#[tokio::test]
async fn client_certificates() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki, true).await;
        let url = server.url("https", "/s.v1.S/M");

        let with_cert = roots(&pki)
            .client_auth_pem(pki.client_pem.as_bytes(), pki.client_key.as_bytes())
            .unwrap();
        assert!(with_cert.has_client_auth());
        let mut client = HttpClient::with_tls(with_cert.clone());
        let resp = call(&mut client, post(&url, b"mtls")).await.unwrap();
        assert_eq!(resp.headers()["x-client-cert"], "yes");
        assert_eq!(read(resp).await.1, "mtls");

        let mut conn = Http2Connection::connect_with_tls(url.parse().unwrap(), with_cert)
            .await
            .unwrap();
        let resp = call(&mut conn, post("/s.v1.S/M", b"mtls-h2"))
            .await
            .unwrap();
        assert_eq!(read(resp).await, ("HTTP/2.0".to_owned(), "mtls-h2".into()));

        // Without a certificate the server ends the handshake.
        for http1_only in [false, true] {
            let mut client = HttpClient::builder()
                .tls(roots(&pki))
                .http1_only(http1_only)
                .build();
            let err = call(&mut client, post(&url, b"")).await.unwrap_err();
            assert_eq!(err.code(), Code::Unavailable, "{err}");
        }
    })
    .await;
}

#[tokio::test]
async fn untrusted_server_certificates_fail_the_handshake() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki, false).await;
        let url = server.url("https", "/s.v1.S/M");

        // The Mozilla roots do not include the test CA.
        let mut client = HttpClient::with_tls(ClientTlsConfig::webpki_roots());
        let err = call(&mut client, post(&url, b"")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(
            err.message().starts_with("TLS handshake with 127.0.0.1:"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("certificate"), "{}", err.message());

        // `connect` trusts the Mozilla roots for `https`.
        let err = Http2Connection::connect(url.parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert!(err.message().contains("TLS handshake"), "{}", err.message());
    })
    .await;
}

#[tokio::test]
async fn http2_connection_over_tls() {
    bounded(async {
        let pki = pki();
        let server = tls_server(&pki, false).await;
        let mut conn = Http2Connection::builder()
            .tls(roots(&pki))
            .connect(server.url("https", "").parse().unwrap())
            .await
            .unwrap();
        let resp = call(&mut conn, post("/s.v1.S/M", b"tls-h2")).await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(read(resp).await, ("HTTP/2.0".to_owned(), "tls-h2".into()));
    })
    .await;
}

/// Keep-alive over TLS, against a raw peer: answered PINGs keep the
/// connection up past the keep-alive timeout; an unanswered one closes it
/// once the timeout runs out.
#[tokio::test]
async fn http2_connection_over_tls_keep_alive() {
    bounded(async {
        let pki = pki();
        let timeout = Duration::from_millis(300);
        let connect = |peer: &RawH2| {
            Http2Connection::builder()
                .tls(roots(&pki))
                .keep_alive_interval(Duration::from_millis(50))
                .keep_alive_timeout(timeout)
                .keep_alive_while_idle(true)
                .connect::<ClientBody>(peer.url("https").parse().unwrap())
        };
        let within = Duration::from_secs(10);

        let answering = raw_tls_peer(&pki, Pings::Answer).await;
        let conn = connect(&answering).await.unwrap();
        let seen = answering.wait_for(within, |s| s.pings.len() >= 8).await;
        assert!(seen.closed.is_none(), "{seen:?}");
        assert!(!conn.is_closed());

        let silent = raw_tls_peer(&pki, Pings::Ignore).await;
        let mut conn = connect(&silent).await.unwrap();
        let seen = silent.wait_for(within, |s| s.closed.is_some()).await;
        assert_eq!(seen.pings.len(), 1, "{seen:?}");
        let waited = seen.closed.unwrap() - seen.pings[0];
        assert!(waited >= timeout / 2, "closed after {waited:?}");
        let err = call(&mut conn, post("/s.v1.S/M", b"")).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err}");
    })
    .await;
}

#[test]
fn tls_config_errors_are_clear() {
    let err = ClientTlsConfig::with_roots_pem(b"").unwrap_err();
    assert!(err.to_string().contains("no certificate found"), "{err}");
    let pki = pki();
    // A key that is not the certificate's.
    let other = KeyPair::generate().unwrap().serialize_pem();
    let err = roots(&pki)
        .client_auth_pem(pki.client_pem.as_bytes(), other.as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("client certificate"), "{err}");
    let more = roots(&pki).add_roots_pem(pki.ca_pem.as_bytes()).unwrap();
    assert!(format!("{more:?}").contains("roots: 2"), "{more:?}");
}
