//! The greet service on a standalone server: HTTP/1.1 and h2c on one port,
//! with gRPC health checking and server reflection beside it.
//!
//! ```sh
//! cargo run --example greet-server -- 127.0.0.1:8080
//! curl -H 'content-type: application/json' -d '{"name":"World"}' \
//!     http://127.0.0.1:8080/greet.v1.GreetService/Greet
//! grpc-health-probe -addr 127.0.0.1:8080
//! grpcurl -plaintext 127.0.0.1:8080 list
//! grpcurl -plaintext -d '{"name":"World"}' 127.0.0.1:8080 greet.v1.GreetService/Greet
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use connectrpc::health::HealthService;
use connectrpc::reflection::Reflection;
use connectrpc::{Router, Server};
use examples::Greeter;
use examples::proto::greet::v1::{GREET_SERVICE_NAME, GreetServiceExt as _, greet_service};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
        .parse()?;

    // Health: the server ("") and the greet service are SERVING.
    let health = HealthService::new();
    let reporter = health.reporter();
    reporter.set_serving(GREET_SERVICE_NAME);

    // Reflection: the greet service's descriptors (and the health
    // service's), so grpcurl and `buf curl --reflect` need no .proto files.
    let reflection = Reflection::new()
        .register_file_descriptor_set(greet_service::FILE_DESCRIPTOR_SET)?
        .register_file_descriptor_set(connectrpc::health::FILE_DESCRIPTOR_SET)?;

    let router = Arc::new(Greeter).register(Router::new());
    let router = reflection.register(health.register(router));

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "greet server listening on http://{}",
        listener.local_addr()?
    );
    Server::new(router)
        // SIGTERM (containers, systemd) or ctrl-c: stop accepting, let the
        // calls in flight finish.
        .with_graceful_shutdown_on_signals()
        // Graceful shutdown begins: health checks now say NOT_SERVING
        // while the calls in flight finish.
        .on_shutdown(move || reporter.shutdown())
        .serve_with_listener(listener)
        .await?;
    Ok(())
}
