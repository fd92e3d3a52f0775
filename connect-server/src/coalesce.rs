//! Write coalescing for HTTP/2 connections: one system call for what h2
//! writes in one flush.
//!
//! h2 copies a DATA frame's payload into its write buffer only up to a
//! threshold: 256 bytes over a transport that writes vectored, 1 KiB over
//! one that does not. A larger payload is chained behind the buffer, and h2
//! flushes before it buffers anything else. So over TCP (vectored) every
//! answer of more than about 250 bytes was its own `writev`, and a gRPC
//! answer's trailers, queued right behind its DATA frame, went out in a
//! second one: two system calls per call, where a Connect answer of the
//! same size took one.
//!
//! [`Coalesce`] tells h2 that the transport does not write vectored, so
//! payloads up to 1 KiB (most RPC messages) are copied into h2's buffer
//! with the frames around them, and a call's headers, message and
//! trailers, and those of the other streams ready at the same time, leave
//! in one write. For the larger payloads h2 still chains, it holds what h2
//! writes first (its buffer) and writes it together with the payload,
//! vectored, as h2 would have: one system call, as before, and the payload
//! is not copied. What it holds is always written by the flush that ends
//! every h2 write pass.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Up to this much of what h2 writes is held for the next write or the
/// flush (h2's own buffer is 16 KiB, plus a frame head).
const HOLD_MAX: usize = 16 * 1024 + 64;

/// The hold's allocation kept between flushes: a connection that once held
/// a large batch gives the rest back, so idle connections cost little.
const KEEP: usize = 4 * 1024;

/// Behind held bytes, a write larger than this is a payload h2 chained
/// (h2 copies smaller ones into its buffer): it goes out with them at
/// once, vectored, rather than being copied.
const COPY_MAX: usize = 1024;

/// A transport for an HTTP/2 connection that coalesces h2's writes (see
/// the module docs). Reads pass through.
#[derive(Debug)]
pub(crate) struct Coalesce<T> {
    inner: T,
    held: BytesMut,
    /// The most held since the last flush (`held`'s own capacity shrinks
    /// as it is written out, so it cannot tell).
    peak: usize,
}

