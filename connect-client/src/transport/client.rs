//! A pooled HTTP/1.1 and HTTP/2 client on `hyper-util`'s legacy client.

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use super::future::ResponseBody;
use bytes::Bytes;
use connect_core::ConnectError;
use http::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower_service::Service;

use super::connector::{Connector, Dials, TcpSettings, check_uri};
use super::resend::resend;
use super::{BoxError, ClientBody, ResponseFuture};

/// A pooled HTTP client: the transport most clients want.
///
/// It keeps a pool of connections per host, opened on demand, and is cheap
/// to clone (clones share the pool). Without TLS it speaks HTTP/1.1, or
/// HTTP/2 with prior knowledge (h2c) when built with
/// [`http2_only`](HttpClientBuilder::http2_only). With TLS (feature `tls`,
/// `HttpClient::with_tls`) it offers `h2` and `http/1.1` in ALPN and speaks
/// what the server picks.
///
/// Requests need absolute URIs (`http://host:port/pkg.Service/Method`).
/// Failures are [`ConnectError`]s (see the [module docs](super)).
///
/// `B` is the request body: the client stack's [`ClientBody`] for
/// [`plaintext`](Self::plaintext) and `with_tls`, any body of [`Bytes`] for
/// [`HttpClientBuilder::build`].
///
/// ```no_run
/// # async fn run() -> Result<(), connect_core::ConnectError> {
/// use std::time::Duration;
///
/// use bytes::Bytes;
/// use connect_client::transport::HttpClient;
/// use http_body_util::Full;
/// use tower_service::Service;
///
/// // h2c: HTTP/2 over plain TCP, as gRPC servers without TLS expect; the
/// // request body type is inferred from the calls.
/// let mut client = HttpClient::builder()
///     .http2_only(true)
///     .connect_timeout(Duration::from_secs(5))
///     .build();
/// let request = http::Request::post("http://127.0.0.1:50051/greet.v1.GreetService/Greet")
///     .header("content-type", "application/grpc")
///     .header("te", "trailers")
///     .body(Full::new(Bytes::from_static(b"\0\0\0\0\x05\x0a\x03Ada")))
///     .unwrap();
/// let response = client.call(request).await?;
/// assert_eq!(response.version(), http::Version::HTTP_2);
/// # Ok(())
/// # }
/// ```
pub struct HttpClient<B = ClientBody> {
    inner: Client<Connector, B>,
    tls: bool,
    dials: Dials,
}

impl<B> Clone for HttpClient<B> {
    fn clone(&self) -> Self {
        HttpClient {
            inner: self.inner.clone(),
            tls: self.tls,
            dials: self.dials.clone(),
        }
    }
}

impl<B> fmt::Debug for HttpClient<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

// ===== impl HttpClient =====

impl HttpClient {
    /// A builder for a client with non-default settings (or another body
    /// type).
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::default()
    }

    /// A plaintext client with the default settings: HTTP/1.1 (plain TCP
    /// cannot negotiate HTTP/2). Fine for Connect and gRPC-Web; gRPC needs
    /// HTTP/2, so for gRPC use [`plaintext_http2_only`](Self::plaintext_http2_only).
    /// `https` URIs are refused.
    pub fn plaintext() -> Self {
        HttpClientBuilder::default().build()
    }

    /// A plaintext client speaking only HTTP/2 with prior knowledge (h2c):
    /// what gRPC without TLS needs, and what any server of this crate
    /// accepts on its one port. The same as
    /// [`builder().http2_only(true).build()`](HttpClientBuilder::http2_only).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use connect_client::{ClientConfig, HttpClient};
    ///
    /// let channel = HttpClient::plaintext_http2_only();
    /// let config = ClientConfig::new("http://127.0.0.1:50051".parse()?).grpc();
    /// // let client = GreetServiceClient::new(channel, config);
    /// # let _ = (channel, config);
    /// # Ok(()) }
    /// ```
    pub fn plaintext_http2_only() -> Self {
        HttpClientBuilder::default().http2_only(true).build()
    }

    /// A client for `http` and `https` URIs: over TLS it offers ALPN `h2`
    /// and `http/1.1` and speaks HTTP/2 when the server picks it.
    #[cfg(feature = "tls")]
    pub fn with_tls(tls: super::ClientTlsConfig) -> Self {
        HttpClientBuilder::default().tls(tls).build()
    }
}

impl<B> Service<Request<B>> for HttpClient<B>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = ConnectError;
    type Future = ResponseFuture;

    /// Always ready: connections are opened (or taken from the pool) by
    /// each call.
    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> ResponseFuture {
        if let Err(e) = check_uri(req.uri(), self.tls) {
            return ResponseFuture::failed(e);
        }
        // While a dial is in progress this call may wait for it, and be
        // dropped unsent if it fails: keep what it takes to send it again.
        if self.dials.in_progress()
            && let Some(resend) = resend(&self.inner, &mut req)
        {
            return ResponseFuture::resendable(self.inner.request(req), resend);
        }
        ResponseFuture::pooled(self.inner.request(req))
    }
}

