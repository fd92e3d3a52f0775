//! A connection's life: retirement by age, idle time and request count,
//! and the server's shutdown.
//!
//! Each connection runs in its own task, which serves it until it ends or
//! until one of these asks it to finish: the server shutting down, the
//! connection reaching its (jittered) age, staying idle (no call in flight)
//! for the idle limit, or having served its quota of requests. Finishing is
//! graceful either way: hyper sends GOAWAY on HTTP/2 and `connection:
//! close` on HTTP/1.1, calls in flight run on, and new ones go to a new
//! connection. A retired connection gets a grace period to finish; at
//! shutdown the server's drain deadline applies instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// When a connection retires (see [`Server`](crate::Server)'s setters).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retirement {
    pub(crate) max_age: Option<Duration>,
    pub(crate) age_grace: Duration,
    pub(crate) max_idle: Option<Duration>,
    pub(crate) max_requests: Option<u64>,
}

impl Retirement {
    /// Whether calls must be counted (idle time or a request quota).
    fn tracks_calls(&self) -> bool {
        self.max_idle.is_some() || self.max_requests.is_some()
    }
}

/// A connection hyper serves that can be asked to finish.
pub(crate) trait Graceful: Future {
    /// Stops taking new requests; the future ends when the calls in flight
    /// have.
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

impl<I, S, B, E> Graceful for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http2::Connection::graceful_shutdown(self);
    }
}

/// Calls on one connection: how many are in flight, how many were served,
/// and since when it has been idle.
#[derive(Debug)]
pub(crate) struct Calls {
    born: Instant,
    in_flight: AtomicUsize,
    served: AtomicU64,
    /// Milliseconds after `born` when the last call in flight ended;
    /// [`BUSY`] from the start of a call on an idle connection until the
    /// call that leaves it idle again writes the time.
    idle_since_ms: AtomicU64,
    max_requests: u64,
    quota_reached: Notify,
}

impl Calls {
    fn new(max_requests: Option<u64>) -> Self {
        Calls {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
            max_requests: max_requests.unwrap_or(0),
            quota_reached: Notify::new(),
        }
    }

    fn start(self: &Arc<Self>) -> InFlight {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.idle_since_ms.store(BUSY, Ordering::Release);
        }
        let served = self.served.fetch_add(1, Ordering::AcqRel) + 1;
        let last = served == self.max_requests;
        if last {
            self.quota_reached.notify_one();
        }
        InFlight {
            calls: self.clone(),
            last,
        }
    }

    /// When the connection became idle, if it is.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) != 0 {
            return None;
        }
        // `BUSY`: the call that left the connection idle has not written
        // the time yet; it is not idle for long enough to count.
        let ms = self.idle_since_ms.load(Ordering::Acquire);
        (ms != BUSY).then(|| self.born + Duration::from_millis(ms))
    }
}

/// `Calls::idle_since_ms` while the connection is not known to be idle.
const BUSY: u64 = u64::MAX;

/// One call in flight; dropped when its response body ends or is dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    calls: Arc<Calls>,
    /// The connection's last call by its request quota.
    last: bool,
}

impl InFlight {
    fn is_last(&self) -> bool {
        self.last
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let calls = &self.calls;
        // Only the call that leaves the connection idle reads the clock:
        // on a busy connection, none does.
        if calls.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let ms = calls.born.elapsed().as_millis() as u64;
            calls.idle_since_ms.store(ms, Ordering::Release);
        }
    }
}

/// The hyper service of one connection: counts its calls when retirement
/// needs them counted.
#[derive(Debug, Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    calls: Option<Arc<Calls>>,
    /// The client's address, for spans (`client.address`).
    #[cfg(feature = "tracing")]
    peer: std::net::SocketAddr,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        #[cfg(feature = "tracing")]
        let req = {
            let mut req = req;
            if !req.headers().contains_key(http::header::HOST)
                && let Some(authority) = req.uri().authority().cloned()
            {
                // HTTP/2 names the server in `:authority`, not `host`.
                req.extensions_mut()
                    .insert(connect_layers::observe::ServerAuthority(authority));
            }
            req.extensions_mut()
                .insert(connect_layers::observe::PeerAddr(self.peer));
            req
        };
        let guard = self.calls.as_ref().map(Calls::start);
        // The last request of an HTTP/1.1 connection's quota says so in its
        // response (HTTP/2 gets a GOAWAY instead).
        let last = req.version() <= http::Version::HTTP_11
            && guard.as_ref().is_some_and(InFlight::is_last);
        TrackedFuture {
            guard,
            last,
            fut: self.inner.call(req),
        }
    }
}

