//! The HTTP/2 abuse classes hyper's h2 guards against, each driven with
//! hand-written frames against our server (default settings, in this
//! process): rapid reset, CONTINUATION flood, PING and SETTINGS floods,
//! empty DATA frames, header bombs. For each, the abusive connection is
//! cut off or bounded, the process's RSS stays bounded, and a normal
//! client calling at the same time keeps being served.
//!
//! Run with `--nocapture` to see the figures (frames sent, what the server
//! answered, RSS growth, normal calls served).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use connectrpc::{ClientConfig, HttpClient};
use integration_tests::proto::test::v1::TestServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

/// The tests measure the whole process's RSS: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A generous bound on RSS growth during one attack: each attack, if
/// unbounded, would take hundreds of MiB or more.
const RSS_BOUND_KIB: u64 = 64 * 1024;

const UNARY: &str = "/test.v1.TestService/Unary";
const CLIENT_STREAM: &str = "/test.v1.TestService/ClientStream";

// Frame types, flags and error codes (RFC 9113).
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// The connection ended with GOAWAY `ENHANCE_YOUR_CALM`, for `why`.
fn calmed(out: &Outcome, why: &str) -> bool {
    out.seen.closed
        && out
            .seen
            .goaway
            .as_ref()
            .is_some_and(|(c, d)| *c == ENHANCE_YOUR_CALM && d == why)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    assert!(len < 1 << 24);
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An HPACK integer with an `n`-bit prefix, the high bits of the first
/// byte set to `high`.
fn hpack_int(out: &mut Vec<u8>, n: u32, high: u8, value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(high | value as u8);
        return;
    }
    out.push(high | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// An HPACK string literal, not Huffman-coded.
fn hpack_str(out: &mut Vec<u8>, s: &[u8]) {
    hpack_int(out, 7, 0, s.len());
    out.extend_from_slice(s);
}

/// A header with a new name, not added to the dynamic table.
fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    hpack_str(out, name);
    hpack_str(out, value);
}

/// `POST path` over http with a content type, as an HPACK block.
fn request_block(path: &str, content_type: &str) -> Vec<u8> {
    let mut b = vec![0x83, 0x86]; // :method POST, :scheme http
    hpack_int(&mut b, 4, 0, 4); // :path (name from the static table)
    hpack_str(&mut b, path.as_bytes());
    hpack_int(&mut b, 4, 0, 1); // :authority
    hpack_str(&mut b, b"127.0.0.1");
    hpack_int(&mut b, 4, 0, 31); // content-type
    hpack_str(&mut b, content_type.as_bytes());
    b
}

/// The client preface and an empty SETTINGS frame.
fn preface() -> Vec<u8> {
    let mut p = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    p.extend(frame(SETTINGS, 0, 0, &[]));
    p
}

/// What the server sent on the abusive connection.
#[derive(Debug, Default)]
struct Seen {
    frames: usize,
    /// HEADERS frames that end their stream: whole answers such as 431.
    answers: usize,
    pings: usize,
    resets: usize,
    /// The GOAWAY error code and debug data.
    goaway: Option<(u32, String)>,
    /// The GOAWAY's last stream id: the highest stream the server took.
    goaway_last_stream: Option<u32>,
    closed: bool,
}

/// Reads frames until the server closes the connection, `limit` passes, or
/// a second and a half after `done` fires.
async fn read_frames(
    rd: OwnedReadHalf,
    limit: Duration,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
) -> Seen {
    let mut rd = tokio::io::BufReader::new(rd);
    let mut seen = Seen::default();
    let read = async {
        let mut head = [0u8; 9];
        let mut payload = Vec::new();
        loop {
            if rd.read_exact(&mut head).await.is_err() {
                seen.closed = true;
                return;
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            payload.resize(len, 0);
            if rd.read_exact(&mut payload).await.is_err() {
                seen.closed = true;
                return;
            }
            seen.frames += 1;
            match head[3] {
                HEADERS if head[4] & END_STREAM != 0 => seen.answers += 1,
                PING => seen.pings += 1,
                RST_STREAM => seen.resets += 1,
                GOAWAY if len >= 8 => {
                    let last = u32::from_be_bytes(payload[..4].try_into().unwrap());
                    seen.goaway_last_stream = Some(last & 0x7fff_ffff);
                    let code = u32::from_be_bytes(payload[4..8].try_into().unwrap());
                    let debug = String::from_utf8_lossy(&payload[8..]).into_owned();
                    seen.goaway = Some((code, debug));
                }
                _ => {}
            }
        }
    };
    let done = async {
        match done {
            Some(done) => {
                let _ = done.await;
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = read => {}
        () = tokio::time::sleep(limit) => {}
        () = done => {}
    }
    seen
}

/// How an attack went.
#[derive(Debug)]
struct Outcome {
    /// Batches of frames written in full.
    batches: usize,
    /// The server stopped reading: a write made no progress for a second.
    stalled: bool,
    /// The server closed or reset the connection under our writes.
    write_failed: bool,
    seen: Seen,
}

/// Writes the preface, then `batch(i)` for i = 0.. until it returns
/// `None`, `budget` passes, or the server stops reading or closes; then
/// reads what the server sent (during the attack too when `read_during`).
async fn attack(
    addr: std::net::SocketAddr,
    read_during: bool,
    budget: Duration,
    mut batch: impl FnMut(usize) -> Option<Vec<u8>>,
) -> Outcome {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    let mut reader = None;
    let mut rd = Some(rd);
    let (written, done) = tokio::sync::oneshot::channel();
    if read_during {
        reader = Some(tokio::spawn(read_frames(
            rd.take().unwrap(),
            budget + Duration::from_secs(3),
            Some(done),
        )));
    }
    let started = Instant::now();
    let (mut batches, mut stalled, mut write_failed) = (0, false, false);
    let mut next = Some(preface());
    while let Some(bytes) = next {
        match tokio::time::timeout(Duration::from_secs(1), wr.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                write_failed = true;
                break;
            }
            Err(_) => {
                stalled = true;
                break;
            }
        }
        if started.elapsed() > budget {
            break;
        }
        next = batch(batches);
        batches += 1;
    }
    let _ = written.send(());
    let seen = match reader {
        Some(reader) => reader.await.unwrap(),
        None => read_frames(rd.take().unwrap(), Duration::from_secs(3), None).await,
    };
    Outcome {
        batches: batches.saturating_sub(1),
        stalled,
        write_failed,
        seen,
    }
}

/// A well-behaved client calling unary over h2c on its own connection
/// until stopped.
struct Normal {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(usize, usize, Duration)>,
}

impl Normal {
    fn start(addr: std::net::SocketAddr) -> Normal {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let http = HttpClient::builder().http2_only(true).build();
            let config = ClientConfig::new(format!("http://{addr}").parse().unwrap());
            let client = TestServiceClient::new(http, config);
            let request = support::unary_req("still here");
            let (mut ok, mut failed, mut slowest) = (0, 0, Duration::ZERO);
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                let call = client.unary(&request);
                match tokio::time::timeout(Duration::from_secs(5), call).await {
                    Ok(Ok(reply)) if reply.message().text == "still here" => ok += 1,
                    _ => failed += 1,
                }
                slowest = slowest.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (ok, failed, slowest)
        });
        Normal { stop, task }
    }

    /// Stops calling; the calls served and failed, and the slowest call.
    async fn finish(self) -> (usize, usize, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// Runs `abuse` against a fresh server with a normal client alongside;
/// checks RSS and the normal client, prints the figures.
async fn under_attack<F: Future<Output = Outcome>>(
    name: &str,
    abuse: impl FnOnce(std::net::SocketAddr) -> F,
) -> Outcome {
    let _serial = SERIAL.lock().await;
    let server = support::start().await;
    let normal = Normal::start(server.addr);
    // Let the normal client's connection come up first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib();
    let started = Instant::now();
    let outcome = abuse(server.addr).await;
    let elapsed = started.elapsed();
    let after = rss_kib();
    let (ok, failed, slowest) = normal.finish().await;
    let growth = after.saturating_sub(before);
    eprintln!(
        "{name}: {outcome:?} in {elapsed:?}; RSS {before} -> {after} KiB (+{growth}); \
         normal client: {ok} served, {failed} failed, slowest {slowest:?}"
    );
    assert!(growth < RSS_BOUND_KIB, "{name}: RSS grew {growth} KiB");
    assert_eq!(failed, 0, "{name}: the normal client was not served");
    assert!(ok >= 3, "{name}: the normal client got only {ok} calls");
    // And the server still takes new connections.
    let http = HttpClient::builder().http2_only(true).build();
    let config = ClientConfig::new(format!("http://{}", server.addr).parse().unwrap());
    let reply = TestServiceClient::new(http, config)
        .unary(&support::unary_req("after"))
        .await
        .unwrap();
    assert_eq!(reply.message().text, "after");
    outcome
}

/// CVE-2023-44487: streams opened and reset at once, so the server keeps
/// starting work the client never waits for. h2 counts streams reset
/// before they are accepted (our limit: 20) and sends GOAWAY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_is_cut_off() {
    const BATCHES: usize = 2000;
    const PER_BATCH: u32 = 100;
    let stream_id = |i: usize, k: u32| 1 + 2 * (i as u32 * PER_BATCH + k);
    let block = request_block(UNARY, "application/json");
    let out = under_attack("rapid reset", |addr| {
        attack(addr, true, Duration::from_secs(5), move |i| {
            (i < BATCHES).then(|| {
                let mut b = Vec::new();
                for k in 0..PER_BATCH {
                    let id = stream_id(i, k);
                    b.extend(frame(HEADERS, END_HEADERS, id, &block));
                    b.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
                }
                b
            })
        })
    })
    .await;
    assert!(calmed(&out, "too_many_resets"), "{out:?}");
    // What the server took, by its own account: how much of the attack
    // loopback's buffers absorbed before the GOAWAY does not matter.
    let last_sent = stream_id(BATCHES - 1, PER_BATCH - 1);
    let taken = out.seen.goaway_last_stream.expect("a GOAWAY");
    assert!(
        taken < last_sent / 10,
        "the server took streams up to {taken} of {last_sent}: {out:?}"
    );
}

/// CVE-2024-27316 and kin: a header block that never ends. h2 stops
/// buffering at the header list limit and closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuation_flood_is_cut_off() {
    let block = request_block(UNARY, "application/json");
    let mut fragment = Vec::new();
    while fragment.len() < 1000 {
        literal(&mut fragment, b"x-flood", &[b'a'; 40]);
    }
    let out = under_attack("CONTINUATION flood", |addr| {
        attack(addr, true, Duration::from_secs(5), move |i| {
            // Up to 10,000 × 16 fragments: 160 MB of header block.
            (i < 10_000).then(|| {
                let mut b = Vec::new();
                if i == 0 {
                    b.extend(frame(HEADERS, END_STREAM, 1, &block));
                }
                for _ in 0..16 {
                    b.extend(frame(CONTINUATION, 0, 1, &fragment));
                }
                b
            })
        })
    })
    .await;
    assert!(calmed(&out, "too_many_continuations"), "{out:?}");
    assert!(out.batches < 10_000, "{out:?}");
}

/// CVE-2019-9512: PINGs from a client that never reads the answers. The
/// server must not queue answers without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_flood_is_bounded() {
    let out = under_attack("PING flood", |addr| {
        attack(addr, false, Duration::from_secs(4), |i| {
            (i < 1000).then(|| {
                let mut b = Vec::new();
                for k in 0..1000u64 {
                    b.extend(frame(PING, 0, 0, &(i as u64 * 1000 + k).to_be_bytes()));
                }
                b
            })
        })
    })
    .await;
    // Either the server stopped reading (its answers back up) or closed.
    assert!(
        out.stalled || out.write_failed || out.seen.closed,
        "1,000,000 pings taken: {out:?}"
    );
}

