//! The connector under both transports: TCP through `hyper-util`'s
//! `HttpConnector`, then TLS for `https` URIs.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use connect_core::{Code, ConnectError};
use http::Uri;
use http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::{BoxError, error};

/// TCP settings shared by both transports' builders.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcpSettings {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) nodelay: bool,
}

impl Default for TcpSettings {
    fn default() -> Self {
        TcpSettings {
            connect_timeout: None,
            nodelay: true,
        }
    }
}

/// Dials `http` URIs over TCP and `https` URIs over TCP then TLS (when it
/// has a TLS configuration). Every error it returns is a boxed
/// [`ConnectError`].
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    dials: Dials,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsConnector>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.has_tls())
            .finish_non_exhaustive()
    }
}

// ===== impl Connector =====

impl Connector {
    /// A plaintext connector.
    pub(crate) fn new(tcp: TcpSettings) -> Self {
        let mut http = HttpConnector::new();
        // `https` URIs are ours to handle, after the TCP connection.
        http.enforce_http(false);
        http.set_nodelay(tcp.nodelay);
        http.set_connect_timeout(tcp.connect_timeout);
        Connector {
            http,
            dials: Dials::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Dials `https` URIs with TLS configured by `config`.
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsConnector::from(config));
        self
    }

    /// The dials of this connector (and its clones) in progress.
    pub(crate) fn dials(&self) -> Dials {
        self.dials.clone()
    }

    /// Whether `https` URIs can be dialled.
    #[cfg(feature = "tls")]
    pub(crate) fn has_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether `https` URIs can be dialled (never without feature `tls`).
    #[cfg(not(feature = "tls"))]
    pub(crate) fn has_tls(&self) -> bool {
        false
    }

    /// Opens a connection to `uri`'s authority.
    pub(crate) fn dial(&mut self, uri: Uri) -> BoxFuture<Result<Io, ConnectError>> {
        if let Err(e) = check_uri(&uri, self.has_tls()) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        #[cfg(feature = "tls")]
        let tls = if uri.scheme() == Some(&Scheme::HTTPS) {
            self.tls.clone()
        } else {
            None
        };
        let tcp = self.http.call(uri.clone());
        Box::pin(async move {
            let tcp = tcp.await.map_err(|e| error::tcp_connect(&authority, &e))?;
            #[cfg(feature = "tls")]
            if let Some(tls) = tls {
                let name = server_name(&uri)?;
                let stream = tls.connect(name, tcp.into_inner()).await.map_err(|e| {
                    error::unavailable(&format!("TLS handshake with {authority} failed"), &e)
                        .unprocessed()
                })?;
                return Ok(Io::Tls(Box::new(TokioIo::new(stream))));
            }
            Ok(Io::Plain(tcp))
        })
    }
}

/// Opens a TCP connection to `addr` (whatever host a request names), then
/// TLS over it when `tls` is given, with that server name for SNI and the
/// certificate check: the dialer of a balanced channel's endpoints.
pub(crate) async fn dial_addr(
    addr: std::net::SocketAddr,
    tcp: TcpSettings,
    #[cfg(feature = "tls")] tls: Option<(
        std::sync::Arc<rustls::ClientConfig>,
        rustls_pki_types::ServerName<'static>,
    )>,
) -> Result<Io, ConnectError> {
    let authority = addr.to_string();
    let connect = TcpStream::connect(addr);
    let stream = match tcp.connect_timeout {
        Some(limit) => match tokio::time::timeout(limit, connect).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {limit:?}"),
            )),
        },
        None => connect.await,
    }
    .map_err(|e| error::tcp_connect(&authority, &e))?;
    let _ = stream.set_nodelay(tcp.nodelay);
    #[cfg(feature = "tls")]
    if let Some((config, name)) = tls {
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| {
                error::unavailable(&format!("TLS handshake with {authority} failed"), &e)
                    .unprocessed()
            })?;
        return Ok(Io::Tls(Box::new(TokioIo::new(stream))));
    }
    Ok(Io::Plain(TokioIo::new(stream)))
}

/// Checks that the transport can dial `uri`: `http`, or `https` with TLS,
/// and an authority.
pub(crate) fn check_uri(uri: &Uri, has_tls: bool) -> Result<(), ConnectError> {
    let invalid = |why: &str| {
        Err(ConnectError::new(
            Code::InvalidArgument,
            format!("cannot send to `{uri}`: {why}"),
        ))
    };
    if uri.authority().is_none() {
        return invalid("the URI has no authority (the transport needs an absolute URI)");
    }
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTP => Ok(()),
        Some(s) if *s == Scheme::HTTPS && has_tls => Ok(()),
        Some(s) if *s == Scheme::HTTPS => {
            invalid("https needs a TLS configuration (feature `tls`, `with_tls`)")
        }
        Some(_) => invalid("the scheme is neither http nor https"),
        None => invalid("the URI has no scheme (the transport needs an absolute URI)"),
    }
}

