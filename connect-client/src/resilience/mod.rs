//! Calls across many servers: a balanced channel over endpoints, and
//! retries and hedging above it (gRFC A6), as tower layers over any
//! channel.
//!
//! The layers meet through two extensions, so each works alone over any
//! channel and both work together:
//!
//! - [`Attempt`], on each request the retry layer sends: which attempt of
//!   the call this is, and the endpoints earlier attempts went to (a
//!   balancer avoids them when it can, so a retry or a hedge goes to
//!   another server);
//! - [`ServedBy`], on each response (and [`ConnectError`] metadata is not
//!   touched): the endpoint that answered, set by the balancer.
//!
//! [`ConnectError::is_unprocessed`] marks failures where the request
//! provably never reached the server's application; the transports set it
//! and the retry layer retries those transparently.
//!
//! [`ConnectError`]: connect_core::ConnectError
//! [`ConnectError::is_unprocessed`]: connect_core::ConnectError::is_unprocessed

use std::net::SocketAddr;

pub mod balance;

pub use self::balance::{BalancedChannel, BalancedChannelBuilder, Endpoint, Resolve};

/// The endpoint that answered a request: a response extension set by a
/// balancing channel.
///
/// ```
/// use connect_client::resilience::ServedBy;
///
/// let mut resp = http::Response::new(());
/// resp.extensions_mut().insert(ServedBy("127.0.0.1:8080".parse().unwrap()));
/// assert_eq!(resp.extensions().get::<ServedBy>().unwrap().0.port(), 8080);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServedBy(pub SocketAddr);

/// Which attempt of a call a request is: a request extension set by the
/// retry layer on every attempt after the first (the first carries none,
/// so a call that is never retried costs nothing).
///
/// ```
/// use connect_client::resilience::Attempt;
///
/// let attempt = Attempt { number: 2, avoid: vec!["127.0.0.1:8080".parse().unwrap()] };
/// assert_eq!(attempt.previous_attempts(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt, 2 for the first retry or hedge, ...
    pub number: u32,
    /// Endpoints that earlier attempts of this call went to: a balancer
    /// picks another when one is ready.
    pub avoid: Vec<SocketAddr>,
}

impl Attempt {
    /// How many attempts were sent before this one (what
    /// `grpc-previous-rpc-attempts` says).
    pub fn previous_attempts(&self) -> u32 {
        self.number.saturating_sub(1)
    }
}

pub mod retry;

pub use retry::{RetryConfig, RetryLayer, RetryStats};
