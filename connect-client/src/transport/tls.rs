//! TLS for the client transports: rustls with the `ring` provider, server
//! roots and an optional client certificate.

use std::fmt;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// ALPN protocol id of HTTP/2.
pub(crate) const ALPN_H2: &[u8] = b"h2";
/// ALPN protocol id of HTTP/1.1.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The error of building a TLS configuration, defined once in
/// `connect-core` for the server and the client.
pub use connect_core::TlsError;

fn err(context: &str, e: impl fmt::Display) -> TlsError {
    TlsError::new(format!("{context}: {e}"))
}

/// The client's TLS settings: which roots to trust for server certificates
/// and, optionally, a client certificate to present.
///
/// The ALPN protocols are not part of it: each transport offers what it can
/// speak (see [`HttpClientBuilder`](super::HttpClientBuilder)).
/// Certificates for IP addresses are verified against the IP in the URI
/// (`https://127.0.0.1:8443`).
///
/// ```no_run
/// # fn load() -> Result<(), Box<dyn std::error::Error>> {
/// use connect_client::transport::{ClientTlsConfig, HttpClient};
///
/// // Public servers: the Mozilla roots.
/// let public: HttpClient = HttpClient::with_tls(ClientTlsConfig::webpki_roots());
///
/// // A private CA, and a client certificate for servers that require one.
/// let tls = ClientTlsConfig::with_roots_pem(&std::fs::read("ca.pem")?)?
///     .client_auth_pem(&std::fs::read("client.pem")?, &std::fs::read("client-key.pem")?)?;
/// let private: HttpClient = HttpClient::with_tls(tls);
/// # drop((public, private));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClientTlsConfig {
    roots: Arc<RootCertStore>,
    client_cert: Option<Arc<CertifiedKey>>,
}

impl fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("roots", &self.roots.len())
            .field("client_auth", &self.client_cert.is_some())
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

// ===== impl ClientTlsConfig =====

impl ClientTlsConfig {
    fn from_roots(roots: RootCertStore) -> Self {
        ClientTlsConfig {
            roots: Arc::new(roots),
            client_cert: None,
        }
    }

    /// Trusts the Mozilla root certificates (compiled in, from the
    /// `webpki-roots` crate): the usual choice for public servers, the
    /// same on every machine.
    pub fn webpki_roots() -> Self {
        Self::from_roots(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
    }

    /// Trusts the operating system's root certificates (read once, now,
    /// with the `rustls-native-certs` crate). Certificates the system store
    /// holds but rustls cannot parse are skipped; it is an error only if
    /// none can be used.
    pub fn native_roots() -> Result<Self, TlsError> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (_added, _skipped) = roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            let why = match found.errors.first() {
                Some(e) => e.to_string(),
                None => "the store is empty".to_owned(),
            };
            return Err(err("system root certificates", why));
        }
        Ok(Self::from_roots(roots))
    }

    /// Trusts only the PEM CA certificates in `pem` (one or more
    /// `CERTIFICATE` blocks): for private CAs and self-signed servers.
    pub fn with_roots_pem(pem: &[u8]) -> Result<Self, TlsError> {
        Self::from_roots(RootCertStore::empty()).add_roots_pem(pem)
    }

    /// Also trusts the PEM CA certificates in `pem`.
    pub fn add_roots_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let roots = Arc::make_mut(&mut self.roots);
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| err("root certificates", e))?;
            roots.add(cert).map_err(|e| err("root certificates", e))?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::new("root certificates: no certificate found"));
        }
        Ok(self)
    }

    /// Presents a client certificate to servers that ask for one: a PEM
    /// certificate chain (leaf first) and its PEM private key (PKCS#8,
    /// PKCS#1 or SEC1). Fails if the key is unreadable or does not match
    /// the leaf certificate.
    pub fn client_auth_pem(
        mut self,
        cert_chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err("client certificate chain", e))?;
        if chain.is_empty() {
            return Err(TlsError::new(
                "client certificate chain: no certificate found",
            ));
        }
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| err("client private key", e))?;
        let certified = CertifiedKey::from_der(chain, key, &provider())
            .map_err(|e| err("client certificate", e))?;
        self.client_cert = Some(Arc::new(certified));
        Ok(self)
    }

    /// Whether a client certificate is configured.
    pub fn has_client_auth(&self) -> bool {
        self.client_cert.is_some()
    }

    /// The rustls configuration: TLS 1.2 and 1.3 with the `ring` provider,
    /// these roots, the client certificate if any, and `alpn` as the
    /// offered ALPN protocols (in order of preference, e.g.
    /// `&[b"h2", b"http/1.1"]`).
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(self.roots.clone());
        let mut config = match &self.client_cert {
            Some(cert) => {
                builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(cert.clone())))
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_clear_error() {
        let e = ClientTlsConfig::with_roots_pem(b"not pem").unwrap_err();
        assert_eq!(
            e.to_string(),
            "TLS configuration: root certificates: no certificate found"
        );
        let e = ClientTlsConfig::webpki_roots()
            .client_auth_pem(b"", b"")
            .unwrap_err();
        assert!(e.to_string().contains("client certificate chain"), "{e}");
    }

    #[test]
    fn the_offered_alpn_is_the_callers() {
        let tls = ClientTlsConfig::webpki_roots();
        assert!(!tls.has_client_auth());
        let config = tls.rustls_config(&[ALPN_H2, ALPN_HTTP1]);
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