/// CVE-2019-9515: SETTINGS frames, each owed an ACK, from a client that
/// never reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_flood_is_bounded() {
    let out = under_attack("SETTINGS flood", |addr| {
        attack(addr, false, Duration::from_secs(4), |i| {
            (i < 1000).then(|| {
                let mut b = Vec::new();
                for k in 0..1000u32 {
                    // SETTINGS_MAX_CONCURRENT_STREAMS, a harmless value.
                    let mut p = vec![0x00, 0x03];
                    p.extend_from_slice(&(100 + k % 2).to_be_bytes());
                    b.extend(frame(SETTINGS, 0, 0, &p));
                }
                b
            })
        })
    })
    .await;
    assert!(
        out.stalled || out.write_failed || out.seen.closed,
        "1,000,000 SETTINGS taken: {out:?}"
    );
}

/// CVE-2019-9518: a request body of endless empty DATA frames, each
/// costing the server a wake-up. h2 allows 100 per connection, then
/// sends GOAWAY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_data_flood_is_bounded() {
    let block = request_block(CLIENT_STREAM, "application/connect+proto");
    let out = under_attack("empty DATA flood", |addr| {
        attack(addr, true, Duration::from_secs(3), move |i| {
            (i < 1000).then(|| {
                let mut b = Vec::new();
                if i == 0 {
                    b.extend(frame(HEADERS, END_HEADERS, 1, &block));
                }
                for _ in 0..1000 {
                    b.extend(frame(DATA, 0, 1, &[]));
                }
                b
            })
        })
    })
    .await;
    assert!(calmed(&out, "too_many_data_frames"), "{out:?}");
    assert!(out.batches < 1000, "{out:?}");
}