/// The TLS server name for `uri`'s host: a DNS name or an IP address.
#[cfg(feature = "tls")]
fn server_name(uri: &Uri) -> Result<rustls_pki_types::ServerName<'static>, ConnectError> {
    host_server_name(uri.host().unwrap_or_default())
}

/// The TLS server name for `host`: a DNS name or an IP address (IPv6 with
/// or without its URI brackets).
#[cfg(feature = "tls")]
pub(crate) fn host_server_name(
    host: &str,
) -> Result<rustls_pki_types::ServerName<'static>, ConnectError> {
    // IPv6 hosts keep their brackets in a URI.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
        ConnectError::new(
            Code::InvalidArgument,
            format!("`{host}` is not a valid TLS server name: {e}"),
        )
    })
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Uri> for Connector {
    type Response = Dialed;
    type Error = BoxError;
    type Future = BoxFuture<Result<Dialed, BoxError>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `HttpConnector` is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let counted = self.dials.start();
        let dial = self.dial(uri);
        Box::pin(async move {
            let io = dial.await.map_err(BoxError::from)?;
            Ok(Dialed {
                io,
                dialing: Some(counted),
            })
        })
    }
}

/// How many dials a connector and its clones have in progress (TCP, TLS,
/// then the HTTP handshake, until the server's first bytes): while one
/// is, a pooled call may end up waiting for it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dials(Arc<AtomicUsize>);

impl Dials {
    /// Counts a dial until the guard drops.
    fn start(&self) -> DialGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        DialGuard(self.0.clone())
    }

    /// Whether a dial is in progress.
    #[inline]
    pub(crate) fn in_progress(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

/// One dial in progress (see [`Dials`]).
#[derive(Debug)]
struct DialGuard(Arc<AtomicUsize>);

impl Drop for DialGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

// ===== impl Dialed =====

/// A connection the pool dialled: counted among the [`Dials`] in
/// progress until the server's first bytes (its HTTP/2 SETTINGS) arrive,
/// or it fails or closes.
#[derive(Debug)]
pub(crate) struct Dialed {
    io: Io,
    dialing: Option<DialGuard>,
}

impl Connection for Dialed {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl Read for Dialed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if read.is_ready() {
            this.dialing = None;
        }
        read
    }
}

impl Write for Dialed {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

// ===== impl Io =====

/// A dialled connection: TCP, or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Io {
    /// Plain TCP.
    Plain(TokioIo<TcpStream>),
    /// TLS over TCP (boxed: a TLS session is much larger than a socket).
    #[cfg(feature = "tls")]
    Tls(Box<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl Connection for Io {
    fn connected(&self) -> Connected {
        match self {
            Io::Plain(tcp) => tcp.connected(),
            #[cfg(feature = "tls")]
            Io::Tls(tls) => {
                let (tcp, session) = tls.inner().get_ref();
                let connected = tcp.connected();
                match session.alpn_protocol() {
                    Some(b"h2") => connected.negotiated_h2(),
                    _ => connected,
                }
            }
        }
    }
}

impl Read for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Io::Tls(io) => Pin::new(&mut **io).poll_read(cx, buf),
        }
    }
}

impl Write for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Io::Tls(io) => Pin::new(&mut **io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Io::Tls(io) => Pin::new(&mut **io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(io) => io.is_write_vectored(),
            #[cfg(feature = "tls")]
            Io::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            #[cfg(feature = "tls")]
            Io::Tls(io) => Pin::new(&mut **io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Io::Tls(io) => Pin::new(&mut **io).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_uris_are_dialled() {
        let check = |uri: &str, tls| check_uri(&uri.parse().unwrap(), tls);
        assert!(check("http://a:1/x", false).is_ok());
        assert!(check("https://a/x", true).is_ok());
        for (uri, tls) in [("https://a/x", false), ("/x", true), ("ftp://a/x", true)] {
            let e = check(uri, tls).unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{uri}");
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn ip_hosts_are_ip_server_names() {
        use rustls_pki_types::ServerName;
        let name = server_name(&"https://[::1]:8443/".parse().unwrap()).unwrap();
        assert!(matches!(name, ServerName::IpAddress(_)));
        let name = server_name(&"https://127.0.0.1/".parse().unwrap()).unwrap();
        assert!(matches!(name, ServerName::IpAddress(_)));
        let name = server_name(&"https://example.com/".parse().unwrap()).unwrap();
        assert!(matches!(name, ServerName::DnsName(_)));
    }
}
