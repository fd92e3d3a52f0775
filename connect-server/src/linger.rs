//! Closing a connection without a reset ("lingering close").
//!
//! When the server ends a connection (GOAWAY after a graceful shutdown, a
//! retired or idle connection, `connection: close`, a protocol error), the
//! client may already have sent bytes the server will never read: a new
//! stream's HEADERS that crossed the GOAWAY on the wire, the rest of a
//! request body. Closing a socket with unread bytes makes the kernel answer
//! with a reset, and the reset can destroy what the client has not read
//! yet: the GOAWAY that says which streams the server never took, or the
//! last response. A call that could have been retried on another
//! connection then fails as a broken pipe.
//!
//! [`Linger`] watches the IO hyper drives. If hyper shut the write side
//! down (FIN sent) before the client's end of stream was read, the
//! connection's task gets the IO back when hyper drops it, and [`discard`]s
//! what the client still sends until the client closes too, bounded in
//! bytes and time.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// At most this much is read and thrown away after the server's FIN.
const LINGER_BYTES: usize = 1 << 20;

/// For at most this long.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// An IO that hands itself back, on drop, if it was shut down for writing
/// before its reading side ended. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Linger<T> {
    io: Option<T>,
    shut_down: bool,
    read_ended: bool,
    back: Option<oneshot::Sender<T>>,
}

/// Where a [`Linger`] hands its IO back.
#[derive(Debug)]
pub(crate) struct Lingering<T>(oneshot::Receiver<T>);

impl<T> Linger<T> {
    /// Wraps `io`; the [`Lingering`] receives it if it must linger.
    pub(crate) fn new(io: T) -> (Self, Lingering<T>) {
        let (tx, rx) = oneshot::channel();
        let linger = Linger {
            io: Some(io),
            shut_down: false,
            read_ended: false,
            back: Some(tx),
        };
        (linger, Lingering(rx))
    }

    fn closed() -> io::Error {
        io::ErrorKind::NotConnected.into()
    }
}

impl<T> Drop for Linger<T> {
    fn drop(&mut self) {
        if self.shut_down
            && !self.read_ended
            && let (Some(io), Some(back)) = (self.io.take(), self.back.take())
        {
            let _ = back.send(io);
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Lingering<T> {
    /// Once hyper has dropped the connection: if it must linger, reads and
    /// discards what the client still sends, until it closes (bounded).
    /// Returns at once otherwise, and when the IO lives on elsewhere (an
    /// HTTP/1.1 upgrade).
    pub(crate) async fn finish(mut self) {
        if let Ok(io) = self.0.try_recv() {
            discard(io).await;
        }
    }
}

/// Reads and throws away what the peer sends, until it closes or errs,
/// or the linger's byte or time bound is reached. The caller has already
/// sent its FIN.
pub(crate) async fn discard<T: AsyncRead + Unpin>(mut io: T) {
    let mut sink = [0u8; 4096];
    let mut left = LINGER_BYTES;
    let drain = async {
        while left > 0 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// Closes a connection that will not be served: sends FIN, then
/// [`discard`]s what the client still sends.
pub(crate) async fn close_gracefully<T: AsyncRead + AsyncWrite + Unpin>(mut io: T) {
    use tokio::io::AsyncWriteExt as _;

    let _ = io.shutdown().await;
    discard(io).await;
}

impl<T: AsyncRead + Unpin> AsyncRead for Linger<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Err(Self::closed()));
        };
        let before = buf.filled().len();
        let asked = buf.remaining() > 0;
        let polled = Pin::new(io).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if asked && buf.filled().len() == before => this.read_ended = true,
            Poll::Ready(Err(_)) => this.read_ended = true,
            _ => {}
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Linger<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_write(cx, buf),
            None => Poll::Ready(Err(Self::closed())),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            None => Poll::Ready(Err(Self::closed())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(T::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_flush(cx),
            None => Poll::Ready(Err(Self::closed())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shut_down = true;
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_shutdown(cx),
            None => Poll::Ready(Err(Self::closed())),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    #[tokio::test]
    async fn a_server_close_before_the_clients_lingers_until_the_client_closes() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, lingering) = Linger::new(server);
        io.write_all(b"goaway").await.unwrap();
        io.shutdown().await.unwrap();
        // The client's bytes crossed the server's close: still unread.
        client.write_all(b"late headers").await.unwrap();
        drop(io);
        let mut io = lingering.0.await.expect("the IO is handed back");
        let mut late = [0u8; 12];
        io.read_exact(&mut late).await.unwrap();
        assert_eq!(&late, b"late headers");
        // The client reads everything the server sent before the close.
        let mut seen = Vec::new();
        client.read_to_end(&mut seen).await.unwrap();
        assert_eq!(seen, b"goaway");
    }

    #[tokio::test]
    async fn finish_discards_until_the_client_closes() {
        let (mut client, server) = tokio::io::duplex(64);
        let (mut io, lingering) = Linger::new(server);
        io.shutdown().await.unwrap();
        drop(io);
        let writer = tokio::spawn(async move {
            for _ in 0..100 {
                client.write_all(&[7u8; 100]).await.unwrap();
            }
            // 10,000 bytes through a 64-byte pipe: all of them were read.
        });
        tokio::time::timeout(Duration::from_millis(500), lingering.finish())
            .await
            .expect("ends at the client's close, well before the bound");
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_client_that_closed_first_is_not_waited_for() {
        let (client, server) = tokio::io::duplex(64);
        let (mut io, lingering) = Linger::new(server);
        drop(client);
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        io.shutdown().await.unwrap();
        drop(io);
        assert!(lingering.0.await.is_err(), "nothing to linger for");
    }

    #[tokio::test]
    async fn a_connection_dropped_without_a_close_does_not_linger() {
        let (_client, server) = tokio::io::duplex(64);
        let (io, lingering) = Linger::new(server);
        drop(io);
        assert!(lingering.0.await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_closes_is_dropped_at_the_bound() {
        let (_client, server) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        discard(server).await;
        assert_eq!(started.elapsed(), LINGER_TIME);
    }
}
