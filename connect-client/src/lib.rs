//! ConnectRPC clients: the Connect, gRPC and gRPC-Web protocols over any
//! `tower::Service<http::Request<_>>`, and the transports to run them on.
//!
//! A generated `FooServiceClient<T>` wraps a [`Client`]: give it a channel
//! ([`HttpClient`], [`Http2Connection`], either wrapped in your own tower
//! layers, or any service of your own) and a [`ClientConfig`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use connect_client::{ClientConfig, HttpClient};
//!
//! let channel = HttpClient::plaintext();
//! let config = ClientConfig::new("http://127.0.0.1:8080".parse()?).grpc_web();
//! // let client = GreetServiceClient::new(channel, config);
//! // let reply = client.greet(GreetRequest { name: "you".into(), ..Default::default() }).await?;
//! # let _ = (channel, config);
//! # Ok(()) }
//! ```

pub mod bidi;
mod call;
pub mod channel;
pub mod client;
pub mod config;
mod message;
pub mod options;
pub mod resilience;
pub mod response;
pub mod transport;

pub use bidi::{BidiReceiver, BidiSender, BidiStream};
pub use channel::{BoxError, Channel};
pub use client::Client;
pub use config::ClientConfig;
pub use connect_layers::ClientBody;
pub use connect_layers::get::client::GetPolicy;
pub use options::CallOptions;
pub use response::{Response, ServerStreaming};
#[cfg(feature = "tls")]
pub use transport::{ClientTlsConfig, TlsError};
pub use transport::{Http2Connection, HttpClient, ResponseBody};
