//! Draining unread request bodies.
//!
//! A call can end before its request body does: a `415` for the wrong
//! content type, a message over the receive limit, a handler that answers
//! early. On HTTP/1.1 hyper closes the connection when the body is dropped unread,
//! and a client still writing the body gets `EPIPE` / `ECONNRESET`,
//! usually losing the response it was about to read (Go's client reports
//! `unavailable: broken pipe`). Like Go's `net/http` server, we keep reading
//! and discarding such a body for a while (up to [`DRAIN_MAX_BYTES`] and
//! [`DRAIN_TIMEOUT`]) so the client can finish writing and read our answer.
//!
//! The router holds the body's [`DrainState`]: if the call's response is
//! ready while the body is still being drained, the response waits briefly
//! ([`SETTLE_WAIT`]) for the drain to finish, as Go's server does before
//! writing its headers; if it has not, the response says `connection:
//! close`, so the client never reuses a connection that may be closed under
//! it, while the drain goes on reading so the client can finish writing.
//!
//! On HTTP/2, a stream whose request body is dropped unread is reset with
//! `RST_STREAM(NO_ERROR)` as soon as the response is sent (RFC 9113, 8.1),
//! and h2 then ignores whatever the client still sends on it (RFC 9113,
//! 5.4.2): a protocol error in the rest of the request (a `content-length`
//! the DATA does not match, a pseudo-header in the trailers) goes
//! unreported, and the stream no longer counts against the concurrency
//! limit the client was told. So an unread HTTP/2 body is drained too, up
//! to [`H2_DRAIN_MAX_BYTES`] and [`DRAIN_TIMEOUT`]: the stream then ends as
//! the client ends it, or with h2's own error for what it sent. A body read
//! to its end (every well-formed unary call) costs one `is_end_stream`
//! check; the drain runs only after an early answer.
//!
//! The same body also carries the router's request-body stall limit
//! ([`Router::request_body_timeout`](crate::Router::request_body_timeout)):
//! while the call waits for body data, a body that delivers nothing for
//! that long fails with `deadline_exceeded`, and its connection is not
//! reused.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Sleep;

use http::Version;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The most request body discarded after a call ended early. Reading on
/// keeps the socket from being reset under a client that is still
/// writing (which would lose our answer); the time limit bounds the work.
pub(crate) const DRAIN_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// The most HTTP/2 request body discarded after a call ended early (each
/// byte read gives the client flow-control window back, so this bounds
/// what one stream can make us read).
pub(crate) const H2_DRAIN_MAX_BYTES: u64 = 1024 * 1024;

/// How long an early answer waits for the drain before it goes out with
/// `connection: close` instead (the drain goes on behind it).
pub(crate) const SETTLE_WAIT: Duration = Duration::from_millis(500);

/// The longest a left-over request body is read after a call ended early.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pin_project! {
    /// The request body the protocol stack sees behind a
    /// [`Router`](crate::Router): the client's body, drained in the
    /// background (bounded in bytes and time) if it is dropped unread. See
    /// the module docs.
    pub struct DrainOnDrop<B>
    where
        B: Body,
        B: Send,
        B: Unpin,
        B: 'static,
    {
        #[pin]
        inner: Inner<B>,
        stall: Stall,
    }
}

/// The stall limit: armed (from now) whenever the body has no data ready,
/// re-armed after each frame; no clock is read while data flows, and the
/// timer is allocated only the first time the body makes the call wait.
struct Stall {
    limit: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    rearm: bool,
}

impl Stall {
    fn new(limit: Option<Duration>) -> Self {
        Stall {
            limit,
            sleep: None,
            rearm: true,
        }
    }

    /// Whether the limit ran out while the body had nothing for us.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        if self.rearm {
            self.rearm = false;
            let deadline = tokio::time::Instant::now() + limit;
            match self.sleep.as_mut() {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        self.sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready())
    }
}

