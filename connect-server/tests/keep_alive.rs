//! The server's HTTP/2 keep-alive (`Http2Settings::keep_alive_interval`
//! and `keep_alive_timeout`), seen from a raw HTTP/2 client: the server
//! pings an idle connection, keeps it while its PINGs are answered, and
//! closes it when they are not.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connect_server::{Http2Settings, Router, Server};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;

const PING_EVERY: Duration = Duration::from_millis(50);
const PING_TIMEOUT: Duration = Duration::from_millis(300);
/// Only a hang guard: how long a test waits for the server.
const WITHIN: Duration = Duration::from_secs(10);

async fn start(keep_alive_interval: Option<Duration>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = Http2Settings::default();
    settings.keep_alive_interval = keep_alive_interval;
    settings.keep_alive_timeout = PING_TIMEOUT;
    tokio::spawn(
        Server::new(Router::new())
            .http2(settings)
            .serve_with_listener(listener),
    );
    addr
}

/// A raw h2c connection, set up: preface and SETTINGS sent.
async fn connect(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(PREFACE).await.unwrap();
    write_frame(&mut tcp, SETTINGS, 0, &[]).await;
    tcp
}

/// What the client saw of the server until the server closed the
/// connection or `pings_wanted` PINGs arrived.
#[derive(Debug, Default)]
struct Seen {
    pings: Vec<Instant>,
    goaway: bool,
    closed: Option<Instant>,
}

/// Reads frames, answering the server's SETTINGS and, if `answer`, its
/// PINGs, until the server closes the connection or sent `pings_wanted`
/// PINGs.
async fn watch(tcp: &mut TcpStream, answer: bool, pings_wanted: usize) -> Seen {
    let mut seen = Seen::default();
    let read = async {
        while seen.pings.len() < pings_wanted {
            let Some((kind, flags, payload)) = read_frame(tcp).await else {
                seen.closed = Some(Instant::now());
                return;
            };
            match (kind, flags & ACK) {
                (SETTINGS, 0) => write_frame(tcp, SETTINGS, ACK, &[]).await,
                (PING, 0) => {
                    seen.pings.push(Instant::now());
                    if answer {
                        write_frame(tcp, PING, ACK, &payload).await;
                    }
                }
                (GOAWAY, _) => seen.goaway = true,
                _ => {}
            }
        }
    };
    tokio::time::timeout(WITHIN, read)
        .await
        .expect("the server neither pinged enough nor closed the connection");
    seen
}

#[tokio::test]
async fn answered_pings_keep_an_idle_connection_open() {
    let addr = start(Some(PING_EVERY)).await;
    let mut tcp = connect(addr).await;
    // The server pings again only after an answer: eight PINGs are seven
    // answers read, over more than the keep-alive timeout.
    let seen = watch(&mut tcp, true, 8).await;
    assert_eq!(seen.pings.len(), 8, "{seen:?}");
    assert!(seen.closed.is_none() && !seen.goaway, "{seen:?}");
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped() {
    let addr = start(Some(PING_EVERY)).await;
    let mut tcp = connect(addr).await;
    let seen = watch(&mut tcp, false, usize::MAX).await;
    // One PING, unanswered; the server closes the connection when the
    // keep-alive timeout runs out, not before.
    assert_eq!(seen.pings.len(), 1, "{seen:?}");
    let waited = seen.closed.expect("closed") - seen.pings[0];
    assert!(waited >= PING_TIMEOUT / 2, "closed after {waited:?}");
    // (With the defaults, 30 s and 20 s, neither test would see a PING or
    // the close within `WITHIN`: both show the settings are applied.)
}

/// The next frame's type, flags and payload; `None` once the connection
/// is closed.
async fn read_frame(tcp: &mut TcpStream) -> Option<(u8, u8, Vec<u8>)> {
    let mut head = [0u8; 9];
    tcp.read_exact(&mut head).await.ok()?;
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((head[3], head[4], payload))
}

/// Writes one frame on stream 0 (a closed connection is seen on the next
/// read).
async fn write_frame(tcp: &mut TcpStream, kind: u8, flags: u8, payload: &[u8]) {
    let len = (payload.len() as u32).to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    let _ = tcp.write_all(&frame).await;
}