// ===== impl HttpClientBuilder =====

/// Settings for an [`HttpClient`], from [`HttpClient::builder`].
///
/// ```
/// use std::time::Duration;
///
/// use connect_client::transport::HttpClient;
///
/// let client: HttpClient = HttpClient::builder()
///     .pool_idle_timeout(Duration::from_secs(30))
///     .pool_max_idle_per_host(8)
///     .http2_keep_alive_interval(Duration::from_secs(20))
///     .build();
/// # drop(client);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct HttpClientBuilder {
    http2_only: bool,
    http1_only: bool,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    tcp: TcpSettings,
    http2_keep_alive_interval: Option<Duration>,
    http2_keep_alive_timeout: Option<Duration>,
    http2_keep_alive_while_idle: bool,
    #[cfg(feature = "tls")]
    tls: Option<super::ClientTlsConfig>,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        HttpClientBuilder {
            http2_only: false,
            http1_only: false,
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: usize::MAX,
            tcp: TcpSettings::default(),
            http2_keep_alive_interval: None,
            http2_keep_alive_timeout: None,
            http2_keep_alive_while_idle: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl HttpClientBuilder {
    /// Speaks only HTTP/2 (default `false`): with prior knowledge (h2c) on
    /// plain TCP, and offering only `h2` in ALPN over TLS. Turns
    /// [`http1_only`](Self::http1_only) off.
    pub fn http2_only(mut self, enabled: bool) -> Self {
        self.http2_only = enabled;
        if enabled {
            self.http1_only = false;
        }
        self
    }

    /// Speaks only HTTP/1.1 (default `false`): over TLS, offers only
    /// `http/1.1` in ALPN (plain TCP is HTTP/1.1 anyway unless
    /// [`http2_only`](Self::http2_only)). Turns `http2_only` off.
    pub fn http1_only(mut self, enabled: bool) -> Self {
        self.http1_only = enabled;
        if enabled {
            self.http2_only = false;
        }
        self
    }

    /// How long an idle pooled connection is kept (default 90 s; `None`
    /// keeps it until the server closes it).
    pub fn pool_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.pool_idle_timeout = timeout.into();
        self
    }

    /// How many idle connections are kept per host (default unlimited;
    /// `0` disables pooling).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// How long opening a TCP connection may take (default: no limit but
    /// the operating system's). A timeout is `unavailable`.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.tcp.connect_timeout = timeout.into();
        self
    }

    /// Sets `TCP_NODELAY` on new connections (default `true`: RPCs are
    /// small writes that should not wait for Nagle's algorithm).
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.tcp.nodelay = enabled;
        self
    }

    /// Sends HTTP/2 PINGs this often to keep connections alive and detect
    /// dead ones (default: never).
    pub fn http2_keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.http2_keep_alive_interval = interval.into();
        self
    }

    /// How long to wait for a keep-alive PING's acknowledgement before
    /// closing the connection (default 20 s; only with an
    /// [`http2_keep_alive_interval`](Self::http2_keep_alive_interval)).
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.http2_keep_alive_timeout = Some(timeout);
        self
    }

    /// Sends keep-alive PINGs on connections with no open stream too
    /// (default `false`).
    pub fn http2_keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.http2_keep_alive_while_idle = enabled;
        self
    }

    /// Dials `https` URIs with TLS configured by `tls`. ALPN offers `h2`
    /// and `http/1.1`, or only one of them with
    /// [`http2_only`](Self::http2_only) or [`http1_only`](Self::http1_only).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: super::ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The client. Building needs no runtime; calls need a tokio runtime
    /// (connections run on spawned tasks).
    pub fn build<B>(self) -> HttpClient<B>
    where
        B: http_body::Body + Send,
        B::Data: Send,
    {
        #[allow(unused_mut, reason = "only changed with feature `tls`")]
        let mut connector = Connector::new(self.tcp);
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            use super::tls::{ALPN_H2, ALPN_HTTP1};
            let alpn: &[&[u8]] = if self.http2_only {
                &[ALPN_H2]
            } else if self.http1_only {
                &[ALPN_HTTP1]
            } else {
                &[ALPN_H2, ALPN_HTTP1]
            };
            connector = connector.with_tls(tls.rustls_config(alpn));
        }
        let tls = connector.has_tls();
        let dials = connector.dials();
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .http2_only(self.http2_only)
            .http2_keep_alive_interval(self.http2_keep_alive_interval)
            .http2_keep_alive_while_idle(self.http2_keep_alive_while_idle);
        if let Some(timeout) = self.http2_keep_alive_timeout {
            builder.http2_keep_alive_timeout(timeout);
        }
        HttpClient {
            inner: builder.build(connector),
            tls,
            dials,
        }
    }
}
