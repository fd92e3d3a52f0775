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
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tower_service::Service;

use crate::catch_panic::CatchPanic;
use crate::coalesce::Coalesce;
use crate::detect::{Detected, Rewind, detect};
use crate::lifecycle::{self, Retirement};
use crate::linger::Linger;

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

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

/// The default time an idle connection (no call in flight) stays open.
pub const DEFAULT_MAX_CONNECTION_IDLE: Duration = Duration::from_secs(5 * 60);

/// The default time a retired connection's calls may run on.
pub const DEFAULT_CONNECTION_AGE_GRACE: Duration = Duration::from_secs(30);

/// Serves a [`Router`](crate::Router) (or any tower HTTP service) over TCP.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use connect_server::{Router, Server};
///
/// let router = Router::new(); // add services with `Arc::new(svc).register(router)`
/// Server::new(router)
///     .with_graceful_shutdown_on_signals()
///     .serve("127.0.0.1:8080".parse().unwrap())
///     .await
/// # }
/// ```
pub struct Server<S> {
    service: S,
    shutdown: Option<Signal>,
    on_shutdown: Vec<Box<dyn FnOnce() + Send>>,
    drain_timeout: Duration,
    first_byte_timeout: Duration,
    header_read_timeout: Duration,
    http2: Http2Settings,
    max_connections: usize,
    retirement: Retirement,
    http2_only: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
}

impl<S> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("graceful_shutdown", &self.shutdown.is_some())
            .field("on_shutdown_hooks", &self.on_shutdown.len())
            .field("drain_timeout", &self.drain_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("http2", &self.http2)
            .field("max_connections", &self.max_connections)
            .field("max_connection_age", &self.retirement.max_age)
            .field("connection_age_grace", &self.retirement.age_grace)
            .field("max_connection_idle", &self.retirement.max_idle)
            .field("max_requests_per_connection", &self.retirement.max_requests)
            .field("http2_only", &self.http2_only)
            .finish_non_exhaustive()
    }
}