pin_project! {
    /// Response future of [`Tracked`].
    pub(crate) struct TrackedFuture<F> {
        #[pin]
        fut: F,
        guard: Option<InFlight>,
        last: bool,
    }
}

impl<F, B, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = std::task::ready!(this.fut.poll(cx))?;
        if *this.last {
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        let guard = this.guard.take();
        Poll::Ready(Ok(resp.map(|body| TrackedBody { body, guard })))
    }
}

pin_project! {
    /// Response body of [`Tracked`]: the call is in flight until it ends.
    pub(crate) struct TrackedBody<B> {
        #[pin]
        body: B,
        guard: Option<InFlight>,
    }
}

impl<B: Body<Data = Bytes>> Body for TrackedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.guard.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Wraps a connection's service for `retirement`; the calls are `None`
/// when nothing needs them counted.
pub(crate) fn track<S>(
    service: S,
    retirement: &Retirement,
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))] peer: std::net::SocketAddr,
) -> (Tracked<S>, Option<Arc<Calls>>) {
    let calls = retirement
        .tracks_calls()
        .then(|| Arc::new(Calls::new(retirement.max_requests)));
    (
        Tracked {
            inner: service,
            calls: calls.clone(),
            #[cfg(feature = "tracing")]
            peer,
        },
        calls,
    )
}

/// `age` ± 10%, so that connections opened together do not all retire
/// together.
fn jittered(age: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    // A fresh `RandomState` is seeded differently each time: random
    // enough to spread retirements, with no dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let spread = (random % 2001) as f64 / 1000.0 - 1.0; // -1.0 ..= 1.0
    age.mul_f64(1.0 + 0.1 * spread)
}

/// Waits until the connection has been idle for `max_idle`.
async fn idle_for(calls: &Calls, max_idle: Duration) {
    loop {
        let wake = match calls.idle_since() {
            Some(since) if since.elapsed() >= max_idle => return,
            Some(since) => since + max_idle,
            None => Instant::now() + max_idle,
        };
        tokio::time::sleep_until(wake).await;
    }
}

/// Serves `conn` until it ends, finishing it gracefully when the server
/// shuts down or the connection retires.
pub(crate) async fn drive<C: Graceful>(
    conn: C,
    calls: Option<Arc<Calls>>,
    retirement: Retirement,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conn = std::pin::pin!(conn);
    let age = retirement.max_age.map(jittered);
    let aged = tokio::time::sleep(age.unwrap_or(Duration::ZERO));
    let mut aged = std::pin::pin!(aged);
    let idle = async {
        match (&calls, retirement.max_idle) {
            (Some(calls), Some(max_idle)) => idle_for(calls, max_idle).await,
            _ => std::future::pending().await,
        }
    };
    let mut idle = std::pin::pin!(idle);
    let quota = async {
        match &calls {
            Some(calls) if calls.max_requests > 0 => calls.quota_reached.notified().await,
            _ => std::future::pending().await,
        }
    };
    let mut quota = std::pin::pin!(quota);
    let retired = tokio::select! {
        _ = conn.as_mut() => return,
        _ = shutdown.wait_for(|stop| *stop) => false,
        () = &mut aged, if age.is_some() => true,
        () = &mut idle => true,
        () = &mut quota => true,
    };
    conn.as_mut().graceful_shutdown();
    if retired {
        // Our own deadline; a shutdown meanwhile closes it by the server's.
        let _ = tokio::time::timeout(retirement.age_grace, conn).await;
    } else {
        conn.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_from_the_end_of_its_last_call() {
        let calls = Arc::new(Calls::new(None));
        assert!(calls.idle_since().is_some(), "idle since it was born");
        let a = calls.start();
        let b = calls.start();
        assert!(calls.idle_since().is_none());
        drop(a);
        assert!(calls.idle_since().is_none(), "one call still in flight");
        std::thread::sleep(Duration::from_millis(5));
        let before = Instant::now();
        drop(b);
        let since = calls.idle_since().expect("idle after the last call");
        // Whole milliseconds since `born`: within one of the call's end.
        assert!(
            since + Duration::from_millis(1) >= before,
            "{since:?} {before:?}"
        );
        assert!(since <= Instant::now());
        let c = calls.start();
        assert!(calls.idle_since().is_none(), "busy again");
        drop(c);
        assert!(calls.idle_since().unwrap() >= since);
    }
}