/// The error a stalled request body ends with.
fn stalled(limit: Option<Duration>) -> BoxError {
    let limit = limit.unwrap_or_default();
    Box::new(connect_core::ConnectError::deadline_exceeded(format!(
        "request body stalled: no data for {limit:?}"
    )))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    #[project = InnerProj]
    enum Inner<B>
    where
        B: Body,
        B: Send,
        B: Unpin,
        B: 'static,
    {
        // HTTP/2 and later: read in place, drained on drop.
        Direct {
            guard: H2Guard<B>,
        },
        // HTTP/1.x: drained on drop.
        Http1 {
            guard: Guard<B>,
        },
    }
}

// State 0 (the default): the body is still the call's to read.
const DRAINING: u8 = 1;
const ENDED: u8 = 2;
const ABANDONED: u8 = 3;

/// Where an HTTP/1.x request body stands: still read by the call, being
/// drained, read to its end, or abandoned (too long, too slow, or broken).
#[derive(Debug, Default)]
pub(crate) struct DrainState {
    state: AtomicU8,
    changed: Notify,
}

impl DrainState {
    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Whether the connection can be kept alive after the response:
    /// `None` while a drain is in progress (wait with
    /// [`settled`](Self::settled)).
    pub(crate) fn keep_alive(&self) -> Option<bool> {
        match self.state.load(Ordering::Acquire) {
            DRAINING => None,
            s => Some(s != ABANDONED),
        }
    }

    /// Waits until a drain in progress finishes; `true` if the body was read
    /// to its end (the connection can be kept alive).
    pub(crate) async fn settled(&self) -> bool {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.state.load(Ordering::Acquire) {
                DRAINING => notified.await,
                s => return s != ABANDONED,
            }
        }
    }
}

/// Owns an HTTP/2 body in place (no allocation); drains it in the
/// background when dropped before its end, so h2 does not reset the stream
/// under a client still sending.
struct H2Guard<B: Body + Send + Unpin + 'static> {
    body: Option<B>,
}

impl<B: Body + Send + Unpin + 'static> Drop for H2Guard<B> {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else { return };
        if body.is_end_stream() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ =
                    tokio::time::timeout(DRAIN_TIMEOUT, discard(body, H2_DRAIN_MAX_BYTES)).await;
            });
        }
    }
}

/// Owns an HTTP/1.x body; drains it in the background when dropped before
/// its end.
struct Guard<B: Body + Send + Unpin + 'static> {
    body: Option<B>,
    ended: bool,
    state: Arc<DrainState>,
}

impl<B: Body + Send + Unpin + 'static> std::fmt::Debug for Guard<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("ended", &self.ended).finish()
    }
}

impl<B> std::fmt::Debug for DrainOnDrop<B>
where
    B: Body + Send + Unpin + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("DrainOnDrop");
        match &self.inner {
            Inner::Direct { .. } => d.field("drain", &false),
            Inner::Http1 { guard } => d.field("drain", &true).field("ended", &guard.ended),
        };
        d.finish()
    }
}

impl<B> DrainOnDrop<B>
where
    B: Body + Send + Unpin + 'static,
{
    /// Wraps the body of a request made with HTTP `version`.
    pub fn new(version: Version, body: B) -> Self {
        Self::tracked(version, body, None).0
    }

    /// Like [`new`](Self::new), also returning the state of an HTTP/1.x
    /// body for the router to consult when the response is ready, and
    /// failing the body if it stalls for `stall_limit` while awaited.
    pub(crate) fn tracked(
        version: Version,
        body: B,
        stall_limit: Option<Duration>,
    ) -> (Self, Option<Arc<DrainState>>) {
        let stall = Stall::new(stall_limit);
        if version <= Version::HTTP_11 {
            let state = Arc::new(DrainState::default());
            let inner = Inner::Http1 {
                guard: Guard {
                    body: Some(body),
                    ended: false,
                    state: state.clone(),
                },
            };
            (DrainOnDrop { inner, stall }, Some(state))
        } else {
            (
                DrainOnDrop {
                    inner: Inner::Direct {
                        guard: H2Guard { body: Some(body) },
                    },
                    stall,
                },
                None,
            )
        }
    }
}

