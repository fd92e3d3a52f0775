//! Shared by the `client_broken_*` tests: deliberately broken servers on
//! 127.0.0.1 and the generated `TestServiceClient` calling them.
//!
//! [`serve`] answers every request with one canned response (status,
//! headers, body chunks, HTTP trailers, and how the body ends: cleanly,
//! never, or with an error that breaks the stream) over HTTP/1.1 or h2c
//! (hyper-util's auto builder). [`raw`] is a TCP listener that writes raw
//! bytes (or nothing) and hangs up. Dropping either stops it and every
//! connection it holds.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use connectrpc::{ClientConfig, Code, ConnectError, HttpClient, ServerStreaming};
use futures_util::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use integration_tests::proto::test::v1::{
    ServerStreamRequest, TestServiceClient, UnaryRequest, UnaryResponse,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The longest any call in these tests may take before it counts as a hang:
/// generous, as a loaded machine can be slow; a test that checks a
/// deadline does not depend on it.
pub const HANG: Duration = Duration::from_secs(15);

/// How a canned response body ends after its chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// The body (and trailers, if any) end normally.
    End,
    /// The body never ends (nor sends trailers).
    Stall,
    /// The body fails: hyper aborts the HTTP/1.1 connection or resets the
    /// HTTP/2 stream.
    Abort,
}

/// One canned response.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub chunks: Vec<Bytes>,
    pub trailers: Option<HeaderMap>,
    pub tail: Tail,
}

impl Canned {
    /// A response with `status` and nothing else.
    pub fn status(status: u16) -> Self {
        Canned {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            chunks: vec![],
            trailers: None,
            tail: Tail::End,
        }
    }

    /// `200` with `content-type`.
    pub fn ok(content_type: &str) -> Self {
        Canned::status(200).header("content-type", content_type)
    }

    /// Appends a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    /// Appends a body chunk (sent as its own DATA frame / HTTP chunk).
    pub fn chunk(mut self, data: impl Into<Bytes>) -> Self {
        self.chunks.push(data.into());
        self
    }

    /// Appends an HTTP trailer.
    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers.get_or_insert_with(HeaderMap::new).append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    /// HTTP trailers that are present but empty.
    pub fn empty_trailers(mut self) -> Self {
        self.trailers = Some(HeaderMap::new());
        self
    }

    /// How the body ends.
    pub fn tail(mut self, tail: Tail) -> Self {
        self.tail = tail;
        self
    }

    fn response(&self) -> http::Response<ResponseBody> {
        let mut frames: Vec<Result<Frame<Bytes>, std::io::Error>> = self
            .chunks
            .iter()
            .cloned()
            .map(|c| Ok(Frame::data(c)))
            .collect();
        if let Some(t) = &self.trailers
            && self.tail == Tail::End
        {
            frames.push(Ok(Frame::trailers(t.clone())));
        }
        let head = futures_util::stream::iter(frames);
        let stream: BodyStream = match self.tail {
            Tail::End => Box::pin(head),
            Tail::Stall => Box::pin(head.chain(futures_util::stream::pending())),
            Tail::Abort => Box::pin(head.chain(futures_util::stream::once(async {
                // Let the chunks reach the client before the stream breaks.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("the broken server gives up"))
            }))),
        };
        let mut resp = http::Response::new(StreamBody::new(stream));
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.clone();
        resp
    }
}

type BodyStream = Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send>>;
type ResponseBody = StreamBody<BodyStream>;

/// A running broken server; dropped, it stops with all its connections.
pub struct BrokenServer {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BrokenServer {
    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> http::Uri {
        format!("http://{}", self.addr).parse().unwrap()
    }

    /// How many requests (or, for [`raw`], connections) it has seen.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for BrokenServer {
    fn drop(&mut self) {
        // The accept loop owns the connections' JoinSet: aborting it
        // aborts them all.
        self.task.abort();
    }
}

async fn spawn_accept_loop<F, Fut>(on_conn: F) -> BrokenServer
where
    F: Fn(TcpStream, Arc<AtomicUsize>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            conns.spawn(on_conn(stream, Arc::clone(&counter)));
            // Reap finished connections.
            while conns.try_join_next().is_some() {}
        }
    });
    BrokenServer { addr, hits, task }
}

/// Serves `canned` to every request, over HTTP/1.1 or h2c. The request
/// body is read to its end first (as a real server would).
pub async fn serve(canned: Canned) -> BrokenServer {
    let canned = Arc::new(canned);
    spawn_accept_loop(move |stream, hits| {
        let canned = Arc::clone(&canned);
        async move {
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let canned = Arc::clone(&canned);
                let hits = Arc::clone(&hits);
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(canned.response())
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
    })
    .await
}

/// What a [`raw`] server does with each connection.
#[derive(Clone, Debug)]
pub enum Raw {
    /// Accepts, reads whatever comes, and never writes a byte.
    Silent,
    /// Reads the HTTP/1.1 request, writes these bytes, and closes.
    Reply(Bytes),
    /// Closes the connection as soon as it is accepted.
    Close,
}

/// A raw TCP server behaving as `behaviour` on every connection.
pub async fn raw(behaviour: Raw) -> BrokenServer {
    spawn_accept_loop(move |mut stream, hits| {
        let behaviour = behaviour.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            match behaviour {
                Raw::Silent => {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                    // The peer closed; hold the socket until aborted anyway.
                    std::future::pending::<()>().await;
                }
                Raw::Reply(bytes) => {
                    read_http1_request(&mut stream).await;
                    let _ = stream.write_all(&bytes).await;
                    let _ = stream.shutdown().await;
                    // Drain until the client hangs up, so closing never
                    // turns into a reset that could overtake the reply.
                    let mut buf = [0u8; 4096];
                    let drain =
                        async { while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {} };
                    let _ = tokio::time::timeout(HANG, drain).await;
                }
                Raw::Close => drop(stream),
            }
        }
    })
    .await
}

