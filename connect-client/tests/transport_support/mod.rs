//! A tiny echo server for the transport tests: HTTP/1.1 and HTTP/2 (hyper-util's
//! auto builder), plaintext or TLS, stopped when dropped.

#![allow(dead_code, reason = "each test binary uses part of it")]

pub(crate) mod raw_h2;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use connect_layers::ClientBody;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// How long any one test may take.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `fut`, failing the test if it takes longer than [`TEST_TIMEOUT`].
pub(crate) async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("test timed out")
}

/// A running echo server. It answers every request with its body and the
/// headers `x-version` (the HTTP version it saw, `HTTP/1.1` or `HTTP/2.0`)
/// and `x-client-cert` (`yes` if the TLS client presented a certificate).
/// Dropping it stops the server and its connections.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Starts a plaintext server on 127.0.0.1.
    pub(crate) async fn plaintext() -> Self {
        Self::start(None).await
    }

    /// Starts a server on 127.0.0.1 that accepts only TLS with `acceptor`.
    pub(crate) async fn tls(acceptor: tokio_rustls::TlsAcceptor) -> Self {
        Self::start(Some(acceptor)).await
    }

    async fn start(acceptor: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let task = tokio::spawn(async move {
            // Dropped (so every connection task aborted) when the server is.
            let mut conns = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                conns.spawn(async move {
                    let builder = Builder::new(TokioExecutor::new());
                    match acceptor {
                        None => {
                            let svc = service_fn(move |req| echo(req, false));
                            let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let cert = tls.get_ref().1.peer_certificates().is_some();
                            let svc = service_fn(move |req| echo(req, cert));
                            let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                        }
                    }
                });
                // Reap finished connections.
                while conns.try_join_next().is_some() {}
            }
        });
        TestServer {
            addr,
            connections,
            task,
        }
    }

    /// `http://` or `https://` and this server's address, then `path`.
    pub(crate) fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// How many TCP connections the server has accepted.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo(
    req: Request<Incoming>,
    client_cert: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let version = format!("{:?}", req.version());
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    Ok(Response::builder()
        .header("x-version", version)
        .header("x-client-cert", if client_cert { "yes" } else { "no" })
        .body(Full::new(body))
        .unwrap())
}

/// The response's `x-version` header and its body.
pub(crate) async fn read(
    resp: Response<connect_client::transport::ResponseBody>,
) -> (String, Bytes) {
    assert_eq!(resp.status(), 200);
    let version = resp.headers()["x-version"].to_str().unwrap().to_owned();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (version, body)
}

/// A POST of `body` to `uri`, with the client stack's body type.
pub(crate) fn post(uri: &str, body: &'static [u8]) -> Request<ClientBody> {
    Request::post(uri)
        .header("content-type", "application/proto")
        .body(ClientBody::full(Bytes::from_static(body)))
        .unwrap()
}
