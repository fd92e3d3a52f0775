//! A raw HTTP/2 server for the keep-alive tests: it speaks just enough of
//! the protocol to set up a connection (the preface and SETTINGS), counts
//! the PINGs the client sends, and answers them or not. It never answers a
//! request; it keeps the connection open until the client closes it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// What the peer does with the client's PINGs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pings {
    /// Answers each with a PING ACK.
    Answer,
    /// Reads them and stays silent.
    Ignore,
}

/// What the peer has seen of its (single) connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    /// When each PING arrived.
    pub(crate) pings: Vec<Instant>,
    /// When the client closed the connection.
    pub(crate) closed: Option<Instant>,
}

/// A running raw peer; dropped, it stops.
pub(crate) struct RawH2 {
    pub(crate) addr: SocketAddr,
    seen: watch::Receiver<Seen>,
    task: JoinHandle<()>,
}

impl RawH2 {
    /// A peer on 127.0.0.1 that serves one connection, over TLS with
    /// `acceptor` (which must offer ALPN `h2`) if given.
    pub(crate) async fn start(pings: Pings, acceptor: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, seen) = watch::channel(Seen::default());
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            match acceptor {
                None => serve(tcp, pings, &tx).await,
                Some(acceptor) => {
                    let tls = acceptor.accept(tcp).await.unwrap();
                    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                    serve(tls, pings, &tx).await;
                }
            }
            tx.send_modify(|seen| seen.closed = Some(Instant::now()));
        });
        RawH2 { addr, seen, task }
    }

    /// `scheme://` and this peer's address.
    pub(crate) fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Waits until `done` holds for what the peer has seen, at most
    /// `ceiling`, and returns it.
    pub(crate) async fn wait_for(
        &self,
        ceiling: Duration,
        done: impl FnMut(&Seen) -> bool,
    ) -> Seen {
        let mut seen = self.seen.clone();
        let waited = tokio::time::timeout(ceiling, seen.wait_for(done)).await;
        match waited {
            Ok(Ok(seen)) => seen.clone(),
            Ok(Err(_)) => panic!("the peer stopped: {:?}", *self.seen.borrow()),
            Err(_) => panic!(
                "not seen within {ceiling:?}; seen: {:?}",
                *self.seen.borrow()
            ),
        }
    }

    /// What the peer has seen so far.
    pub(crate) fn seen(&self) -> Seen {
        self.seen.borrow().clone()
    }
}

impl Drop for RawH2 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one connection until the client closes it.
async fn serve<IO>(mut io: IO, pings: Pings, seen: &watch::Sender<Seen>)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut preface = [0u8; PREFACE.len()];
    io.read_exact(&mut preface).await.unwrap();
    assert_eq!(preface, PREFACE, "not an HTTP/2 client");
    write_frame(&mut io, SETTINGS, 0, &[]).await;
    while let Some((kind, flags, payload)) = read_frame(&mut io).await {
        match (kind, flags & ACK) {
            (SETTINGS, 0) => write_frame(&mut io, SETTINGS, ACK, &[]).await,
            (PING, 0) => {
                seen.send_modify(|seen| seen.pings.push(Instant::now()));
                if pings == Pings::Answer {
                    write_frame(&mut io, PING, ACK, &payload).await;
                }
            }
            // WINDOW_UPDATE, GOAWAY, acks: nothing to do.
            _ => {}
        }
    }
}

/// The next frame's type, flags and payload; `None` once the client has
/// closed the connection.
async fn read_frame<IO: AsyncRead + Unpin>(io: &mut IO) -> Option<(u8, u8, Vec<u8>)> {
    let mut head = [0u8; 9];
    if io.read_exact(&mut head).await.is_err() {
        return None;
    }
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    if io.read_exact(&mut payload).await.is_err() {
        return None;
    }
    Some((head[3], head[4], payload))
}

/// Writes one frame on stream 0.
async fn write_frame<IO: AsyncWrite + Unpin>(io: &mut IO, kind: u8, flags: u8, payload: &[u8]) {
    let len = (payload.len() as u32).to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    // The client may already be gone; its closing is seen on the next read.
    let _ = io.write_all(&frame).await;
    let _ = io.flush().await;
}