/// Reads one HTTP/1.1 request: the head, then a `content-length` body or
/// a chunked body up to its last chunk.
async fn read_http1_request(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &buf[head_end..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => find(body, b"0\r\n\r\n").is_some(),
            None => true,
        };
        if done {
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ===== the client side =====

/// The channel every test uses.
pub type Channel = HttpClient;

/// An HTTP/1.1 channel.
pub fn http1() -> Channel {
    HttpClient::plaintext()
}

/// An h2c (prior knowledge) channel.
pub fn h2c() -> Channel {
    HttpClient::builder().http2_only(true).build()
}

/// The protocols under test, with the channel each needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Connect,
    Grpc,
    GrpcWeb,
}

pub const PROTOS: [Proto; 3] = [Proto::Connect, Proto::Grpc, Proto::GrpcWeb];

impl Proto {
    /// The client config for this protocol (proto codec).
    pub fn config(self, server: &BrokenServer) -> ClientConfig {
        let config = ClientConfig::new(server.uri());
        match self {
            Proto::Connect => config,
            Proto::Grpc => config.grpc(),
            Proto::GrpcWeb => config.grpc_web(),
        }
    }

    /// The channel this protocol runs on: h2c for gRPC, HTTP/1.1 else.
    pub fn channel(self) -> Channel {
        match self {
            Proto::Grpc => h2c(),
            _ => http1(),
        }
    }

    /// A generated client for `server`.
    pub fn client(self, server: &BrokenServer) -> TestServiceClient<Channel> {
        TestServiceClient::new(self.channel(), self.config(server))
    }

    /// The content type of a streaming (enveloped) proto response.
    pub fn stream_ct(self) -> &'static str {
        match self {
            Proto::Connect => "application/connect+proto",
            Proto::Grpc => "application/grpc",
            Proto::GrpcWeb => "application/grpc-web+proto",
        }
    }
}

/// `f`, failing the test if it takes longer than [`HANG`].
pub async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(HANG, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: the call hung"))
}

/// A unary call's result.
pub async fn unary(client: &TestServiceClient<Channel>) -> Result<UnaryResponse, ConnectError> {
    let req = UnaryRequest {
        text: "hi".into(),
        ..Default::default()
    };
    bounded("unary", client.unary(&req))
        .await
        .map(connectrpc::Response::into_message)
}

/// A unary call's error (panics on success).
pub async fn unary_err(client: &TestServiceClient<Channel>) -> ConnectError {
    match unary(client).await {
        Ok(m) => panic!("unary call succeeded: {m:?}"),
        Err(e) => e,
    }
}

/// A server-stream call read to its end: the messages, then the error
/// that ended it (if any) and the trailers (if it ended well).
pub async fn server_stream(
    client: &TestServiceClient<Channel>,
) -> (Vec<UnaryResponse>, Result<HeaderMap, ConnectError>) {
    let req = ServerStreamRequest {
        text: "hi".into(),
        count: 1,
        ..Default::default()
    };
    bounded("server stream", async {
        let mut stream: ServerStreaming<UnaryResponse> = match client.server_stream(&req).await {
            Ok(s) => s,
            Err(e) => return (vec![], Err(e)),
        };
        let mut messages = vec![];
        while let Some(item) = stream.message().await {
            match item {
                Ok(m) => messages.push(m),
                Err(e) => return (messages, Err(e)),
            }
        }
        let trailers = stream.trailers().cloned().unwrap_or_default();
        (messages, Ok(trailers))
    })
    .await
}

/// A server-stream call's error (panics if it ended well).
pub async fn server_stream_err(client: &TestServiceClient<Channel>) -> ConnectError {
    match server_stream(client).await {
        (m, Ok(_)) => panic!("server stream ended well after {} messages", m.len()),
        (_, Err(e)) => e,
    }
}

/// A client-stream call (two requests) result.
pub async fn client_stream(
    client: &TestServiceClient<Channel>,
) -> Result<UnaryResponse, ConnectError> {
    let reqs = futures_util::stream::iter([
        UnaryRequest {
            text: "a".into(),
            ..Default::default()
        },
        UnaryRequest {
            text: "b".into(),
            ..Default::default()
        },
    ]);
    bounded("client stream", client.client_stream(reqs))
        .await
        .map(connectrpc::Response::into_message)
}

/// Asserts `err` has `code`, saying which case produced it.
#[track_caller]
pub fn assert_code(case: &str, err: &ConnectError, code: Code) {
    assert_eq!(
        err.code(),
        code,
        "{case}: expected {code:?}, got {:?}: {}",
        err.code(),
        err.message()
    );
}

// ===== wire helpers =====

/// One envelope.
pub fn env(flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u8(flags);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// A `UnaryResponse` with `text`, binary proto.
pub fn msg(text: &str) -> Bytes {
    buffa::Message::encode_to_bytes(&UnaryResponse {
        text: text.into(),
        ..Default::default()
    })
}

/// `msg(text)` in an uncompressed envelope.
pub fn env_msg(text: &str) -> Bytes {
    env(0, &msg(text))
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A gzip stream of `n` zero bytes: a compression bomb for limits below `n`.
pub fn gzip_bomb(n: usize) -> Vec<u8> {
    gzip(&vec![0u8; n])
}

/// A Connect end-of-stream envelope with `json`.
pub fn end_stream(json: &str) -> Bytes {
    env(2, json.as_bytes())
}

/// A gRPC-Web trailer envelope with `block`.
pub fn web_trailers(block: &str) -> Bytes {
    env(0x80, block.as_bytes())
}
