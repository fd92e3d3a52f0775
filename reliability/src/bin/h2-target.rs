//! A server for external HTTP/2 checkers (h2spec): ours or a bare hyper
//! server for comparison, over h2c or TLS, on 127.0.0.1.
//!
//! ```sh
//! h2-target ours h2c 8443     # connectrpc::Server + the greet service
//! h2-target ours tls 8443     # the same over TLS (self-signed, ALPN h2)
//! h2-target ours h2only 8443  # cleartext, `Server::http2_only(true)`
//! h2-target hyper h2c 8443    # hyper-util's auto builder, a 200 handler
//! h2-target hyper tls 8443
//! ```
//!
//! It prints `listening on <addr>` once bound and serves until killed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use connectrpc::server::TlsConfig;
use connectrpc::{Router, Server};
use examples::Greeter;
use examples::proto::greet::v1::GreetServiceExt as _;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;

const USAGE: &str = "usage: h2-target <ours|hyper> <h2c|h2only|tls> <port>";

/// A fresh self-signed certificate for 127.0.0.1 and localhost.
fn self_signed() -> Result<TlsConfig, Box<dyn std::error::Error>> {
    let key = rcgen::KeyPair::generate()?;
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let cert = params.self_signed(&key)?;
    Ok(TlsConfig::from_pem(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
    )?)
}

async fn hello(_req: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    Ok(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// A bare hyper server: hyper-util's auto builder (HTTP/1.1 and HTTP/2 on
/// one port, all defaults) and a handler that answers 200.
async fn serve_bare_hyper(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let builder = Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(hello);
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [which, transport, port] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let tls = match transport.as_str() {
        "h2c" | "h2only" => None,
        "tls" => Some(self_signed()?),
        _ => return Err(USAGE.into()),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>()?));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    match which.as_str() {
        "ours" => {
            let router = Arc::new(Greeter).register(Router::new());
            let mut server = Server::new(router).http2_only(transport == "h2only");
            if let Some(tls) = tls {
                server = server.with_tls(tls);
            }
            server.serve_with_listener(listener).await?;
        }
        "hyper" => {
            let acceptor = match tls {
                Some(tls) => Some(tokio_rustls::TlsAcceptor::from(tls.server_config()?)),
                None => None,
            };
            serve_bare_hyper(listener, acceptor).await?;
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
