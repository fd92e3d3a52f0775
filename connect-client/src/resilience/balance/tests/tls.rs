//! TLS per endpoint: each endpoint's certificate is checked against its
//! own server name, or the logical host; the request keeps the logical
//! authority either way.

use rcgen::{CertificateParams, CertifiedIssuer, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::*;

struct Pki {
    ca: String,
    /// (certificate, key) per name.
    certs: Vec<(String, String)>,
}

fn pki(names: &[&str]) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let certs = names
        .iter()
        .map(|name| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![(*name).to_owned()])
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        })
        .collect();
    Pki {
        ca: ca.pem(),
        certs,
    }
}

/// A TLS server (ALPN `h2` and `http/1.1`) answering with the SNI it got
/// (`x-sni`) and the authority (`x-authority`).
async fn tls_server(cert: &(String, String)) -> (SocketAddr, oneshot::Sender<()>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(cert.0.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(cert.1.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                _ = &mut stopped => return,
                r = listener.accept() => r.unwrap(),
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let sni = tls.get_ref().1.server_name().unwrap_or("").to_owned();
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let authority = req
                        .uri()
                        .authority()
                        .map(|a| a.to_string())
                        .or_else(|| {
                            req.headers()
                                .get("host")
                                .map(|h| h.to_str().unwrap().to_owned())
                        })
                        .unwrap_or_default();
                    let resp = http::Response::builder()
                        .header("x-authority", authority)
                        .header("x-sni", sni.clone())
                        .body(Full::new(Bytes::from_static(b"ok")))
                        .unwrap();
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (addr, stop)
}

fn https(path: &str) -> http::Request<ClientBody> {
    http::Request::post(format!("https://logical.test:1234{path}"))
        .body(ClientBody::full(Bytes::from_static(b"hi")))
        .unwrap()
}

#[tokio::test]
async fn each_endpoint_is_checked_against_its_own_server_name() {
    let pki = pki(&["logical.test", "b.internal"]);
    let (a, _sa) = tls_server(&pki.certs[0]).await;
    let (b, _sb) = tls_server(&pki.certs[1]).await;
    for version in [HttpVersion::Http2, HttpVersion::Http1] {
        let tls = crate::ClientTlsConfig::with_roots_pem(pki.ca.as_bytes()).unwrap();
        let endpoints = [
            Endpoint::new(a),
            Endpoint::new(b).with_server_name("b.internal"),
        ];
        let channel = fast(StaticResolver::new(endpoints))
            .tls(tls)
            .http_version(version)
            .build();
        // The first call names the logical host: `a` is checked against it.
        let mut seen = std::collections::HashMap::new();
        for _ in 0..40 {
            let resp = channel.clone().oneshot(https("/x")).await.unwrap();
            let served = resp.extensions().get::<ServedBy>().unwrap().0;
            let h = resp.headers();
            assert_eq!(h["x-authority"], "logical.test:1234", "{version:?}");
            let sni = h["x-sni"].to_str().unwrap().to_owned();
            seen.insert(served, sni);
            if seen.len() == 2 {
                break;
            }
            all_ready(&channel, 2).await;
        }
        assert_eq!(
            seen.get(&a).map(String::as_str),
            Some("logical.test"),
            "{version:?}"
        );
        assert_eq!(
            seen.get(&b).map(String::as_str),
            Some("b.internal"),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn an_endpoint_whose_certificate_does_not_match_gets_no_calls() {
    let pki = pki(&["logical.test", "other.name"]);
    let (good, _sg) = tls_server(&pki.certs[0]).await;
    let (bad, _sb) = tls_server(&pki.certs[1]).await;
    let tls = crate::ClientTlsConfig::with_roots_pem(pki.ca.as_bytes()).unwrap();
    let channel = fast(StaticResolver::new([bad, good])).tls(tls).build();
    for _ in 0..10 {
        let resp = channel.clone().oneshot(https("/x")).await.unwrap();
        assert_eq!(resp.extensions().get::<ServedBy>().unwrap().0, good);
    }
    channel
        .wait_until(Duration::from_secs(5), |eps| {
            eps.iter().any(|e| {
                e.addr == bad && e.last_error.as_deref().is_some_and(|m| m.contains("TLS"))
            })
        })
        .await
        .unwrap();
}
