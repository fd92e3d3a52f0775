//! The server-under-test for `connectconformance --mode server`.
//!
//! Reads one size-delimited `ServerCompatRequest` from stdin (a 4-byte
//! big-endian length, then the protobuf bytes), starts
//! `connectrpc.conformance.v1.ConformanceService` on `127.0.0.1:0`, writes
//! the `ServerCompatResponse` (host and port) to stdout the same way, and
//! serves until it receives SIGTERM or SIGINT. (The runner closes stdin as
//! soon as it has written the request, so stdin closing means nothing.)

use std::process::ExitCode;
use std::sync::Arc;

use buffa::Message;
use conformance::proto::connectrpc::conformance::v1::{
    ConformanceServiceExt, ServerCompatRequest, ServerCompatResponse,
};
use conformance::service::Conformance;
use connectrpc::codec::compression::CompressionRegistry;
use connectrpc::server::TlsConfig;
use connectrpc::{ConnectLayer, Router, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fresh self-signed certificate for 127.0.0.1 and localhost, and the
/// TLS configuration serving it; client certificates signed by
/// `client_ca` (PEM) are required when it is not empty.
fn self_signed_tls(client_ca: &[u8]) -> Result<(String, TlsConfig), Box<dyn std::error::Error>> {
    let key = rcgen::KeyPair::generate()?;
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let cert = params.self_signed(&key)?;
    let pem = cert.pem();
    let mut tls = TlsConfig::from_pem(pem.as_bytes(), key.serialize_pem().as_bytes())?;
    if !client_ca.is_empty() {
        tls = tls.require_client_certs(client_ca)?;
    }
    Ok((pem, tls))
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut stdin = tokio::io::stdin();
    let len = stdin.read_u32().await?;
    let mut buf = vec![0; usize::try_from(len)?];
    stdin.read_exact(&mut buf).await?;
    let req = ServerCompatRequest::decode(&mut &buf[..])?;

    conformance::install_type_registry();
    // Every compression the suite tests (the binaries turn on the facade's
    // br, deflate and snappy features; `new()` alone offers gzip and zstd).
    let mut layer = ConnectLayer::new().compression(CompressionRegistry::all());
    if req.message_receive_limit > 0 {
        layer = layer.read_max_bytes(usize::try_from(req.message_receive_limit)?);
    }
    let router = Arc::new(Conformance).register(Router::new().with_config(layer));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut resp = ServerCompatResponse {
        host: addr.ip().to_string(),
        port: u32::from(addr.port()),
        ..Default::default()
    };
    let mut server = Server::new(router);
    if req.use_tls {
        let (cert_pem, tls) = self_signed_tls(&req.client_tls_cert)?;
        resp.pem_cert = cert_pem.into_bytes();
        server = server.with_tls(tls);
    }
    let bytes = resp.encode_to_vec();
    let mut stdout = tokio::io::stdout();
    stdout.write_u32(u32::try_from(bytes.len())?).await?;
    stdout.write_all(&bytes).await?;
    stdout.flush().await?;

    // The runner closes stdin right after writing the request, so stdin
    // closing is no signal to stop: serve until SIGTERM or SIGINT.
    drop(stdin);
    let shutdown = async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    server
        .with_graceful_shutdown(shutdown)
        .serve_with_listener(listener)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conformance-server: {e}");
            ExitCode::FAILURE
        }
    }
}