impl<B> Body for DrainOnDrop<B>
where
    B: Body + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let polled = match inner.as_mut().project() {
            InnerProj::Direct { guard } => match guard.body.as_mut() {
                Some(body) => Pin::new(body).poll_frame(cx),
                None => return Poll::Ready(None),
            },
            InnerProj::Http1 { guard } => {
                let Some(body) = guard.body.as_mut() else {
                    return Poll::Ready(None);
                };
                let polled = Pin::new(body).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => {
                        guard.ended = true;
                        guard.state.set(ENDED);
                    }
                    Poll::Ready(Some(Err(_))) => {
                        guard.ended = true;
                        guard.state.set(ABANDONED);
                    }
                    _ => {}
                }
                polled
            }
        };
        match polled {
            Poll::Ready(frame) => {
                this.stall.rearm = true;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending if this.stall.expired(cx) => {
                if let InnerProj::Http1 { guard } = inner.project() {
                    // Not drained: a client this slow does not get the
                    // connection back.
                    guard.ended = true;
                    guard.body = None;
                    guard.state.set(ABANDONED);
                }
                Poll::Ready(Some(Err(stalled(this.stall.limit))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Direct { guard } => guard.body.as_ref().is_none_or(|b| b.is_end_stream()),
            Inner::Http1 { guard } => {
                guard.ended || guard.body.as_ref().is_none_or(|b| b.is_end_stream())
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Direct { guard } => guard
                .body
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint()),
            Inner::Http1 { guard } => guard
                .body
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint()),
        }
    }
}

impl<B: Body + Send + Unpin + 'static> Drop for Guard<B> {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else { return };
        if self.ended {
            return;
        }
        if body.is_end_stream() {
            self.state.set(ENDED);
            return;
        }
        // Without a runtime (a test dropping a request, say) there is no
        // connection to keep alive either.
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.state.set(ABANDONED);
            return;
        };
        let state = self.state.clone();
        state.set(DRAINING);
        handle.spawn(async move {
            let drained = tokio::time::timeout(DRAIN_TIMEOUT, discard(body, DRAIN_MAX_BYTES)).await;
            state.set(if drained == Ok(true) {
                ENDED
            } else {
                ABANDONED
            });
        });
    }
}

