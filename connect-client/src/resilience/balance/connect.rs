//! Dialling an endpoint, and the task that keeps one of its connection
//! slots open: connect, watch the connection, redial with backoff.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use connect_core::ConnectError;
use connect_layers::ClientBody;
use http::Uri;
use hyper::client::conn::http2;
use hyper_util::client::legacy;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{Notify, watch};
use tower_service::Service;

use super::backoff::Rng;
use super::builder::{HttpVersion, Settings};
use super::endpoint::Conn;
use super::resolve::BoxFuture;
use super::state::Shared;
use crate::BoxError;
use crate::transport::connector::{Io, dial_addr};
use crate::transport::error;

/// Dials one endpoint's address, whatever host a request's URI names (the
/// request keeps its logical authority); over TLS with the endpoint's
/// server name. The connector of an endpoint's HTTP/1.1 pool.
#[derive(Clone)]
pub(crate) struct Dialer {
    addr: SocketAddr,
    settings: Arc<Settings>,
    #[cfg(feature = "tls")]
    server_name: Option<rustls_pki_types::ServerName<'static>>,
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialer").field("addr", &self.addr).finish()
    }
}

impl Dialer {
    /// A dialer for `addr`; `server_name` is checked over TLS.
    pub(crate) fn new(
        addr: SocketAddr,
        settings: Arc<Settings>,
        server_name: &str,
    ) -> Result<Self, ConnectError> {
        #[cfg(feature = "tls")]
        let server_name = match settings.tls {
            Some(_) => Some(crate::transport::connector::host_server_name(server_name)?),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let _ = server_name;
        Ok(Dialer {
            addr,
            settings,
            #[cfg(feature = "tls")]
            server_name,
        })
    }

    pub(crate) fn dial(&self) -> BoxFuture<'static, Result<Io, ConnectError>> {
        let addr = self.addr;
        let tcp = self.settings.tcp;
        #[cfg(feature = "tls")]
        let tls = self.settings.tls.clone().zip(self.server_name.clone());
        Box::pin(dial_addr(
            addr,
            tcp,
            #[cfg(feature = "tls")]
            tls,
        ))
    }

    /// An HTTP/1.1 pool over this dialer.
    fn pool(&self) -> legacy::Client<Dialer, ClientBody> {
        legacy::Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .build(self.clone())
    }

    /// Dials and, for HTTP/2, handshakes: the connection, and what tells
    /// when it is gone.
    /// `pool` is the slot's HTTP/1.1 pool, kept across redials.
    async fn open(
        &self,
        pool: &Arc<legacy::Client<Dialer, ClientBody>>,
    ) -> Result<(Conn, Driver), ConnectError> {
        let io = self.dial().await?;
        match self.settings.version {
            HttpVersion::Http1 => {
                // The pool opens its own connections; this one stays open,
                // unused, so that the server closing it (going away) is
                // seen at once.
                Ok((
                    Conn::H1(pool.clone()),
                    Driver::Watch(Box::pin(watch_eof(io))),
                ))
            }
            HttpVersion::Http2 => {
                let mut builder = http2::Builder::new(TokioExecutor::new());
                builder
                    .timer(TokioTimer::new())
                    .keep_alive_interval(self.settings.keep_alive_interval)
                    .keep_alive_while_idle(true);
                if let Some(timeout) = self.settings.keep_alive_timeout {
                    builder.keep_alive_timeout(timeout);
                }
                let (send, conn) = builder.handshake(io).await.map_err(|e| {
                    error::unavailable(&format!("HTTP/2 handshake with {} failed", self.addr), &e)
                        .unprocessed()
                })?;
                Ok((Conn::H2(send), Driver::H2(Box::pin(conn))))
            }
        }
    }
}

