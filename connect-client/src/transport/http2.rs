//! One HTTP/2 connection, no pool.

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use super::future::ResponseBody;
use bytes::Bytes;
use connect_core::{Code, ConnectError};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower_service::Service;

use super::connector::{Connector, TcpSettings, check_uri};
use super::{BoxError, ClientBody, ResponseFuture, error};

/// Exactly one HTTP/2 connection: h2c (prior knowledge) for `http://`
/// URIs, TLS with ALPN `h2` for `https://` (feature `tls`).
///
/// Every call is a stream on the same connection; clones share it. Nothing
/// reconnects: once the connection is closed (by the server, a failed
/// keep-alive or a network error), [`poll_ready`](Service::poll_ready) and
/// every call fail with `unavailable`, and [`is_closed`](Self::is_closed)
/// says so. For a pool that reconnects, use [`HttpClient`](super::HttpClient).
///
/// A request may carry an absolute URI or only a path
/// (`/pkg.Service/Method`); a path is sent to the connection's scheme and
/// authority.
///
/// `B` is the request body: the client stack's [`ClientBody`] for
/// [`connect`](Self::connect), any body of [`Bytes`] for
/// [`Http2ConnectionBuilder::connect`].
///
/// ```no_run
/// # async fn run() -> Result<(), connect_core::ConnectError> {
/// use std::time::Duration;
///
/// use bytes::Bytes;
/// use connect_client::transport::Http2Connection;
/// use http_body_util::Full;
/// use tower_service::Service;
///
/// let mut conn = Http2Connection::builder()
///     .keep_alive_interval(Duration::from_secs(30))
///     .keep_alive_timeout(Duration::from_secs(10))
///     .connect("http://127.0.0.1:50051".parse().unwrap())
///     .await?;
/// let request = http::Request::post("/greet.v1.GreetService/Greet")
///     .header("content-type", "application/grpc")
///     .header("te", "trailers")
///     .body(Full::new(Bytes::from_static(b"\0\0\0\0\x05\x0a\x03Ada")))
///     .unwrap();
/// std::future::poll_fn(|cx| conn.poll_ready(cx)).await?;
/// let response = conn.call(request).await?;
/// assert_eq!(response.version(), http::Version::HTTP_2);
/// # Ok(())
/// # }
/// ```
pub struct Http2Connection<B = ClientBody> {
    send: http2::SendRequest<B>,
    scheme: Scheme,
    authority: Authority,
}

impl<B> Clone for Http2Connection<B> {
    fn clone(&self) -> Self {
        Http2Connection {
            send: self.send.clone(),
            scheme: self.scheme.clone(),
            authority: self.authority.clone(),
        }
    }
}

impl<B> fmt::Debug for Http2Connection<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2Connection")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("closed", &self.send.is_closed())
            .finish()
    }
}

// ===== impl Http2Connection =====

impl Http2Connection {
    /// A builder for a connection with keep-alive or other non-default
    /// settings (or another body type).
    pub fn builder() -> Http2ConnectionBuilder {
        Http2ConnectionBuilder::default()
    }

    /// Connects to `uri`'s authority with the default settings. `https`
    /// URIs trust the Mozilla roots (`ClientTlsConfig::webpki_roots`);
    /// without feature `tls` they are `invalid_argument`.
    pub async fn connect(uri: Uri) -> Result<Self, ConnectError> {
        Http2ConnectionBuilder::default().connect(uri).await
    }

    /// Connects to `uri` (`https`) over TLS configured by `tls`, offering
    /// ALPN `h2` (the original `connectrpc` crate's name; the same as
    /// [`connect_with_tls`](Self::connect_with_tls)).
    #[cfg(feature = "tls")]
    pub async fn connect_tls(uri: Uri, tls: super::ClientTlsConfig) -> Result<Self, ConnectError> {
        Self::connect_with_tls(uri, tls).await
    }

    /// Connects to `uri` (`https`) over TLS configured by `tls`, offering
    /// ALPN `h2`.
    #[cfg(feature = "tls")]
    pub async fn connect_with_tls(
        uri: Uri,
        tls: super::ClientTlsConfig,
    ) -> Result<Self, ConnectError> {
        Http2ConnectionBuilder::default()
            .tls(tls)
            .connect(uri)
            .await
    }
}

