//! The error of building a TLS configuration, shared by the server's
//! `TlsConfig` and the client's `ClientTlsConfig` (which re-export it as
//! `connect_server::TlsError` and `connect_client::TlsError`).

use std::fmt;

/// An error building a TLS configuration: unreadable PEM, no certificate
/// where one is needed, a key that does not match its certificate.
///
/// ```
/// use connect_core::TlsError;
///
/// let err = TlsError::new("certificate chain: no certificate found");
/// assert_eq!(err.to_string(), "TLS configuration: certificate chain: no certificate found");
/// ```
#[derive(Debug)]
pub struct TlsError(String);

impl TlsError {
    /// An error saying what is wrong (`"private key: …"`); shown after
    /// `TLS configuration: `.
    pub fn new(message: impl Into<String>) -> Self {
        TlsError(message.into())
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS configuration: {}", self.0)
    }
}

impl std::error::Error for TlsError {}