/// What completes when a slot's connection can take no more calls.
enum Driver {
    /// The HTTP/2 connection's own future: done when it closes or the
    /// server sends GOAWAY (calls in flight go on on hyper's task).
    H2(std::pin::Pin<Box<http2::Connection<Io, ClientBody, TokioExecutor>>>),
    /// An idle connection beside an HTTP/1.1 pool: done when the server
    /// closes it.
    Watch(BoxFuture<'static, ()>),
}

/// Reads (and drops) whatever comes until the peer closes `io` or it fails.
async fn watch_eof(io: Io) {
    match io {
        Io::Plain(tcp) => read_to_eof(tcp.into_inner()).await,
        #[cfg(feature = "tls")]
        Io::Tls(tls) => read_to_eof((*tls).into_inner()).await,
    }
}

async fn read_to_eof<S: tokio::io::AsyncRead + Unpin>(mut stream: S) {
    let mut buf = [0u8; 256];
    loop {
        let read = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(&mut buf);
            std::pin::Pin::new(&mut stream)
                .poll_read(cx, &mut rb)
                .map_ok(|()| rb.filled().len())
        })
        .await;
        if !matches!(read, Ok(n) if n > 0) {
            return;
        }
    }
}

impl Service<Uri> for Dialer {
    type Response = Io;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Io, BoxError>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let dial = self.dial();
        Box::pin(async move { dial.await.map_err(BoxError::from) })
    }
}

/// Keeps slot `slot` of endpoint `id` connected until the endpoint is
/// removed or every clone of the channel is dropped.
pub(crate) async fn run_slot(
    shared: Arc<Shared>,
    id: u64,
    slot: usize,
    dialer: Dialer,
    probe: Arc<Notify>,
    endpoint_stop: watch::Receiver<()>,
) {
    let stopped = stop_signal(shared.stop_signal(), endpoint_stop);
    tokio::pin!(stopped);
    let settings = dialer.settings.clone();
    let mut rng = Rng::new();
    let mut failures = 0u32;
    // Building a pool opens nothing; HTTP/2 slots never use it.
    let pool = Arc::new(dialer.pool());
    loop {
        if !shared.slot_connecting(id, slot) {
            return;
        }
        let attempt = tokio::select! {
            _ = &mut stopped => return,
            r = tokio::time::timeout(settings.connect_timeout, dialer.open(&pool)) => r,
        };
        let error = match attempt {
            Ok(Ok((conn, driver))) => {
                let opened = Instant::now();
                if !shared.slot_ready(id, slot, conn) {
                    return;
                }
                match driver {
                    Driver::H2(mut conn) => tokio::select! {
                        // Closed, or GOAWAY: no new calls on it.
                        _ = &mut conn => {}
                        _ = &mut stopped => {
                            // Calls in flight finish on it.
                            tokio::spawn(conn);
                            return;
                        }
                    },
                    Driver::Watch(mut watch) => tokio::select! {
                        _ = &mut watch => {}
                        // A call failed below HTTP: redial to check.
                        _ = probe.notified() => {}
                        _ = &mut stopped => return,
                    },
                }
                if opened.elapsed() >= settings.backoff.initial || shared.slot_was_used(id, slot) {
                    // It was up a while, or answered calls (a server
                    // retiring connections): redial at once. One that goes
                    // away before answering anything backs off, so a server
                    // that meets every connection with GOAWAY is no loop.
                    failures = 0;
                    continue;
                }
                format!(
                    "connection closed {} ms after it opened",
                    opened.elapsed().as_millis()
                )
            }
            Ok(Err(e)) => e.message().to_owned(),
            Err(_) => format!("no connection within {:?}", settings.connect_timeout),
        };
        failures = failures.saturating_add(1);
        let until = Instant::now() + settings.backoff.delay(failures, &mut rng);
        if !shared.slot_failed(id, slot, until, error) {
            return;
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep_until(until.into()) => {}
        }
    }
}

/// Completes when either sender is dropped: nothing is ever sent on them.
async fn stop_signal(mut channel: watch::Receiver<()>, mut endpoint: watch::Receiver<()>) {
    tokio::select! {
        _ = channel.changed() => {}
        _ = endpoint.changed() => {}
    }
}