impl<B> Http2Connection<B> {
    /// Whether the connection is closed: every call from now on fails.
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    /// `uri` with the connection's scheme and authority if it has none.
    fn absolute(&self, uri: Uri) -> Result<Uri, ConnectError> {
        if uri.scheme().is_some() {
            return Ok(uri);
        }
        let mut parts = uri.into_parts();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        if parts.path_and_query.is_none() {
            parts.path_and_query = Some(PathAndQuery::from_static("/"));
        }
        Uri::from_parts(parts)
            .map_err(|e| ConnectError::new(Code::InvalidArgument, format!("request URI: {e}")))
    }
}

impl<B> Service<Request<B>> for Http2Connection<B>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = ConnectError;
    type Future = ResponseFuture;

    /// Ready while the connection is open; a closed connection is
    /// `unavailable`.
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.send.poll_ready(cx).map_err(|e| {
            error::unavailable(
                &format!("HTTP/2 connection to {} closed", self.authority),
                &e,
            )
        })
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        let (mut parts, body) = req.into_parts();
        parts.uri = match self.absolute(parts.uri) {
            Ok(uri) => uri,
            Err(e) => return ResponseFuture::failed(e),
        };
        let sent = self.send.send_request(Request::from_parts(parts, body));
        ResponseFuture::single(Box::pin(sent))
    }
}

// ===== impl Http2ConnectionBuilder =====

/// Settings for an [`Http2Connection`], from [`Http2Connection::builder`].
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Http2ConnectionBuilder {
    keep_alive_interval: Option<Duration>,
    keep_alive_timeout: Option<Duration>,
    keep_alive_while_idle: bool,
    tcp: TcpSettings,
    #[cfg(feature = "tls")]
    tls: Option<super::ClientTlsConfig>,
}

impl Http2ConnectionBuilder {
    /// Sends PINGs this often to keep the connection alive and detect a
    /// dead one (default: never).
    pub fn keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.keep_alive_interval = interval.into();
        self
    }

    /// How long to wait for a PING's acknowledgement before closing the
    /// connection (default 20 s; only with a
    /// [`keep_alive_interval`](Self::keep_alive_interval)).
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.keep_alive_timeout = Some(timeout);
        self
    }

    /// Sends keep-alive PINGs with no stream open too (default `false`).
    pub fn keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.keep_alive_while_idle = enabled;
        self
    }

    /// How long opening the TCP connection may take (default: no limit
    /// but the operating system's).
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.tcp.connect_timeout = timeout.into();
        self
    }

    /// Sets `TCP_NODELAY` (default `true`).
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.tcp.nodelay = enabled;
        self
    }

    /// TLS for `https` URIs (default: the Mozilla roots). ALPN offers `h2`
    /// only.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: super::ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Opens the connection: TCP, TLS for `https`, then the HTTP/2
    /// preface. The connection runs on a spawned tokio task until it
    /// closes or every handle to it is dropped.
    pub async fn connect<B>(self, uri: Uri) -> Result<Http2Connection<B>, ConnectError>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        #[allow(unused_mut, reason = "only changed with feature `tls`")]
        let mut connector = Connector::new(self.tcp);
        #[cfg(feature = "tls")]
        if uri.scheme() == Some(&Scheme::HTTPS) {
            let tls = self
                .tls
                .unwrap_or_else(super::ClientTlsConfig::webpki_roots);
            connector = connector.with_tls(tls.rustls_config(&[super::tls::ALPN_H2]));
        }
        check_uri(&uri, connector.has_tls())?;
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        let authority = uri.authority().cloned().ok_or_else(|| {
            ConnectError::new(Code::InvalidArgument, format!("`{uri}` has no authority"))
        })?;
        let io = connector.dial(uri).await?;

        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .keep_alive_interval(self.keep_alive_interval)
            .keep_alive_while_idle(self.keep_alive_while_idle);
        if let Some(timeout) = self.keep_alive_timeout {
            builder.keep_alive_timeout(timeout);
        }
        let (send, conn) = builder.handshake(io).await.map_err(|e| {
            error::unavailable(&format!("HTTP/2 handshake with {authority} failed"), &e)
        })?;
        tokio::spawn(async move {
            // The error, if any, reaches the callers through their streams
            // and `poll_ready`.
            let _ = conn.await;
        });
        Ok(Http2Connection {
            send,
            scheme,
            authority,
        })
    }
}
