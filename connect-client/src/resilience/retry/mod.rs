//! Retries and hedging as gRFC A6 defines them, as a channel layer:
//! [`RetryLayer`] wraps any [`Channel`] in a [`Retry`] that sends a call
//! again when an attempt fails before the call is committed.
//!
//! - **Policies** per method ([`RetryConfig`]): `NO_SIDE_EFFECTS` and
//!   `IDEMPOTENT` methods retry `unavailable` (3 attempts, 100 ms backoff
//!   ×2 up to 1 s, ±20 % jitter); other methods only retry transparently;
//!   hedging is opt-in ([`HedgingPolicy`]).
//! - **Transparent retries**: an attempt the server provably never
//!   processed ([`ConnectError::is_unprocessed`]: refused or failed
//!   connections, `REFUSED_STREAM`, GOAWAY above its last stream) is sent
//!   again at once, for any method, counted against no policy (3 per call
//!   by default).
//! - **Commit**: an attempt whose answer is not an immediately known failure
//!   (a gRPC answer without `grpc-status` in its headers, a Connect 200) is
//!   handed up and never retried. Failures are read where each protocol
//!   puts them: gRPC and gRPC-Web trailers-only headers, the HTTP status,
//!   a Connect unary error body (read up to 64 KiB and handed up again
//!   byte for byte when not retried).
//! - **Throttle** per target: a token bucket shared by the services one
//!   layer makes (100 tokens, 0.1 per success by default); **server
//!   pushback** (`grpc-retry-pushback-ms`, or a `google.rpc.RetryInfo`
//!   detail in a Connect error) is obeyed, and a negative or unreadable one
//!   stops retrying.
//! - **One deadline**: each attempt sends the time left in its timeout
//!   header, no attempt or backoff starts past the deadline, and the call
//!   ends at it.
//! - **Replay**: one-message requests are sent again from the same buffer;
//!   client and bidi streams while what they sent fits 256 KiB per call
//!   and 16 MiB per channel.
//!
//! Each attempt after the first carries `grpc-previous-rpc-attempts` and
//! the [`Attempt`] extension (with the endpoints earlier attempts were
//! served by, from [`ServedBy`]), so a balancer below sends it elsewhere.
//! [`RetryStats`] counts what the layer did.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use connect_client::HttpClient;
//! use connect_client::resilience::retry::{RetryConfig, RetryLayer, RetryPolicy};
//! use tower::ServiceBuilder;
//!
//! let layer = RetryLayer::new(
//!     RetryConfig::new().service("greet.v1.GreetService", RetryPolicy::default().max_attempts(4)),
//! );
//! let stats = layer.stats();
//! let channel = ServiceBuilder::new().layer(layer).service(HttpClient::plaintext());
//! // `channel` goes to `ClientConfig` / a generated client like any channel.
//! # fn is_channel<T: connect_client::Channel>(_: &T) {}
//! # is_channel(&channel);
//! assert_eq!(stats.retries(), 0);
//! # }
//! ```
//!
//! [`ConnectError::is_unprocessed`]: connect_core::ConnectError::is_unprocessed
//! [`Attempt`]: crate::resilience::Attempt
//! [`ServedBy`]: crate::resilience::ServedBy

mod body;
mod call;
mod classify;
mod config;
pub mod future;
mod hedge;
mod peek;
mod policy;
mod pushback;
mod replay;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use connect_layers::ClientBody;
use connect_layers::intercept::method_of;
use tower_layer::Layer;
use tower_service::Service;

pub use self::body::RetryBody;
use self::call::Call;
pub use self::config::RetryConfig;
pub use self::future::ResponseFuture;
use self::hedge::Latencies;
use self::policy::MethodPolicy as Policy;
pub use self::policy::{HedgingDelay, HedgingPolicy, MAX_ATTEMPTS, MethodPolicy, RetryPolicy};
pub use self::pushback::encode_retry_info;
use self::replay::Limits;
use self::stats::Counters;
pub use self::stats::RetryStats;
use self::throttle::Throttle;
use crate::{BoxError, Channel};

