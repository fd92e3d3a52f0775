//! Shared by the integration tests: the test service, a server on
//! 127.0.0.1, and a raw hyper client speaking HTTP/1.1 or h2c.
#![allow(dead_code, unreachable_pub)]

pub mod gate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use connectrpc::Router;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use integration_tests::proto::test::v1::{TestServiceExt, UnaryResponse};
use tokio::net::TcpStream;

#[allow(unused_imports)]
pub use integration_tests::proto::test::v1::{ServerStreamRequest, UnaryRequest};

/// The service under test.
pub use integration_tests::service::TestImpl as Impl;

/// A running server; dropped, it shuts down.
pub struct TestServer {
    pub addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the test service on 127.0.0.1 with the default stack.
pub async fn start() -> TestServer {
    start_with(Arc::new(Impl).register(Router::new())).await
}

/// Starts `router` on 127.0.0.1.
pub async fn start_with<S, B>(router: S) -> TestServer
where
    S: tower::Service<
            Request<hyper::body::Incoming>,
            Response = Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        connectrpc::Server::new(router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .serve_with_listener(listener),
    );
    TestServer { addr, _stop: tx }
}

/// Which HTTP version a raw client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http1,
    H2c,
}

pub const VERSIONS: [Version; 2] = [Version::Http1, Version::H2c];

/// A collected response.
#[derive(Debug)]
pub struct Reply {
    pub status: http::StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Splits an enveloped body into (flags, payload) pairs.
    pub fn envelopes(&self) -> Vec<(u8, Bytes)> {
        let mut out = vec![];
        let mut b = self.body.clone();
        while !b.is_empty() {
            assert!(b.len() >= 5, "truncated envelope in {:?}", self.body);
            let flags = b[0];
            let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
            out.push((flags, b.slice(5..5 + len)));
            b = b.slice(5 + len..);
        }
        out
    }

    /// The JSON end-of-stream message of a Connect streaming response.
    pub fn end_stream(&self) -> serde_json::Value {
        let envs = self.envelopes();
        let (flags, last) = envs.last().expect("no envelopes");
        assert_eq!(flags & 0x02, 0x02, "last envelope is not end-stream");
        serde_json::from_slice(last).unwrap()
    }
}

/// A raw HTTP connection to the server.
pub enum Conn {
    Http1(hyper::client::conn::http1::SendRequest<BoxBody>),
    H2(hyper::client::conn::http2::SendRequest<BoxBody>),
}

pub type BoxBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

pub async fn connect(addr: SocketAddr, version: Version) -> Conn {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    match version {
        Version::Http1 => {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Conn::Http1(send)
        }
        Version::H2c => {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            Conn::H2(send)
        }
    }
}

impl Conn {
    pub async fn send(&mut self, req: Request<BoxBody>) -> Reply {
        let resp = match self {
            Conn::Http1(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
            Conn::H2(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
        };
        let (parts, body) = resp.into_parts();
        let collected = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("response body timed out")
            .unwrap();
        let trailers = collected.trailers().cloned();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: collected.to_bytes(),
            trailers,
        }
    }
}

/// A POST request builder for `path` with `content_type`; the body is given
/// when the request is built (`.body(full(..))`, or `call`'s `body`).
pub fn post(path: &str, content_type: &str) -> http::request::Builder {
    Request::post(format!("http://127.0.0.1{path}")).header("content-type", content_type)
}

pub fn full(body: impl Into<Bytes>) -> BoxBody {
    Full::new(body.into()).boxed()
}

/// A body sent in the given chunks, one frame each.
pub fn chunked(chunks: Vec<Bytes>) -> BoxBody {
    let frames = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::convert::Infallible>(Frame::data(c))),
    );
    BodyExt::boxed(StreamBody::new(frames))
}

/// One request with a full body over a fresh connection.
pub async fn call(
    addr: SocketAddr,
    version: Version,
    builder: http::request::Builder,
    body: impl Into<Bytes>,
) -> Reply {
    let mut conn = connect(addr, version).await;
    conn.send(builder.body(full(body)).unwrap()).await
}

pub fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u8(flags);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

pub fn encode<M: buffa::Message>(m: &M) -> Bytes {
    m.encode_to_bytes()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = vec![];
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn unary_req(text: &str) -> UnaryRequest {
    UnaryRequest {
        text: text.into(),
        ..Default::default()
    }
}

pub fn decode_unary_response(b: &[u8]) -> UnaryResponse {
    <UnaryResponse as buffa::Message>::decode_from_slice(b)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(b)))
}

/// Waits until `done()` holds, checking again each time `changed` is
/// notified (`notify_waiters`), for at most `within` (a hang guard);
/// returns whether it holds.
pub async fn wait_until(
    changed: &tokio::sync::Notify,
    within: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        // Registered before the check, so a change in between is not missed.
        notified.as_mut().enable();
        if done() {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return done();
        }
    }
}