impl<S> Server<S> {
    /// A server for `service`.
    pub fn new(service: S) -> Self {
        Server {
            service,
            shutdown: None,
            on_shutdown: Vec::new(),
            drain_timeout: Duration::from_secs(30),
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            http2: Http2Settings::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retirement: Retirement {
                max_age: None,
                age_grace: DEFAULT_CONNECTION_AGE_GRACE,
                max_idle: Some(DEFAULT_MAX_CONNECTION_IDLE),
                max_requests: None,
            },
            http2_only: false,
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

    /// Runs `hook` when a graceful shutdown begins, before the drain: mark
    /// the server not serving in health checks, say, so load balancers stop
    /// sending it calls while the ones in flight finish. Hooks run in the
    /// order they were added.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use connect_server::{Router, Server};
    ///
    /// let serving = Arc::new(AtomicBool::new(true));
    /// let flag = serving.clone();
    /// let server = Server::new(Router::new())
    ///     .with_graceful_shutdown_on_signals()
    ///     .on_shutdown(move || flag.store(false, Ordering::Release));
    /// # drop(server);
    /// ```
    pub fn on_shutdown(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.on_shutdown.push(Box::new(hook));
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

    /// Shuts down gracefully on the signals a process is usually stopped
    /// with: `SIGTERM` (what `docker stop`, Kubernetes and systemd send)
    /// and `SIGINT` (ctrl-c) on Unix, ctrl-c elsewhere. The same as
    /// `with_graceful_shutdown(`[`shutdown_signal()`]`)`.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use connect_server::{Router, Server};
    ///
    /// Server::new(Router::new())
    ///     .with_graceful_shutdown_on_signals()
    ///     .serve("127.0.0.1:8080".parse().unwrap())
    ///     .await
    /// # }
    /// ```
    pub fn with_graceful_shutdown_on_signals(self) -> Self {
        self.with_graceful_shutdown(shutdown_signal())
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

    /// Serves HTTP/2 only (default `false`: HTTP/1.1 and HTTP/2 on one
    /// port, told apart by the connection preface). An HTTP/2-only server
    /// answers anything but the preface with an HTTP/2 protocol error, as
    /// RFC 9113 asks, instead of reading it as an HTTP/1.1 request; Connect
    /// and gRPC-Web clients on HTTP/1.1 (browsers without TLS, curl without
    /// `--http2-prior-knowledge`) cannot call it. Over TLS, ALPN `h2`
    /// connections are HTTP/2 only either way.
    ///
    /// ```
    /// use connect_server::{Router, Server};
    ///
    /// let server = Server::new(Router::new()).http2_only(true);
    /// # drop(server);
    /// ```
    pub fn http2_only(mut self, only: bool) -> Self {
        self.http2_only = only;
        self
    }

    /// Retires each connection after about `age` (± 10% jitter, so that
    /// connections opened together do not all close together; default
    /// `None`, never): it is asked to finish (GOAWAY on HTTP/2,
    /// `connection: close` on HTTP/1.1), its calls in flight get the
    /// [grace period](Self::connection_age_grace), and clients reconnect —
    /// which is how new server instances behind a load balancer get their
    /// share of long-lived HTTP/2 clients.
    ///
    /// ```
    /// use std::time::Duration;
    /// use connect_server::{Router, Server};
    ///
    /// let server = Server::new(Router::new())
    ///     .max_connection_age(Some(Duration::from_secs(30 * 60)))
    ///     .connection_age_grace(Duration::from_secs(60));
    /// # drop(server);
    /// ```
    pub fn max_connection_age(mut self, age: Option<Duration>) -> Self {
        self.retirement.max_age = age;
        self
    }

    /// How long a retired connection's calls may run on before it is
    /// closed (default [`DEFAULT_CONNECTION_AGE_GRACE`], 30 s); applies to
    /// retirement by age, idle time and request count.
    pub fn connection_age_grace(mut self, grace: Duration) -> Self {
        self.retirement.age_grace = grace;
        self
    }

    /// Retires a connection with no call in flight for `idle` (default
    /// [`DEFAULT_MAX_CONNECTION_IDLE`], 5 min; `None` keeps idle
    /// connections open). HTTP/2 keep-alive pings do not count as activity.
    /// An idle HTTP/1.1 connection is already closed sooner, by the
    /// [header read timeout](Self::header_read_timeout).
    pub fn max_connection_idle(mut self, idle: Option<Duration>) -> Self {
        self.retirement.max_idle = idle;
        self
    }

    /// Retires a connection once it has taken `max` requests (default
    /// `None`, no limit): the last one is answered (with `connection:
    /// close` on HTTP/1.1), then the client moves to a new connection.
    pub fn max_requests_per_connection(mut self, max: Option<u64>) -> Self {
        self.retirement.max_requests = max.map(|m| m.max(1));
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
        let slots = Arc::new(tokio::sync::Semaphore::new(self.max_connections));
        let conns = Arc::new(Connections::new(&self));
        let Server {
            service,
            shutdown,
            on_shutdown,
            drain_timeout,
            ..
        } = self;
        let mut shutdown = shutdown.unwrap_or_else(|| Box::pin(std::future::pending()));
        let (stop, stopped) = watch::channel(false);
        // Every connection's task, so that the ones still running at the
        // drain deadline can be ended (their calls then fail `unavailable`
        // on the client) instead of outliving the server.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                Some(_) = connections.join_next() => continue,
                () = &mut shutdown => break,
            };
            // A JoinSet keeps every finished task until it is joined: reap
            // the connections that ended meanwhile, or their tasks pile up
            // (found by the soak: ~2 KiB per connection, unbounded).
            while connections.try_join_next().is_some() {}
            let (stream, peer) = tokio::select! {
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
            let service = service.clone();
            let conns = conns.clone();
            let stopped = stopped.clone();
            #[cfg(feature = "tls")]
            if let Some(acceptor) = acceptor.clone() {
                connections.spawn(async move {
                    let _slot = slot;
                    let deadline = Instant::now() + conns.first_byte_timeout;
                    // A client that never finishes its handshake must not
                    // hold a task forever.
                    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream));
                    let Some(Ok(Ok(tls))) = until_stopped(stopped.clone(), handshake).await else {
                        return;
                    };
                    // ALPN said HTTP/2: anything but the preface is an
                    // HTTP/2 protocol error, not an HTTP/1.1 request.
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    conns.serve(tls, peer, h2, deadline, service, stopped).await;
                });
                continue;
            }
            connections.spawn(async move {
                let _slot = slot;
                let deadline = Instant::now() + conns.first_byte_timeout;
                conns
                    .serve(stream, peer, false, deadline, service, stopped)
                    .await;
            });
        }
        drop(listener);
        for hook in on_shutdown {
            hook();
        }
        let _ = stop.send(true);
        let drained = async { while connections.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(drain_timeout, drained).await;
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        Ok(())
    }
}

/// What every connection is served with.
struct Connections {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    first_byte_timeout: Duration,
    retirement: Retirement,
    http2_only: bool,
}

impl Connections {
    fn new<S>(server: &Server<S>) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(server.header_read_timeout);
        let settings = &server.http2;
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(settings.max_concurrent_streams)
            .max_header_list_size(settings.max_header_list_size)
            .keep_alive_interval(settings.keep_alive_interval)
            .keep_alive_timeout(settings.keep_alive_timeout)
            .max_pending_accept_reset_streams(settings.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(settings.max_local_error_reset_streams)
            .max_send_buf_size(settings.max_send_buf_size);
        Connections {
            http1,
            http2,
            first_byte_timeout: server.first_byte_timeout,
            http2_only: server.http2_only,
            retirement: server.retirement,
        }
    }

    /// Serves one connection: tells HTTP/2 from HTTP/1.x (by `deadline`,
    /// unless `h2` is already known), then serves it until it ends, the
    /// server stops or it retires.
    async fn serve<I, S, B>(
        &self,
        mut io: I,
        peer: SocketAddr,
        h2: bool,
        deadline: Instant,
        service: S,
        stopped: watch::Receiver<bool>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // A client that connects and says nothing, or starts the HTTP/2
        // preface and stops, is dropped at the deadline.
        let detection = tokio::time::timeout_at(deadline, detect(&mut io));
        let Some(Ok(Ok((detected, prefix)))) = until_stopped(stopped.clone(), detection).await
        else {
            return;
        };
        if self.http2_only && !h2 && detected == Detected::Http1 {
            // Not the preface on an HTTP/2-only port: a connection error.
            // Close cleanly (FIN, not a reset with the client's bytes unread).
            crate::linger::close_gracefully(io).await;
            return;
        }
        // When the server closes first, the connection lingers (see
        // `linger`): the client reads our GOAWAY or last response instead
        // of a reset.
        let (io, lingering) = Linger::new(Rewind::new(prefix, io));
        let service = TowerToHyperService::new(CatchPanic::new(service));
        let (service, calls) = lifecycle::track(service, &self.retirement, peer);
        if h2 || self.http2_only || detected == Detected::Http2 {
            // h2's writes coalesced: one system call per flush (`coalesce`).
            let io = TokioIo::new(Coalesce::new(io));
            let conn = self.http2.serve_connection(io, service);
            lifecycle::drive(conn, calls, self.retirement, stopped).await;
        } else {
            // Upgrades stay possible (an axum app's WebSocket routes).
            let io = TokioIo::new(io);
            let conn = self.http1.serve_connection(io, service).with_upgrades();
            lifecycle::drive(conn, calls, self.retirement, stopped).await;
        }
        lingering.finish().await;
    }
}

/// Runs `fut` unless the server starts shutting down first (`None`).
async fn until_stopped<F: Future>(mut stopped: watch::Receiver<bool>, fut: F) -> Option<F::Output> {
    tokio::select! {
        out = fut => Some(out),
        _ = stopped.wait_for(|stop| *stop) => None,
    }
}

/// Completes when the process receives `SIGTERM` or `SIGINT` (Unix), or
/// ctrl-c (elsewhere): the shutdown signal of
/// [`Server::with_graceful_shutdown_on_signals`], for servers you run
/// yourself (axum's `with_graceful_shutdown`, say). The handlers are
/// installed when the future is first polled; a signal that cannot be
/// listened for (no such handler on this platform) is skipped.
///
/// ```no_run
/// # async fn run() {
/// connect_server::shutdown_signal().await;
/// println!("stopping");
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            (Ok(mut term), Err(_)) => {
                term.recv().await;
            }
            (Err(_), Ok(mut int)) => {
                int.recv().await;
            }
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
