//! A standalone server: HTTP/1.1 and h2c on one port (hyper-util's auto
//! connection builder), with graceful shutdown.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_service::Service;

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a TLS client has to finish its handshake.
/// HTTP/2 connection settings (defaults in parentheses).
///
/// ```
/// use std::time::Duration;
/// use connect_server::{Http2Settings, Router, Server};
///
/// let mut settings = Http2Settings::default();
/// settings.max_concurrent_streams = Some(64);
/// settings.keep_alive_interval = Some(Duration::from_secs(10));
/// let server = Server::new(Router::new()).http2(settings);
/// # drop(server);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Http2Settings {
    /// Streams a client may have open at once on one connection (256).
    pub max_concurrent_streams: Option<u32>,
    /// The largest request header block accepted, in bytes (64 KiB).
    pub max_header_list_size: u32,
    /// How often to ping an idle connection (30 s); `None` never pings.
    pub keep_alive_interval: Option<Duration>,
    /// How long to wait for a ping's answer before closing (20 s).
    pub keep_alive_timeout: Duration,
    /// Streams a client may open and reset before the server accepts them,
    /// the "rapid reset" guard (20).
    pub max_pending_accept_reset_streams: Option<usize>,
    /// Streams the server may reset for protocol errors before it closes
    /// the connection (1024).
    pub max_local_error_reset_streams: Option<usize>,
    /// Bytes buffered per stream for sending (400 KiB).
    pub max_send_buf_size: usize,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Http2Settings {
            max_concurrent_streams: Some(256),
            max_header_list_size: 64 * 1024,
            keep_alive_interval: Some(Duration::from_secs(30)),
            keep_alive_timeout: Duration::from_secs(20),
            max_pending_accept_reset_streams: Some(20),
            max_local_error_reset_streams: Some(1024),
            max_send_buf_size: 400 * 1024,
        }
    }
}

/// The default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The default time a new connection has to send its first byte (or, over
/// TLS, to finish the handshake).
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time an HTTP/1.1 client has to send a whole request head,
/// which also bounds how long a keep-alive connection may sit idle
/// between requests (hyper's own default).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves a [`Router`](crate::Router) (or any tower HTTP service) over TCP.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use connect_server::{Router, Server};
///
/// let router = Router::new(); // add services with `Arc::new(svc).register(router)`
/// Server::new(router)
///     .with_graceful_shutdown(async { let _ = tokio::signal::ctrl_c().await; })
///     .serve("127.0.0.1:8080".parse().unwrap())
///     .await
/// # }
/// ```
pub struct Server<S> {
    service: S,
    shutdown: Option<Signal>,
    drain_timeout: Duration,
    first_byte_timeout: Duration,
    header_read_timeout: Duration,
    http2: Http2Settings,
    max_connections: usize,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
}

impl<S> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("graceful_shutdown", &self.shutdown.is_some())
            .field("drain_timeout", &self.drain_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("http2", &self.http2)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl<S> Server<S> {
    /// A server for `service`.
    pub fn new(service: S) -> Self {
        Server {
            service,
            shutdown: None,
            drain_timeout: Duration::from_secs(30),
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            http2: Http2Settings::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves over TLS (ALPN `h2` and `http/1.1`) instead of cleartext.
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: crate::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Stops accepting connections when `signal` completes, then waits for
    /// open connections to finish their calls (up to the drain timeout).
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long a graceful shutdown waits for open connections (default
    /// 30 s). On shutdown the listener closes (new connections are
    /// refused), open connections are asked to finish (GOAWAY on HTTP/2,
    /// `connection: close` on HTTP/1.1) and calls in flight run on; at the
    /// deadline the connections still open are closed, and their calls
    /// fail `unavailable` on the client.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// How long a new connection may stay silent before its first byte
    /// (over TLS: before its handshake completes) until it is closed
    /// (default [`DEFAULT_FIRST_BYTE_TIMEOUT`], 10 s).
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = timeout;
        self
    }

    /// How long an HTTP/1.1 client may take to send a whole request head
    /// until its connection is closed (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`], 30 s): slow-header clients cannot
    /// hold connections open. The wait for the next request on an idle
    /// keep-alive connection counts too.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// HTTP/2 settings: stream and header limits, keep-alive pings, reset
    /// limits, send buffers (see [`Http2Settings`] for the defaults).
    pub fn http2(mut self, settings: Http2Settings) -> Self {
        self.http2 = settings;
        self
    }

    /// The most connections served at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`]); at the cap, new connections wait in
    /// the listener's backlog until one closes.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }
}

impl<S, B> Server<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Binds `addr` and serves until the shutdown signal (forever without
    /// one).
    pub async fn serve(self, addr: SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_with_listener(listener).await
    }

    /// Serves connections accepted from `listener`.
    pub async fn serve_with_listener(self, listener: TcpListener) -> io::Result<()> {
        #[cfg(feature = "tls")]
        let acceptor = match &self.tls {
            Some(tls) => Some(tokio_rustls::TlsAcceptor::from(
                tls.server_config().map_err(io::Error::other)?,
            )),
            None => None,
        };
        let Server {
            service,
            shutdown,
            drain_timeout,
            first_byte_timeout,
            header_read_timeout,
            http2,
            max_connections,
            ..
        } = self;
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections));
        let mut shutdown = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(http2.max_concurrent_streams)
            .max_header_list_size(http2.max_header_list_size)
            .keep_alive_interval(http2.keep_alive_interval)
            .keep_alive_timeout(http2.keep_alive_timeout)
            .max_pending_accept_reset_streams(http2.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(http2.max_local_error_reset_streams)
            .max_send_buf_size(http2.max_send_buf_size);
        let graceful = GracefulShutdown::new();
        // Every connection's task, so that the ones still running at the
        // drain deadline can be ended (their calls then fail `unavailable`
        // on the client) instead of outliving the server.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let slot = tokio::select! {
                slot = std::sync::Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                Some(_) = connections.join_next() => continue,
                () = &mut shutdown => break,
            };
            let (stream, _peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    // Transient accept errors (EMFILE, aborted handshakes)
                    // must not stop the server.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(service.clone());
            let watcher = graceful.watcher();
            let builder = builder.clone();
            #[cfg(feature = "tls")]
            if let Some(acceptor) = acceptor.clone() {
                connections.spawn(async move {
                    let _slot = slot;
                    // A client that never finishes its handshake must not
                    // hold a task forever.
                    let handshake =
                        tokio::time::timeout(first_byte_timeout, acceptor.accept(stream));
                    let Ok(Ok(tls)) = handshake.await else {
                        return;
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                });
                continue;
            }
            connections.spawn(async move {
                let _slot = slot;
                // A client that connects and says nothing is dropped: the
                // protocol detection below would wait for it forever.
                let mut first = [0u8; 1];
                match tokio::time::timeout(first_byte_timeout, stream.peek(&mut first)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let _ = watcher.watch(conn.into_owned()).await;
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(drain_timeout, graceful.shutdown()).await;
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        Ok(())
    }
}