/// Reads and discards `body` until its end (`true`), an error or `max`
/// bytes (`false`).
async fn discard<B: Body + Unpin>(mut body: B, max: u64) -> bool {
    use bytes::Buf as _;

    let mut seen = 0u64;
    while seen <= max {
        let more = std::future::poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame
                .data_ref()
                .map_or(0, |d| d.remaining() as u64)))),
            Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await;
        match more {
            Some(Ok(n)) => seen += n,
            Some(Err(())) => return false,
            None => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use bytes::Bytes;
    use futures_util::{StreamExt as _, stream};
    use http_body_util::{BodyExt as _, StreamBody};

    use super::*;

    /// A body of `n` chunks of 1 KiB that counts the bytes read from it.
    fn counted(
        n: usize,
        read: Arc<AtomicU64>,
    ) -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static {
        StreamBody::new(stream::iter((0..n).map(move |_| {
            read.fetch_add(1024, Ordering::SeqCst);
            Ok(Frame::data(Bytes::from(vec![0u8; 1024])))
        })))
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn http1_body_dropped_unread_is_drained_up_to_the_limit() {
        let read = Arc::new(AtomicU64::new(0));
        let mut body = Box::pin(DrainOnDrop::new(Version::HTTP_11, counted(8, read.clone())));
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap().len(), 1024);
        drop(body);
        settle().await;
        assert_eq!(
            read.load(Ordering::SeqCst),
            8 * 1024,
            "rest of body drained"
        );

        let read = Arc::new(AtomicU64::new(0));
        let huge = (DRAIN_MAX_BYTES / 1024) as usize * 4;
        drop(DrainOnDrop::new(
            Version::HTTP_11,
            counted(huge, read.clone()),
        ));
        settle().await;
        let n = read.load(Ordering::SeqCst);
        assert!(n > DRAIN_MAX_BYTES && n <= DRAIN_MAX_BYTES + 2048, "{n}");
    }

    #[tokio::test]
    async fn http2_body_dropped_unread_is_drained_up_to_its_limit() {
        let read = Arc::new(AtomicU64::new(0));
        drop(DrainOnDrop::new(Version::HTTP_2, counted(8, read.clone())));
        settle().await;
        assert_eq!(
            read.load(Ordering::SeqCst),
            8 * 1024,
            "rest of body drained"
        );

        let read = Arc::new(AtomicU64::new(0));
        let huge = (H2_DRAIN_MAX_BYTES / 1024) as usize * 4;
        drop(DrainOnDrop::new(
            Version::HTTP_2,
            counted(huge, read.clone()),
        ));
        settle().await;
        let n = read.load(Ordering::SeqCst);
        assert!(
            n > H2_DRAIN_MAX_BYTES && n <= H2_DRAIN_MAX_BYTES + 2048,
            "{n}"
        );
    }

    #[tokio::test]
    async fn passes_frames_through() {
        for version in [Version::HTTP_11, Version::HTTP_2] {
            let read = Arc::new(AtomicU64::new(0));
            let body = DrainOnDrop::new(version, counted(3, read.clone()));
            let all = body.collect().await.unwrap().to_bytes();
            assert_eq!(all.len(), 3 * 1024);
        }
    }

    #[test]
    fn dropping_outside_a_runtime_does_not_panic() {
        let read = Arc::new(AtomicU64::new(0));
        drop(DrainOnDrop::new(Version::HTTP_11, counted(2, read.clone())));
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }

    /// A body that sends `first`, then nothing until the end of time.
    fn stalls_after(
        first: &'static [u8],
    ) -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static {
        StreamBody::new(
            stream::iter([Ok(Frame::data(Bytes::from_static(first)))]).chain(stream::pending()),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_deadline_exceeded_after_the_limit() {
        for version in [Version::HTTP_11, Version::HTTP_2] {
            let limit = Duration::from_secs(30);
            let (body, drain) = DrainOnDrop::tracked(version, stalls_after(b"abc"), Some(limit));
            let mut body = Box::pin(body);
            let started = tokio::time::Instant::now();
            assert_eq!(
                &body.frame().await.unwrap().unwrap().into_data().unwrap()[..],
                b"abc"
            );
            let err = body.frame().await.unwrap().unwrap_err();
            let err = connect_core::ConnectError::from_error(err);
            assert_eq!(
                err.code(),
                connect_core::Code::DeadlineExceeded,
                "{version:?}"
            );
            assert_eq!(started.elapsed(), limit);
            if let Some(drain) = drain {
                // Not drained: the connection is not kept alive.
                drop(body);
                assert_eq!(drain.keep_alive(), Some(false));
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_frame_rearms_the_stall_limit() {
        let limit = Duration::from_secs(10);
        let slow = stream::unfold(0, |n| async move {
            if n == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(8)).await;
            Some((
                Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"x"))),
                n + 1,
            ))
        });
        let (body, _) = DrainOnDrop::tracked(
            Version::HTTP_2,
            StreamBody::new(Box::pin(slow)),
            Some(limit),
        );
        // 24 s in all, but never 10 s without data.
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"xxx");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_limit_a_body_may_wait() {
        let (body, _) = DrainOnDrop::tracked(Version::HTTP_2, stalls_after(b"a"), None);
        let mut body = Box::pin(body);
        body.frame().await.unwrap().unwrap();
        let waited = tokio::time::timeout(Duration::from_secs(3600), body.frame()).await;
        assert!(waited.is_err(), "the body ended or failed");
    }
}
