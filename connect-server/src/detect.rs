//! Telling HTTP/2 from HTTP/1.x on a new connection, within a time limit.
//!
//! A cleartext port serves both: HTTP/2 with prior knowledge starts with
//! the 24-byte connection preface, anything else is HTTP/1.x. We read just
//! enough to decide (usually the first packet: an HTTP/1.x method differs
//! from the preface by its first or second byte) and replay those bytes
//! to the chosen protocol through [`Rewind`]. The server bounds the whole
//! detection with its first-byte limit, so a client that connects and
//! sends nothing, or a few bytes of the preface and then nothing, cannot
//! hold the connection open.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface (RFC 9113, section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detected {
    Http1,
    Http2,
}

/// Reads from `io` until the bytes seen decide the protocol: all of the
/// preface (HTTP/2) or a byte that differs from it (HTTP/1.x). Returns the
/// protocol and the bytes read, to be replayed. A connection closed before
/// a decision is an `UnexpectedEof` error.
pub(crate) async fn detect<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<(Detected, Bytes)> {
    let mut seen = BytesMut::with_capacity(PREFACE.len());
    loop {
        let before = seen.len();
        if io.read_buf(&mut seen).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let common = seen.len().min(PREFACE.len());
        if seen[before.min(common)..common] != PREFACE[before.min(common)..common] {
            return Ok((Detected::Http1, seen.freeze()));
        }
        if seen.len() >= PREFACE.len() {
            return Ok((Detected::Http2, seen.freeze()));
        }
    }
}

/// An IO that first replays bytes already read from it.
#[derive(Debug)]
pub(crate) struct Rewind<T> {
    prefix: Bytes,
    inner: T,
}

impl<T> Rewind<T> {
    /// Replays `prefix`, then reads from `inner`.
    pub(crate) fn new(prefix: Bytes, inner: T) -> Self {
        Rewind { prefix, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    async fn detect_chunks(chunks: &[&[u8]]) -> io::Result<(Detected, Bytes)> {
        let (mut client, mut server) = tokio::io::duplex(64);
        for chunk in chunks {
            client.write_all(chunk).await.unwrap();
        }
        drop(client);
        detect(&mut server).await
    }

    #[tokio::test]
    async fn http1_methods_are_told_apart_early() {
        for head in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"POST /a HTTP/1.1\r\n",
            b"PUT /",
            b"P",
        ] {
            let got = detect_chunks(&[head]).await;
            if head == b"P" {
                // A lone "P" could still be the preface: closed undecided.
                assert_eq!(got.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
            } else {
                let (proto, seen) = got.unwrap();
                assert_eq!(proto, Detected::Http1, "{head:?}");
                assert_eq!(&seen[..], head);
            }
        }
    }

    #[tokio::test]
    async fn the_preface_in_pieces_is_http2() {
        let (proto, seen) = detect_chunks(&[&PREFACE[..3], &PREFACE[3..10], &PREFACE[10..]])
            .await
            .unwrap();
        assert_eq!(proto, Detected::Http2);
        assert_eq!(&seen[..], &PREFACE[..]);
    }

    #[tokio::test]
    async fn a_wrong_byte_late_in_the_preface_is_http1() {
        let mut bad = *PREFACE;
        bad[20] = b'X';
        let (proto, seen) = detect_chunks(&[&bad[..10], &bad[10..]]).await.unwrap();
        assert_eq!(proto, Detected::Http1);
        assert_eq!(&seen[..], &bad[..]);
    }

    #[tokio::test]
    async fn rewind_replays_then_reads_on() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b" world").await.unwrap();
        drop(client);
        let mut io = Rewind::new(Bytes::from_static(b"hello"), server);
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"hello world");
    }
}