mod throttle;

/// What the services of one layer share: the target's throttle, the
/// replay budget, the stats and the hedging latencies.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: RetryConfig,
    pub(crate) throttle: Throttle,
    pub(crate) limits: Limits,
    pub(crate) stats: RetryStats,
    latencies: Mutex<HashMap<&'static str, Arc<Latencies>>>,
}

impl Shared {
    fn new(config: RetryConfig) -> Self {
        Shared {
            throttle: Throttle::new(config.max_tokens, config.token_ratio),
            limits: Limits {
                per_call: config.call_buffer,
                per_channel: config.channel_buffer,
                in_use: Arc::new(AtomicUsize::new(0)),
            },
            stats: RetryStats::default(),
            latencies: Mutex::new(HashMap::new()),
            config,
        }
    }

    /// The latencies of the method at `path`.
    pub(crate) fn latencies(&self, path: &'static str) -> Arc<Latencies> {
        let mut map = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(path)
            .or_insert_with(|| Arc::new(Latencies::new()))
            .clone()
    }
}

/// Layer applying [`Retry`]. The services one layer makes share one
/// throttle, replay budget and [`RetryStats`]: use one layer per target.
///
/// See the [module docs](self) for an example.
#[derive(Clone, Debug)]
#[must_use]
pub struct RetryLayer {
    shared: Arc<Shared>,
}

impl RetryLayer {
    /// Retries and hedging by `config`.
    pub fn new(config: RetryConfig) -> Self {
        RetryLayer {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// The counters of this layer's services.
    pub fn stats(&self) -> RetryStats {
        self.shared.stats.clone()
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Retries and hedges calls over the channel `S` (see the [module
/// docs](self)); its clones share one throttle.
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Retry<S> {
    /// `inner` with retries and hedging by `config`.
    pub fn new(inner: S, config: RetryConfig) -> Self {
        RetryLayer::new(config).layer(inner)
    }

    /// A layer making `Retry`s by `config`.
    pub fn layer(config: RetryConfig) -> RetryLayer {
        RetryLayer::new(config)
    }

    /// The counters of this service and its clones.
    pub fn stats(&self) -> RetryStats {
        self.shared.stats.clone()
    }

    /// The channel.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The channel, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The channel, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<http::Request<ClientBody>> for Retry<S>
where
    S: Channel,
    S::ResponseBody: Unpin,
{
    type Response = http::Response<RetryBody<S::ResponseBody>>;
    type Error = BoxError;
    type Future = ResponseFuture<S>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<ClientBody>) -> Self::Future {
        Counters::bump(&self.shared.stats.inner.attempts);
        let method = method_of(&req);
        let policy = self.shared.config.policy_for(method);
        let retries = match &**policy {
            Policy::Retry(p) => p.max_attempts > 1,
            Policy::Hedge(h) => h.max_attempts > 1,
        };
        let clone = self.inner.clone();
        let mut svc = std::mem::replace(&mut self.inner, clone);
        if !retries && self.shared.config.max_transparent == 0 {
            return ResponseFuture::passthrough(svc.call(req));
        }
        let hedging = match &**policy {
            Policy::Hedge(h) if h.max_attempts > 1 && !req.body().is_stream() => Some(h.clone()),
            _ => None,
        };
        let policy = policy.clone();
        let shared = self.shared.clone();
        match hedging {
            Some(h) => {
                let (call, first) = Call::new(svc, shared, policy, method, req);
                ResponseFuture::slow(Box::pin(hedge::hedge(call, h, first)))
            }
            None => {
                let (call, first) = Call::new(svc.clone(), shared, policy, method, req);
                ResponseFuture::first(svc.call(first), call)
            }
        }
    }
}