impl<T> Coalesce<T> {
    pub(crate) fn new(inner: T) -> Self {
        Coalesce {
            inner,
            held: BytesMut::new(),
            peak: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> Coalesce<T> {
    /// Writes out everything held.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.held.advance(n);
        }
        self.held.clear();
        if std::mem::take(&mut self.peak) > KEEP {
            self.held = BytesMut::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalesce<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesce<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            let hold = this.held.is_empty() || buf.len() <= COPY_MAX;
            if hold && this.held.len() + buf.len() <= HOLD_MAX {
                // Held until the next write or the flush.
                this.held.extend_from_slice(buf);
                this.peak = this.peak.max(this.held.len());
                return Poll::Ready(Ok(buf.len()));
            }
            if this.held.is_empty() {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
            // What is held, and as much of `buf` as the kernel takes.
            let held = this.held.len();
            let n = if this.inner.is_write_vectored() {
                let bufs = [IoSlice::new(&this.held), IoSlice::new(buf)];
                std::task::ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &bufs))?
            } else {
                std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, &this.held))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n > held {
                this.held.clear();
                return Poll::Ready(Ok(n - held));
            }
            // Only held bytes left: none of `buf` is taken yet, so try
            // again (a full socket answers `Pending`, and h2 comes back
            // with the same `buf`).
            this.held.advance(n);
        }
    }

    fn is_write_vectored(&self) -> bool {
        // Deliberately not: see the module docs.
        false
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::AsyncWriteExt as _;

    use super::*;

    /// A transport that records each write call, takes at most `limit`
    /// bytes a call, and is `Pending` (waking at once) every other call
    /// when `flaky`.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        limit: Option<usize>,
        flaky: bool,
        turn: Arc<Mutex<bool>>,
    }

    impl Recorder {
        fn take(&self, bufs: &[IoSlice<'_>], cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
            if self.flaky {
                let mut turn = self.turn.lock().unwrap();
                *turn = !*turn;
                if *turn {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
            let mut out = Vec::new();
            for b in bufs {
                out.extend_from_slice(b);
            }
            out.truncate(self.limit.unwrap_or(usize::MAX));
            let n = out.len();
            self.writes.lock().unwrap().push(out);
            Poll::Ready(Ok(n))
        }

        fn all(&self) -> Vec<u8> {
            self.writes.lock().unwrap().concat()
        }

        fn calls(&self) -> usize {
            self.writes.lock().unwrap().len()
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.take(&[IoSlice::new(buf)], cx)
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.take(bufs, cx)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn small_writes_leave_in_one_call_at_the_flush() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        io.write_all(b"headers").await.unwrap();
        io.write_all(b"data").await.unwrap();
        io.write_all(b"trailers").await.unwrap();
        assert_eq!(rec.calls(), 0, "nothing written before the flush");
        io.flush().await.unwrap();
        assert_eq!(rec.calls(), 1);
        assert_eq!(rec.all(), b"headersdatatrailers");
    }

    #[tokio::test]
    async fn a_large_payload_goes_with_what_is_held_in_one_call() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        let payload = vec![7u8; HOLD_MAX];
        io.write_all(b"frame head").await.unwrap();
        io.write_all(&payload).await.unwrap();
        assert_eq!(
            rec.calls(),
            1,
            "held bytes and payload in one vectored write"
        );
        io.flush().await.unwrap();
        assert_eq!(rec.calls(), 1);
        let mut want = b"frame head".to_vec();
        want.extend_from_slice(&payload);
        assert_eq!(rec.all(), want);
    }

    #[tokio::test]
    async fn a_chained_payload_is_written_at_once_not_copied() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        let payload = vec![9u8; 4096];
        io.write_all(b"frame head").await.unwrap();
        assert_eq!(io.write(&payload).await.unwrap(), payload.len());
        assert_eq!(rec.calls(), 1, "written with the held bytes, not held");
        assert!(io.held.is_empty());
        io.flush().await.unwrap();
        assert_eq!(rec.calls(), 1);
    }

    #[tokio::test]
    async fn partial_and_pending_writes_lose_and_reorder_nothing() {
        let rec = Recorder {
            limit: Some(3),
            flaky: true,
            ..Recorder::default()
        };
        let mut io = Coalesce::new(rec.clone());
        let mut want = Vec::new();
        for i in 0..50u8 {
            let len = match i % 7 {
                0 => HOLD_MAX + 5,
                3 => 3000,
                _ => 11,
            };
            let chunk = vec![i; len];
            io.write_all(&chunk).await.unwrap();
            want.extend_from_slice(&chunk);
        }
        io.shutdown().await.unwrap();
        assert_eq!(rec.all(), want);
    }

    #[tokio::test]
    async fn a_transport_that_takes_nothing_is_an_error_not_a_hang() {
        let rec = Recorder {
            limit: Some(0),
            ..Recorder::default()
        };
        let mut io = Coalesce::new(rec);
        io.write_all(b"held").await.unwrap();
        let err = io.flush().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }

    #[tokio::test]
    async fn a_large_hold_is_given_back_after_the_flush() {
        let rec = Recorder::default();
        let mut io = Coalesce::new(rec.clone());
        io.write_all(&vec![1u8; HOLD_MAX - 1]).await.unwrap();
        io.flush().await.unwrap();
        assert!(io.held.capacity() <= KEEP);
        io.write_all(b"small").await.unwrap();
        io.flush().await.unwrap();
        assert!(io.held.capacity() <= KEEP);
        assert_eq!(rec.calls(), 2);
    }

    #[test]
    fn h2_is_told_the_transport_does_not_write_vectored() {
        assert!(!Coalesce::new(Recorder::default()).is_write_vectored());
    }
}