/// Header lists over the limit (64 KiB): 2,000 headers (88 KB decoded)
/// on 50 streams. Each is refused with 431 and nothing is kept;
/// the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_lists_are_refused() {
    let mut block = request_block(UNARY, "application/json");
    for n in 0..2_000 {
        literal(&mut block, format!("x-h{n}").as_bytes(), b"value");
    }
    let out = under_attack("oversized header lists", |addr| {
        attack(addr, true, Duration::from_secs(5), move |i| {
            (i < 50).then(|| {
                let id = 1 + 2 * i as u32;
                let mut chunks = block.chunks(16_000).peekable();
                let mut b = frame(HEADERS, END_STREAM, id, chunks.next().unwrap());
                while let Some(c) = chunks.next() {
                    let flags = if chunks.peek().is_none() {
                        END_HEADERS
                    } else {
                        0
                    };
                    b.extend(frame(CONTINUATION, flags, id, c));
                }
                b
            })
        })
    })
    .await;
    assert!(out.seen.goaway.is_none(), "{out:?}");
    assert_eq!(out.batches, 50, "{out:?}");
    assert_eq!(out.seen.answers + out.seen.resets, 50, "{out:?}");
}

/// A header list far over the limit: 10,000 headers (140 KB in nine
/// frames, 440 KB decoded), stream after stream, ends the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_list_bombs_are_cut_off() {
    let mut block = request_block(UNARY, "application/json");
    for n in 0..10_000 {
        literal(&mut block, format!("x-h{n}").as_bytes(), b"value");
    }
    let out = under_attack("header list bomb", |addr| {
        attack(addr, true, Duration::from_secs(5), move |i| {
            (i < 200).then(|| {
                let id = 1 + 2 * i as u32;
                let mut chunks = block.chunks(16_000).peekable();
                let mut b = frame(HEADERS, END_STREAM, id, chunks.next().unwrap());
                while let Some(c) = chunks.next() {
                    let flags = if chunks.peek().is_none() {
                        END_HEADERS
                    } else {
                        0
                    };
                    b.extend(frame(CONTINUATION, flags, id, c));
                }
                b
            })
        })
    })
    .await;
    // Over h2's CONTINUATION count (the limit over the frame size) before
    // its decoded-size bound.
    assert!(
        calmed(&out, "too_many_continuations") || calmed(&out, "header_list_way_too_large"),
        "{out:?}"
    );
    assert!(out.batches < 200, "{out:?}");
}

/// HPACK amplification: one 4 KB header put in the dynamic table, then
/// referenced 12,000 times with one byte each: a 16 KB frame that decodes
/// to 48 MB. The decoded size is bounded by the header list limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpack_amplification_is_bounded() {
    let out = under_attack("HPACK bomb", |addr| {
        attack(addr, true, Duration::from_secs(5), move |i| {
            (i < 200).then(|| {
                let id = 1 + 2 * i as u32;
                let mut block = request_block(UNARY, "application/json");
                // Literal with incremental indexing, new name: index 62.
                block.push(0x40);
                hpack_str(&mut block, b"x-big");
                hpack_str(&mut block, &[b'b'; 4000]);
                block.extend(std::iter::repeat_n(0x80 | 62, 12_000));
                frame(HEADERS, END_STREAM | END_HEADERS, id, &block)
            })
        })
    })
    .await;
    assert!(calmed(&out, "header_list_way_too_large"), "{out:?}");
    assert!(out.batches < 200, "{out:?}");
}
