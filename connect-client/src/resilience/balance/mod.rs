//! A channel over many servers: endpoints from a resolver, connections per
//! endpoint, power of two choices over a load that sees latency and calls
//! in flight, reconnect with backoff, and outlier ejection (gRFC A50).
//!
//! | piece | file |
//! | --- | --- |
//! | [`Resolve`], [`StaticResolver`], [`DnsResolver`], [`ManualResolver`], [`Endpoint`] | `resolve.rs` |
//! | per-endpoint connections and health ([`Health`], [`EndpointStatus`]) | `endpoint.rs`, `connect.rs` |
//! | reconnect [`Backoff`] (gRPC's: 1 s, ×1.6, ±20 %, 120 s) | `backoff.rs` |
//! | peak-EWMA load (decay 10 s, first estimate 30 ms) × calls in flight; an idle endpoint unheard of for 1 s is probed | `load.rs` |
//! | power of two choices over the best-ranked endpoints | `p2c.rs` |
//! | [`OutlierDetection`] (A50: 10 s, 30 s, 300 s, 10 %) | `outlier.rs` |
//! | resolution and outlier timers | `driver.rs` |
//! | [`BalancedChannel`], [`BalancedChannelBuilder`] | `channel.rs`, `builder.rs` |
//!
//! Which endpoint a call goes to, in order: one that is ready (a
//! connection open) and not ejected, preferring those the call's
//! [`Attempt`](super::Attempt) did not use; else one that is connecting
//! (the call waits for it); ejected endpoints only when every endpoint is
//! ejected. Endpoints whose last dial failed are never picked: a refused
//! connection fails fast and looks idle, so a balancer that picked it
//! would send it most calls. Among the candidates, two drawn at random,
//! the lower `latency estimate × (calls in flight + 1)` wins.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! use connect_client::ClientConfig;
//! use connect_client::resilience::balance::{BalancedChannel, DnsResolver, OutlierDetection};
//!
//! let channel = BalancedChannel::builder(DnsResolver::new("greet.internal", 8080))
//!     .connections_per_endpoint(2)
//!     .outlier_detection(OutlierDetection { max_ejection_percent: 30, ..Default::default() })
//!     .build();
//! let config = ClientConfig::new("http://greet.internal:8080".parse()?).grpc();
//! // let client = GreetServiceClient::new(channel, config);
//! # let _ = (channel, config);
//! # Ok(()) }
//! ```

mod backoff;
mod builder;
mod channel;
mod connect;
mod driver;
mod endpoint;
mod future;
mod load;
mod outlier;
mod p2c;
mod resolve;
mod state;

pub use self::backoff::Backoff;
pub use self::builder::{BalancedChannelBuilder, HttpVersion};
pub use self::channel::BalancedChannel;
pub use self::endpoint::{EndpointStatus, Health};
pub use self::future::{BalancedBody, ResponseFuture};
pub use self::outlier::{FailurePercentage, OutlierDetection, SuccessRate};
pub use self::resolve::{
    BoxFuture, DnsResolver, Endpoint, EndpointParseError, ManualResolver, Resolve, StaticResolver,
};

#[cfg(test)]
mod tests;
