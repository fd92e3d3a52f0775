//! The greet service inside an axum app, next to an ordinary `/health`
//! route.
//!
//! ```sh
//! cargo run --example greet-axum --features axum -- 127.0.0.1:8080
//! curl http://127.0.0.1:8080/health
//! curl -H 'content-type: application/json' -d '{"name":"axum"}' \
//!     http://127.0.0.1:8080/greet.v1.GreetService/Greet
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use connectrpc::{Router, Server};
use examples::Greeter;
use examples::proto::greet::v1::GreetServiceExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
        .parse()?;
    let connect = Arc::new(Greeter).register(Router::new());
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .fallback_service(connect.into_axum_service());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "greet + axum listening on http://{}",
        listener.local_addr()?
    );
    // Our server runs any tower HTTP service, an axum app included.
    Server::new(app)
        // SIGTERM (containers, systemd) or ctrl-c: stop accepting, let the
        // calls in flight finish.
        .with_graceful_shutdown_on_signals()
        .serve_with_listener(listener)
        .await?;
    Ok(())
}
