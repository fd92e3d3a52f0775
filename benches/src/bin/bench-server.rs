//! Serves the bench services on 127.0.0.1 with one framework.
//!
//! `bench-server <ours|connectrpc09|tonic|bare> <port>`
//!
//! Each framework is served the way its docs show: ours with
//! `connectrpc::Server`, connectrpc 0.9 with its `Server`, tonic with
//! `tonic::transport::Server`, bare hyper with hyper-util's auto builder
//! (HTTP/1.1 + h2c) and a `service_fn` that echoes the body.

use std::net::SocketAddr;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let framework = args
        .next()
        .ok_or("usage: bench-server <framework> <port>")?;
    let port: u16 = args.next().ok_or("missing port")?.parse()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match framework.as_str() {
            "ours" => {
                connectrpc::Server::new(benches::ours::router())
                    .serve(addr)
                    .await?;
            }
            "connectrpc09" => {
                connectrpc_published::Server::new(benches::published::router())
                    .serve(addr)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            "tonic" => {
                use benches::tonic_proto::echo_service_server::EchoServiceServer;
                use benches::tonic_proto::log_service_server::LogServiceServer;
                tonic::transport::Server::builder()
                    .add_service(EchoServiceServer::new(benches::tonic_impl::Echo))
                    .add_service(LogServiceServer::new(benches::tonic_impl::Log))
                    .serve(addr)
                    .await?;
            }
            "bare" => serve_bare(addr).await?,
            other => return Err(format!("unknown framework {other}").into()),
        }
        Ok(())
    })
}

async fn serve_bare(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(benches::bare::echo::<hyper::body::Incoming>);
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
