//! The greet service on a standalone server: HTTP/1.1 and h2c on one port.
//!
//! ```sh
//! cargo run --example greet-server -- 127.0.0.1:8080
//! curl -H 'content-type: application/json' -d '{"name":"World"}' \
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
    let router = Arc::new(Greeter).register(Router::new());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "greet server listening on http://{}",
        listener.local_addr()?
    );
    Server::new(router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .serve_with_listener(listener)
        .await?;
    Ok(())
}
