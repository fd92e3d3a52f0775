//! TLS for the standalone server: rustls, ALPN `h2` and `http/1.1`,
//! optional client-certificate verification.

use std::fmt;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The error of building a TLS configuration, defined once in
/// `connect-core` for the server and the client.
pub use connect_core::TlsError;

fn err(context: &str, e: impl fmt::Display) -> TlsError {
    TlsError::new(format!("{context}: {e}"))
}

/// The server's TLS settings: its certificate chain and key, and whether
/// (and against which roots) to verify client certificates.
///
/// ```no_run
/// # fn load() -> Result<(), Box<dyn std::error::Error>> {
/// use connect_server::{Router, Server, TlsConfig};
///
/// let tls = TlsConfig::from_pem(&std::fs::read("cert.pem")?, &std::fs::read("key.pem")?)?
///     .require_client_certs(&std::fs::read("clients-ca.pem")?)?;
/// let server = Server::new(Router::new()).with_tls(tls);
/// # drop(server);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    client_roots: Option<Arc<RootCertStore>>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("chain_len", &self.chain.len())
            .field("client_auth", &self.client_roots.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// A configuration from a PEM certificate chain and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("certificate chain", e))?;
        if chain.is_empty() {
            return Err(TlsError::new("certificate chain: no certificate found"));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| err("private key", e))?;
        Ok(TlsConfig {
            chain,
            key: Arc::new(key),
            client_roots: None,
        })
    }

    /// Requires every client to present a certificate signed by one of the
    /// PEM CA certificates in `ca`.
    pub fn require_client_certs(mut self, ca: &[u8]) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca) {
            roots
                .add(cert.map_err(|e| err("client CA", e))?)
                .map_err(|e| err("client CA", e))?;
        }
        if roots.is_empty() {
            return Err(TlsError::new("client CA: no certificate found"));
        }
        self.client_roots = Some(Arc::new(roots));
        Ok(self)
    }

    /// The rustls configuration: ALPN `h2` then `http/1.1`.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("protocol versions", e))?;
        let builder = match &self.client_roots {
            Some(roots) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider)
                    .build()
                    .map_err(|e| err("client verifier", e))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| err("certificate", e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
